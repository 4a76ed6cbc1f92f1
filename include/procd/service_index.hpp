// The Supervisor's indexes over its services, rebuilt whenever the set of
// services or their depends_on changed (start, reload, removal): by name,
// the dependency graph (start order), the stop sequence (reverse
// dependency order) with each entry's dependents, and each service's
// dependents list.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "procd/dep_graph.hpp"
#include "procd/service.hpp"

namespace procd {

struct ServiceIndex {
  std::unordered_map<std::string, Service*> by_name;
  DepGraph graph;
  std::vector<Service*> stop_sequence;                   // reverse dependency order
  std::vector<std::vector<std::size_t>> stop_dependents;  // per stop_sequence entry: its dependents' positions

  void rebuild(const std::vector<std::unique_ptr<Service>>& services);
  Service* find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }
};

}  // namespace procd
