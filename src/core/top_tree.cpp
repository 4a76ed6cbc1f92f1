// top_tree: see top_tree.hpp. Each name's parent is the first shown service
// its dependencies resolve to; a depth-first walk from the roots (those
// without a shown parent) places the children in input order, stopping at
// max_depth; whatever the walk did not reach (a cycle, a chain too deep)
// is placed afterwards as a root of its own.
#include "procd/top_tree.hpp"

#include <algorithm>
#include <set>

namespace procd {
namespace {

bool is_instance_of(const std::string& name, const std::string& group) {
  if (name.size() < group.size() + 2 || name.compare(0, group.size(), group) != 0 || name[group.size()] != '@') return false;
  return std::all_of(name.begin() + static_cast<long>(group.size()) + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct Walk {
  const std::vector<std::string>& names;
  std::map<std::string, std::string> parent;
  std::map<std::string, std::vector<std::string>> also, children;
  std::set<std::string> placed;
  std::vector<TopTreeRow> out;
  std::size_t max_depth;

  void place(const std::string& name, std::size_t depth, std::vector<bool> rails, bool last) {
    placed.insert(name);
    out.push_back({name, depth, rails, last, also[name]});
    if (depth >= max_depth) return;
    if (depth > 0) rails.push_back(!last);
    std::vector<std::string> kids;
    for (const auto& k : children[name])
      if (!placed.count(k)) kids.push_back(k);
    for (std::size_t i = 0; i < kids.size(); ++i)
      if (!placed.count(kids[i])) place(kids[i], depth + 1, rails, i + 1 == kids.size());
  }
};

}  // namespace

std::vector<TopTreeRow> top_tree(const std::vector<std::string>& names, const TopDepends& depends_on, std::size_t max_depth) {
  Walk w{names, {}, {}, {}, {}, {}, max_depth};
  const std::set<std::string> shown(names.begin(), names.end());
  for (const auto& n : names) {
    auto it = depends_on.find(n);
    if (it == depends_on.end()) continue;
    for (const auto& d : it->second) {
      std::vector<std::string> targets;
      if (shown.count(d)) targets.push_back(d);
      else
        for (const auto& m : names)
          if (is_instance_of(m, d)) targets.push_back(m);
      for (const auto& t : targets) {
        auto& also = w.also[n];
        if (t == n || t == w.parent[n] || std::find(also.begin(), also.end(), t) != also.end()) continue;
        if (w.parent[n].empty()) w.parent[n] = t;
        else also.push_back(t);
      }
    }
  }
  for (const auto& n : names)
    if (!w.parent[n].empty()) w.children[w.parent[n]].push_back(n);
  for (const auto& n : names)
    if (w.parent[n].empty()) w.place(n, 0, {}, true);
  // Not reached from a root: a cycle, or below max_depth. A root that says what it is under.
  for (const auto& n : names) {
    if (w.placed.count(n)) continue;
    w.also[n].insert(w.also[n].begin(), w.parent[n]);
    w.place(n, 0, {}, true);
  }
  return w.out;
}

std::string top_tree_label(const TopTreeRow& row, bool ascii) {
  std::string label;
  for (bool rail : row.rails) label += rail ? (ascii ? "|  " : "\u2502  ") : "   ";
  if (row.depth > 0) label += row.last ? (ascii ? "`- " : "\u2514\u2500 ") : (ascii ? "|- " : "\u251c\u2500 ");
  label += row.name;
  for (std::size_t i = 0; i < row.also.size(); ++i)
    label += (i ? ", " : row.depth > 0 ? "  (also under " : "  (under ") + row.also[i];
  if (!row.also.empty()) label += ")";
  return label;
}

}  // namespace procd
