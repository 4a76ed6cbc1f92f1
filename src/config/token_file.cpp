// read_token_file (procd/token_file.hpp): read_bounded (no symlink, a
// regular file, non-blocking, at most 4 KiB), owned by procd's effective
// uid and private (checked on the fd that was read), whitespace trimmed.
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
  struct stat st {};
  auto data = read_bounded(path, ReadPolicy{kMaxBytes, false, true}, &st);
  if (!data.ok()) return fail(data.error().message);
  // Anyone who can read the token can stop every service: the file is
  // procd's own, and no one else's to read.
  if (st.st_uid != ::geteuid())
    return make_error(Code::ConfigTokenFileUnsafe, fmt::format("http_token_file {}: owned by uid {}, not by procd's uid {} (chown it)",
                                                                path, st.st_uid, ::geteuid()));
  if ((st.st_mode & 077) != 0)
    return make_error(Code::ConfigTokenFileUnsafe,
                      fmt::format("http_token_file {}: mode {:o} lets others read it (chmod 600 it)", path, st.st_mode & 0777));
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
