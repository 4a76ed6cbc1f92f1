// The page GET / answers: one self-contained HTML document (CSS and JS
// inline, no external assets: it works offline in a container). It reads
// /status and /history and follows /events; it changes nothing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace procd {

std::string_view dashboard_html();
// The page with `initial` ({"status": /status, "history": /history}) in it.
std::string dashboard_page(const nlohmann::json& initial);

}  // namespace procd
