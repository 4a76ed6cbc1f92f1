// The dependency graph between services, as pure data: built from each
// service's depends_on, it answers start order (dependencies first, file
// order among services that are ready at the same time), stop order (the
// reverse), and where a cycle is. Dependencies on unknown services are kept
// out of the edges (validation reports them); nothing here does I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "procd/config.hpp"

namespace procd {

class DepGraph {
 public:
  struct Node {
    std::string name;
    std::vector<std::string> depends_on;  // names, possibly unknown
  };

  DepGraph() = default;
  // Nodes in file order; that order breaks ties in start_order().
  explicit DepGraph(std::vector<Node> nodes);
  static DepGraph from_services(const std::vector<ServiceConfig>& services);

  std::size_t size() const { return nodes_.size(); }
  bool contains(const std::string& name) const { return index_of(name).has_value(); }
  const std::vector<Node>& nodes() const { return nodes_; }

  // Known services `name` depends on, in declaration order (deduplicated).
  std::vector<std::string> dependencies_of(const std::string& name) const;
  // Known services that depend on `name`, in file order.
  std::vector<std::string> dependents_of(const std::string& name) const;
  // (service, missing dependency) pairs, in file order.
  std::vector<std::pair<std::string, std::string>> unknown_dependencies() const;

  // The first cycle found (searching from services in file order), as a
  // closed path: {"a", "b", "a"} for a -> b -> a; a self-dependency is
  // {"a", "a"}. nullopt when the graph is acyclic.
  std::optional<std::vector<std::string>> find_cycle() const;

  // Every service, each after all its dependencies; among services whose
  // dependencies are all placed, the earliest in file order goes first.
  // Services on or behind a cycle are appended at the end in file order
  // (validation rejects cycles; this keeps the function total).
  std::vector<std::string> start_order() const;
  // start_order() reversed: dependents stop before their dependencies.
  std::vector<std::string> stop_order() const;

 private:
  std::optional<std::size_t> index_of(const std::string& name) const;
  std::vector<Node> nodes_;
  std::vector<std::vector<std::size_t>> edges_;  // node -> known dependency indices
};

// " -> "-joined path: "a -> b -> a".
std::string format_cycle(const std::vector<std::string>& cycle);

}  // namespace procd
