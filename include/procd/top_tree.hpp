// `procd top`'s tree of dependencies (the `t` key): the shown services
// ordered so that each one comes under the service it depends on, as a pure
// function of the names and their depends_on (as written in the config).
// A dependency that names a replicated service (web) stands for its
// instances (web@0, web@1, ...). A service is drawn once, under the first
// shown service it depends on; the others it depends on are listed beside
// it, "(also under cache)". A service whose dependencies are not shown (the
// filter, or one procd does not have) is a root. Invariants: every name
// comes out exactly once, in input order among siblings; no row is deeper
// than max_depth (a deeper one, or a cycle, which the config refuses
// anyway, is drawn as a root that says "(under X)"); no recursion beyond it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace procd {

inline constexpr std::size_t kTopTreeDepth = 16;

struct TopTreeRow {
  std::string name;
  std::size_t depth = 0;            // 0: a root
  std::vector<bool> rails;          // depth-1 levels above its parent: a later sibling follows there
  bool last = true;                 // the last child of its parent
  std::vector<std::string> also;    // the other shown services it depends on
};

using TopDepends = std::map<std::string, std::vector<std::string>>;

std::vector<TopTreeRow> top_tree(const std::vector<std::string>& names, const TopDepends& depends_on,
                                 std::size_t max_depth = kTopTreeDepth);

// The NAME cell: the tree's glyphs ("├─ ", "│  ", "└─ "; with ascii
// "|- ", "|  ", "`- "), the name, then "  (also under a, b)" (a root: "  (under a)").
std::string top_tree_label(const TopTreeRow& row, bool ascii);

}  // namespace procd
