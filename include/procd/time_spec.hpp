// `procd logs --since WHEN`: WHEN as a wall-clock time in ms since the epoch.
// Pure (the caller gives "now").
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace procd {

// "90s", "10m", "2h", "1d", "500ms" (that long before now_ms), or a UTC time
// as procd's log lines print it: "2026-12-06T21:57:23Z", with or without
// ".mmm" and the "Z". nullopt when it is neither.
std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_ms);

}  // namespace procd
