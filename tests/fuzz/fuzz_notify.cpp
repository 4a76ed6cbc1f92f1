// Fuzz target: parse_notify_message(), the sd_notify datagram parser (any
// process that can write to NOTIFY_SOCKET reaches it). Invariants: no key
// is empty or holds '=' or '\n', no value holds '\n', and every field comes
// from some line of the datagram.
#include <string>
#include <string_view>

#include "fuzz_target.hpp"
#include "procd/notify.hpp"

using procd::fuzz::fuzz_require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view datagram(reinterpret_cast<const char*>(data), size);
  auto fields = procd::parse_notify_message(datagram);
  for (const auto& [key, value] : fields) {
    fuzz_require(!key.empty(), "keys are not empty");
    fuzz_require(key.find_first_of("=\n") == std::string::npos, "keys hold no '=' or newline");
    fuzz_require(value.find('\n') == std::string::npos, "values hold no newline");
    fuzz_require(datagram.find(key + "=" + value) != std::string_view::npos, "a field is a line of the datagram");
  }
  return 0;
}
