// env_file reading and parsing (see include/procd/env_file.hpp for the
// format). Owned by src/config so validation and the spawn path read a file
// with the same rules: what `procd check` accepts, a spawn accepts.
// Invariants: the file is opened O_NOFOLLOW | O_NONBLOCK (a symlink planted
// where procd, as root, reads is refused; a FIFO cannot block the loop) and
// must be a regular file; every fd opened here is closed on every path.
#include "procd/env_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "procd/file_io.hpp"

namespace procd {
namespace {

constexpr std::size_t kMaxEnvFileBytes = std::size_t{1} << 20;

constexpr const char* kBlank = " \t\r";

std::string_view trim(std::string_view s) {
  std::size_t b = s.find_first_not_of(kBlank);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kBlank) - b + 1);
}

// `"a\"b"` -> `a"b` (\\, \", \n, \t escapes); `'x'` -> `x` literally.
std::string unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') return std::string(v.substr(1, v.size() - 2));
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  v = v.substr(1, v.size() - 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\' || i + 1 == v.size()) {
      out.push_back(v[i]);
      continue;
    }
    char c = v[++i];
    out.push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c);
  }
  return out;
}

Error read_error(Code code, const std::string& path, std::string_view why) {
  return make_error(code, fmt::format("cannot read env_file {}: {}", path, why));
}

}  // namespace

Result<EnvVars> parse_env_file_text(std::string_view text, const std::string& path) {
  EnvVars vars;
  std::string_view rest = text;
  for (int lineno = 1; !rest.empty(); ++lineno) {
    std::size_t nl = rest.find('\n');
    std::string_view raw = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const int column = static_cast<int>(raw.find_first_not_of(kBlank)) + 1;
    if (line.starts_with("export ") || line.starts_with("export\t")) line = trim(line.substr(7));
    std::size_t eq = line.find('=');
    std::string_view key = eq == std::string_view::npos ? std::string_view{} : trim(line.substr(0, eq));
    if (key.empty() || key.find_first_of(" \t") != std::string_view::npos) {
      // The line is not quoted: it may hold a secret. file:line:col says where.
      Error e = make_error(Code::ConfigInvalidValue, "env_file: expected KEY=VALUE (the line is not shown)");
      e.where = Location{path, lineno, column};
      return e;
    }
    vars.emplace_back(std::string(key), unquote(trim(line.substr(eq + 1))));
  }
  return vars;
}

Result<EnvVars> read_env_file(const std::string& path) {
  // No symlink, a regular file, non-blocking, at most 1 MiB (read_bounded).
  auto data = read_bounded(path, ReadPolicy{kMaxEnvFileBytes, false, true});
  if (!data.ok()) return read_error(data.error().code, path, data.error().message);
  return parse_env_file_text(*data, path);
}

}  // namespace procd
