// The one entry point every fuzz target in tests/fuzz defines, declared
// once so the libFuzzer build and the corpus replay (replay_main.cpp) call
// the same function. A target never returns non-zero and never catches what
// the code under test throws: an escaping exception, a failed invariant
// (fuzz_require) or a sanitizer report is the crash libFuzzer records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace procd::fuzz {

// An invariant of the code under test; abort() so both libFuzzer and the
// replay test see a crash (assert() would vanish under NDEBUG).
inline void fuzz_require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
  std::abort();
}

}  // namespace procd::fuzz
