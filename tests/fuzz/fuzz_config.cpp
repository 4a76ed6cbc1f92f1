// Fuzz target: the config loader, TOML text -> load_config_text() with
// validation, ${...} interpolation and PROCD_ environment overrides from a
// fixed environment (so a crash reproduces without the fuzzer's own
// environment). `include` is checked but no file is read (the input must
// be the whole case). Invariants: the
// loader never throws, and a failed load carries at least one error whose
// message formats.
#include <string>
#include <vector>

#include "fuzz_target.hpp"
#include "procd/config_load.hpp"

using procd::fuzz::fuzz_require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::string> environment = {
      "PATH=/usr/bin:/bin",
      "PORT=8080",
      "EMPTY=",
      "PROCD_LOGGING__LEVEL=debug",
      "PROCD_SHUTDOWN__GRACEFUL=2000",
      "PROCD_SERVICES__WEB__RESTART__POLICY=always",
      "PROCD_SERVICES__WEB__STOP_TIMEOUT_MS=5",
      "PROCD_SERVICES__WORKER__HEALTH__TCP=127.0.0.1:1",
  };
  procd::LoadOptions opts;
  opts.environment = &environment;
  opts.as_root = false;  // never consult the user database for `user`
  opts.follow_includes = false;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto result = procd::load_config_text(text, "fuzz.toml", opts);
  fuzz_require(result.ok() || !result.errors.empty(), "a failed load reports an error");
  for (const auto& e : result.errors) fuzz_require(!e.format().empty(), "an error formats to text");
  if (result.ok()) {
    for (const auto& svc : result.config->services) fuzz_require(!svc.command.empty(), "a valid service has argv");
  }
  return 0;
}
