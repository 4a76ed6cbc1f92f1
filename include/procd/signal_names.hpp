// Signal names <-> numbers ("SIGTERM", "TERM", "15" all accepted).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace procd {

std::optional<int> parse_signal(std::string_view name);
// "SIGTERM" for 15; "SIG<n>" when unknown.
std::string signal_name(int sig);

}  // namespace procd
