// Fuzz target: shell_split(), the `command = "..."` word splitter.
// Invariant: splitting is a fixed point of quoting: every word it returns,
// single-quoted and joined with blanks, splits back to the same words.
#include <string>
#include <vector>

#include "fuzz_target.hpp"
#include "procd/config_load.hpp"

using procd::fuzz::fuzz_require;

namespace {

std::string single_quoted(const std::string& word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";  // close, escaped quote, reopen
    else
      out += c;
  }
  out += '\'';
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string command(reinterpret_cast<const char*>(data), size);
  auto words = procd::shell_split(command);
  if (!words) {
    fuzz_require(words.error().code == procd::Code::ConfigCommandSyntax, "split errors are ConfigCommandSyntax");
    return 0;
  }
  std::string requoted;
  for (const auto& w : *words) {
    if (!requoted.empty()) requoted += ' ';
    requoted += single_quoted(w);
  }
  auto again = procd::shell_split(requoted);
  fuzz_require(again.ok(), "re-quoted words split");
  fuzz_require(*again == *words, "re-quoted words split to the same words");
  return 0;
}
