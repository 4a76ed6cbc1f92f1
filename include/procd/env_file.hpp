// env_file ([services.NAME] env_file): KEY=VALUE lines, read when a service
// is spawned and also checked by validation, so `procd check` rejects any
// file the spawn would. Blank lines and `#` comments are skipped, an
// optional `export ` prefix is dropped, whitespace around key and value is
// trimmed, and a value in "double quotes" (\\ \" \n \t escapes) or 'single
// quotes' (literal) is unquoted. Variables come back in file order; a later
// definition of a key wins when they are applied.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procd/error.hpp"

namespace procd {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// Pure: a malformed line is ConfigInvalidValue located at path:LINE:COL.
Result<EnvVars> parse_env_file_text(std::string_view text, const std::string& path);

// Opens without following a symlink (and without blocking on a FIFO), insists
// on a regular file (IoOpen otherwise; IoRead on a read error), then parses.
Result<EnvVars> read_env_file(const std::string& path);

}  // namespace procd
