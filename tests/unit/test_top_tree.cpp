// The tree of dependencies of `procd top` (`t`): each service under the one
// it depends on, the others listed beside it, replicas' instances under
// their dependency, glyphs with an ASCII fallback, and the walk bounded.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "procd/top_model.hpp"
#include "procd/top_tree.hpp"

using namespace procd;

namespace {

std::vector<std::string> labels(const std::vector<TopTreeRow>& rows, bool ascii) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(top_tree_label(r, ascii));
  return out;
}

}  // namespace

TEST_CASE("top tree: under the first dependency, the others beside it, siblings in input order") {
  TopDepends deps{{"api", {"db", "cache"}}, {"web", {"api"}}, {"worker", {"db"}}};
  auto rows = top_tree({"db", "cache", "api", "web", "worker"}, deps);
  CHECK(labels(rows, false) == std::vector<std::string>{"db", "\u251c\u2500 api  (also under cache)", "\u2502  \u2514\u2500 web",
                                                        "\u2514\u2500 worker", "cache"});
  CHECK(labels(rows, true) == std::vector<std::string>{"db", "|- api  (also under cache)", "|  `- web", "`- worker", "cache"});
  CHECK(rows[2].depth == 2);
  CHECK(rows[4].depth == 0);
}

TEST_CASE("top tree: a replicated dependency stands for its instances; instances are children of theirs") {
  TopDepends deps{{"web@0", {"db"}}, {"web@1", {"db"}}, {"worker", {"web"}}, {"webby", {"db"}}};
  auto rows = top_tree({"db", "web@0", "web@1", "webby", "worker"}, deps);
  CHECK(labels(rows, true) ==
        std::vector<std::string>{"db", "|- web@0", "|  `- worker  (also under web@1)", "|- web@1", "`- webby"});
}

TEST_CASE("top tree: a dependency not shown (filtered out, unknown) leaves a root") {
  TopDepends deps{{"api", {"db"}}, {"web", {"api", "nothere"}}};
  auto rows = top_tree({"api", "web"}, deps);
  CHECK(labels(rows, true) == std::vector<std::string>{"api", "`- web"});
  CHECK(labels(top_tree({"web"}, deps), true) == std::vector<std::string>{"web"});
}

TEST_CASE("top tree: a cycle and a chain deeper than the bound: every name once, no row deeper") {
  TopDepends cycle{{"a", {"b"}}, {"b", {"a"}}, {"self", {"self"}}};
  CHECK(labels(top_tree({"a", "b", "self"}, cycle), true) == std::vector<std::string>{"self", "a  (under b)", "`- b"});
  std::vector<std::string> chain;
  TopDepends deps;
  for (int i = 0; i < 40; ++i) {
    chain.push_back("s" + std::to_string(i));
    if (i) deps[chain.back()] = {chain[static_cast<std::size_t>(i - 1)]};
  }
  auto rows = top_tree(chain, deps, 16);
  REQUIRE(rows.size() == 40);
  std::size_t deepest = 0;
  for (const auto& r : rows) deepest = std::max(deepest, r.depth);
  CHECK(deepest == 16);
  CHECK(rows[17].name == "s17");
  CHECK(rows[17].depth == 0);
  CHECK(top_tree_label(rows[17], true) == "s17  (under s16)");
}

TEST_CASE("top: t toggles the tree; the selection stays; the filter applies first; ? lists t") {
  TopModel m;
  m.set_services({"web", "db", "api"}, {{"web", {"api"}}, {"api", {"db"}}});
  CHECK(m.selected() == "web");
  CHECK_FALSE(m.tree());
  CHECK(m.on_key('t').verb == TopVerb::None);
  CHECK(m.tree());
  CHECK(m.shown() == std::vector<std::string>{"db", "api", "web"});
  CHECK(m.selected() == "web");
  CHECK(m.selected_row() == 2);
  REQUIRE(m.tree_rows().size() == 3);
  CHECK(m.tree_rows()[2].depth == 2);
  CHECK(m.on_key('k').service == "api");
  // A new snapshot keeps the tree.
  m.set_services({"web", "db", "api", "new"}, {{"web", {"api"}}, {"api", {"db"}}, {"new", {"db"}}});
  CHECK(m.shown() == std::vector<std::string>{"db", "api", "web", "new"});
  // Filtered: web's dependency is hidden, so web is a root.
  m.on_key('f');
  for (char c : std::string("w")) m.on_key(c);
  m.on_key(top_key::Enter);
  CHECK(m.shown() == std::vector<std::string>{"web", "new"});
  CHECK(m.tree_rows()[0].depth == 0);
  m.on_key('t');
  CHECK_FALSE(m.tree());
  CHECK(m.tree_rows().empty());
  bool listed = false;
  for (const auto& l : top_help_lines()) listed = listed || l.rfind("t ", 0) == 0;
  CHECK(listed);
}
