// The page GET / answers: one self-contained HTML document (CSS and JS
// inline, no external assets: it works offline in a container). It reads
// /status and /history and follows /events; it changes nothing.
#pragma once

#include <string_view>

namespace procd {

std::string_view dashboard_html();

}  // namespace procd
