// DepGraph: stable topological start order, stop order, cycle paths.
#include <doctest/doctest.h>

#include "procd/dep_graph.hpp"

using namespace procd;
using Names = std::vector<std::string>;

TEST_CASE("dep_graph: no dependencies keeps file order") {
  DepGraph g({{"c", {}}, {"a", {}}, {"b", {}}});
  CHECK(g.start_order() == Names{"c", "a", "b"});
  CHECK(g.stop_order() == Names{"b", "a", "c"});
  CHECK_FALSE(g.find_cycle());
}

TEST_CASE("dep_graph: dependencies first, file order among ready ones") {
  // web needs migrate and db; migrate needs db; worker is free.
  DepGraph g({{"web", {"migrate", "db"}}, {"worker", {}}, {"migrate", {"db"}}, {"db", {}}});
  CHECK(g.start_order() == Names{"worker", "db", "migrate", "web"});
  CHECK(g.stop_order() == Names{"web", "migrate", "db", "worker"});
  CHECK(g.dependencies_of("web") == Names{"migrate", "db"});
  CHECK(g.dependents_of("db") == Names{"web", "migrate"});
}

TEST_CASE("dep_graph: diamond") {
  DepGraph g({{"top", {"left", "right"}}, {"left", {"base"}}, {"right", {"base"}}, {"base", {}}});
  CHECK(g.start_order() == Names{"base", "left", "right", "top"});
}

TEST_CASE("dep_graph: unknown dependencies are listed, not edges") {
  DepGraph g({{"a", {"ghost"}}, {"b", {"a"}}});
  CHECK(g.unknown_dependencies() == std::vector<std::pair<std::string, std::string>>{{"a", "ghost"}});
  CHECK(g.start_order() == Names{"a", "b"});
  CHECK(g.dependencies_of("a").empty());
}

TEST_CASE("dep_graph: two-node cycle printed as a closed path") {
  DepGraph g({{"a", {"b"}}, {"b", {"a"}}});
  auto cycle = g.find_cycle();
  REQUIRE(cycle);
  CHECK(*cycle == Names{"a", "b", "a"});
  CHECK(format_cycle(*cycle) == "a -> b -> a");
}

TEST_CASE("dep_graph: self dependency and a cycle behind a prefix") {
  CHECK(*DepGraph(std::vector<DepGraph::Node>{{"a", {"a"}}}).find_cycle() == Names{"a", "a"});
  DepGraph g({{"start", {"x"}}, {"x", {"y"}}, {"y", {"z"}}, {"z", {"x"}}});
  CHECK(format_cycle(*g.find_cycle()) == "x -> y -> z -> x");
  // Total even with a cycle: acyclic part first, the rest in file order.
  DepGraph h({{"free", {}}, {"a", {"b"}}, {"b", {"a"}}});
  CHECK(h.start_order() == Names{"free", "a", "b"});
}

TEST_CASE("dep_graph: from_services uses depends_on names") {
  std::vector<ServiceConfig> services(2);
  services[0].name = "web";
  services[0].depends_on = {{"db", DependCondition::Ready}};
  services[1].name = "db";
  auto g = DepGraph::from_services(services);
  CHECK(g.size() == 2);
  CHECK(g.start_order() == Names{"db", "web"});
}

TEST_CASE("dep_graph: a long chain does not recurse") {
  std::vector<DepGraph::Node> nodes;
  // append(), not "s" + string: that operator+ makes GCC 12 -O3 warn -Wrestrict.
  auto name = [](int i) { return std::string("s").append(std::to_string(i)); };
  for (int i = 0; i < 5000; ++i) nodes.push_back({name(i), i ? Names{name(i - 1)} : Names{}});
  nodes[0].depends_on = {"s4999"};
  auto cycle = DepGraph(nodes).find_cycle();
  REQUIRE(cycle);
  CHECK(cycle->size() == 5001);
}
