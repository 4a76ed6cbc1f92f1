// Dependency graph algorithms: Kahn's topological sort with a file-order
// tie break (so start order is stable and predictable for users), and a
// three-colour DFS that returns the first cycle as a closed path. Indices
// into nodes_ are used internally; names only at the API boundary.
#include "procd/dep_graph.hpp"

#include <functional>
#include <queue>

#include <algorithm>

namespace procd {

DepGraph::DepGraph(std::vector<Node> nodes) : nodes_(std::move(nodes)) {
  edges_.resize(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (const auto& dep : nodes_[i].depends_on) {
      auto j = index_of(dep);
      if (!j) continue;
      auto& out = edges_[i];
      if (std::find(out.begin(), out.end(), *j) == out.end()) out.push_back(*j);
    }
  }
}

DepGraph DepGraph::from_services(const std::vector<ServiceConfig>& services) {
  std::vector<Node> nodes;
  nodes.reserve(services.size());
  for (const auto& svc : services) {
    Node node{svc.name, {}};
    for (const auto& dep : svc.depends_on) node.depends_on.push_back(dep.service);
    nodes.push_back(std::move(node));
  }
  return DepGraph(std::move(nodes));
}

std::optional<std::size_t> DepGraph::index_of(const std::string& name) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].name == name) return i;
  }
  return std::nullopt;
}

std::vector<std::string> DepGraph::dependencies_of(const std::string& name) const {
  std::vector<std::string> out;
  if (auto i = index_of(name)) {
    for (auto j : edges_[*i]) out.push_back(nodes_[j].name);
  }
  return out;
}

std::vector<std::string> DepGraph::dependents_of(const std::string& name) const {
  std::vector<std::string> out;
  auto target = index_of(name);
  if (!target) return out;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (std::find(edges_[i].begin(), edges_[i].end(), *target) != edges_[i].end()) out.push_back(nodes_[i].name);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> DepGraph::unknown_dependencies() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& node : nodes_) {
    for (const auto& dep : node.depends_on) {
      if (!contains(dep)) out.emplace_back(node.name, dep);
    }
  }
  return out;
}

std::optional<std::vector<std::string>> DepGraph::find_cycle() const {
  enum class Mark { Unvisited, OnPath, Done };
  std::vector<Mark> mark(nodes_.size(), Mark::Unvisited);
  std::vector<std::size_t> path;

  // Iterative DFS: (node, next edge to try) frames, so deep chains cannot
  // overflow the stack.
  for (std::size_t root = 0; root < nodes_.size(); ++root) {
    if (mark[root] != Mark::Unvisited) continue;
    std::vector<std::pair<std::size_t, std::size_t>> stack{{root, 0}};
    mark[root] = Mark::OnPath;
    path.assign(1, root);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == edges_[node].size()) {
        mark[node] = Mark::Done;
        path.pop_back();
        stack.pop_back();
        continue;
      }
      std::size_t dep = edges_[node][next++];
      if (mark[dep] == Mark::OnPath) {
        auto start = std::find(path.begin(), path.end(), dep);
        std::vector<std::string> cycle;
        for (auto it = start; it != path.end(); ++it) cycle.push_back(nodes_[*it].name);
        cycle.push_back(nodes_[dep].name);
        return cycle;
      }
      if (mark[dep] == Mark::Unvisited) {
        mark[dep] = Mark::OnPath;
        path.push_back(dep);
        stack.emplace_back(dep, 0);
      }
    }
  }
  return std::nullopt;
}

std::vector<std::string> DepGraph::start_order() const {
  // Kahn's algorithm; the ready set is a min-heap of file positions, so among
  // services whose dependencies are all placed the earliest in the file goes
  // first. O((N + E) log N): procd is benchmarked at N = 1000.
  const std::size_t n = nodes_.size();
  std::vector<std::size_t> pending(n);
  std::vector<std::vector<std::size_t>> dependents(n);
  for (std::size_t k = 0; k < n; ++k) {
    pending[k] = edges_[k].size();
    for (auto dep : edges_[k]) dependents[dep].push_back(k);
  }
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push(i);
  std::vector<bool> placed(n, false);
  std::vector<std::string> order;
  order.reserve(n);
  while (!ready.empty()) {
    std::size_t i = ready.top();
    ready.pop();
    placed[i] = true;
    order.push_back(nodes_[i].name);
    for (auto k : dependents[i])
      if (--pending[k] == 0) ready.push(k);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!placed[i]) order.push_back(nodes_[i].name);  // on or behind a cycle
  return order;
}

std::vector<std::string> DepGraph::stop_order() const {
  auto order = start_order();
  std::reverse(order.begin(), order.end());
  return order;
}

std::string format_cycle(const std::vector<std::string>& cycle) {
  std::string out;
  for (const auto& name : cycle) {
    if (!out.empty()) out += " -> ";
    out += name;
  }
  return out;
}

}  // namespace procd
