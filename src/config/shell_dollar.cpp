// `check`'s warning 1047 (see interpolate.hpp): interpolation runs before
// the shell, so in `sh -c SCRIPT` a `$$` reaches the shell as `$` and a
// `${NAME}` is procd's, not the shell's. Pure: argv as written in the file.
#include <string_view>

#include "src/config/interpolate.hpp"

namespace procd::config_detail {
namespace {

bool is_shell(std::string_view word) {
  if (auto slash = word.rfind('/'); slash != std::string_view::npos) word.remove_prefix(slash + 1);
  for (std::string_view sh : {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"})
    if (word == sh) return true;
  return false;
}

// The script of `SHELL [-opts] -c SCRIPT ...`, or nullptr.
const std::string* shell_script(const std::vector<std::string>& argv) {
  if (argv.size() < 3 || !is_shell(argv[0])) return nullptr;
  for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
    std::string_view a = argv[i];
    if (a.size() < 2 || a[0] != '-' || a[1] == '-') return nullptr;  // a script file, or a long option
    if (a.find('c') != std::string_view::npos) return &argv[i + 1];
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> shell_dollar_warnings(const std::vector<std::string>& argv) {
  const std::string* script = shell_script(argv);
  if (script == nullptr) return {};
  bool pair = false, brace = false;
  const std::string& s = *script;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '$') {
      ++i;
      continue;
    }
    std::size_t run = 0;
    while (i + run < s.size() && s[i + run] == '$') ++run;
    i += run;
    bool before_brace = i < s.size() && s[i] == '{';
    if (before_brace && run % 2 == 1) brace = true;  // the last `$` opens procd's ${...}
    if (!before_brace && (run / 2) % 2 == 1) pair = true;  // an odd number of `$$`: the shell's `$$` is lost
  }
  std::vector<std::string> out;
  if (pair)
    out.push_back("in this shell script procd turns `$$` into `$` before the shell runs it; "
                  "write `$$$$` for the shell's `$$`");
  if (brace)
    out.push_back("in this shell script procd replaces `${...}` itself when it loads the config; "
                  "write `$${NAME}` for the shell to expand it");
  return out;
}

}  // namespace procd::config_detail
