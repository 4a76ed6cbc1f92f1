// read_token_file (procd/token_file.hpp): read_bounded (no symlink, a
// regular file, non-blocking, at most 4 KiB), whitespace trimmed.
#include "procd/token_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "procd/file_io.hpp"

namespace procd {

Result<std::string> read_token_file(const std::string& path) {
  constexpr std::size_t kMaxBytes = 4096;
  auto fail = [&](const std::string& why) {
    return make_error(Code::ConfigTokenFile, fmt::format("http_token_file {}: {}", path, why));
  };
  auto data = read_bounded(path, ReadPolicy{kMaxBytes, false, true});
  if (!data.ok()) return fail(data.error().message);
  std::string token = trim_token(*data);
  if (token.empty()) return fail("is empty");
  return token;
}

std::string trim_token(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace procd
