// The bearer token of the HTTP endpoint's mutating requests
// ([control].http_token_file). Read like every file procd may open as root
// in a place others can write: without following a symlink, non-blocking
// (a FIFO cannot hang the loop), a regular file only, at most 4 KiB.
#pragma once

#include <string>
#include <string_view>

#include "procd/error.hpp"

namespace procd {

// The token: the file's content without surrounding whitespace. Errors
// (ConfigTokenFile): unreadable, a symlink, not a regular file, too large, empty;
// (ConfigTokenFileUnsafe): not owned by procd's effective uid, or group or
// world may read or write it (mode & 077).
Result<std::string> read_token_file(const std::string& path);

// The content of a token file, without surrounding whitespace.
std::string trim_token(std::string_view text);

}  // namespace procd
