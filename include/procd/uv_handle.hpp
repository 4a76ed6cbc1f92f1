// Thin RAII over libuv handles. A handle's memory is owned by libuv from
// uv_*_init until its close callback runs: UvHandle<T> heap-allocates the
// uv struct, and its destructor (or close()) calls uv_close with a callback
// that deletes it — never before. `data` points back at the owner so every
// callback is a short trampoline.
#pragma once

#include <uv.h>

#include <utility>

namespace procd {

template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  explicit UvHandle(void* owner) : h_(new T{}) { h_->data = owner; }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  UvHandle& operator=(UvHandle&& o) noexcept {
    if (this != &o) {
      close();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~UvHandle() { close(); }

  T* get() const { return h_; }
  T* operator->() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

  // Allocate a fresh handle (closing any previous one); caller runs uv_*_init on get().
  T* reset(void* owner) {
    close();
    h_ = new T{};
    h_->data = owner;
    return h_;
  }

  // Hand the handle to uv_close; its memory is freed in the close callback.
  void close() {
    if (!h_) return;
    auto* h = reinterpret_cast<uv_handle_t*>(std::exchange(h_, nullptr));
    h->data = nullptr;
    if (h->loop == nullptr) {  // never initialised: libuv does not know it
      delete reinterpret_cast<T*>(h);
      return;
    }
    if (!uv_is_closing(h)) uv_close(h, [](uv_handle_t* x) { delete reinterpret_cast<T*>(x); });
  }

 private:
  T* h_ = nullptr;
};

using UvTimer = UvHandle<uv_timer_t>;
using UvSignal = UvHandle<uv_signal_t>;
using UvPipe = UvHandle<uv_pipe_t>;

template <typename Owner, typename H>
Owner* owner_of(H* handle) {
  return static_cast<Owner*>(handle->data);
}

}  // namespace procd
