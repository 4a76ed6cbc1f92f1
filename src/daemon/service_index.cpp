// ServiceIndex (service_index.hpp).
#include "procd/service_index.hpp"

namespace procd {

// Name index, dependency graph, stop sequence and dependents lists, after
// the set of services changed (start, reload, removal).
void ServiceIndex::rebuild(const std::vector<std::unique_ptr<Service>>& services) {
  by_name.clear();
  std::vector<ServiceConfig> configs;
  configs.reserve(services.size());
  for (auto& s : services) {
    by_name[s->name()] = s.get();
    s->dependents().clear();
    configs.push_back(s->config());
  }
  for (auto& s : services)
    for (const auto& dep : s->config().depends_on)
      if (Service* d = find(dep.service)) d->dependents().push_back(s.get());
  graph = DepGraph::from_services(configs);
  stop_sequence.clear();
  for (const auto& name : graph.stop_order())
    if (Service* s = find(name)) stop_sequence.push_back(s);
  std::unordered_map<const Service*, std::size_t> position;
  for (std::size_t i = 0; i < stop_sequence.size(); ++i) position[stop_sequence[i]] = i;
  stop_dependents.assign(stop_sequence.size(), {});
  for (std::size_t i = 0; i < stop_sequence.size(); ++i)
    for (const Service* d : stop_sequence[i]->dependents())
      if (auto it = position.find(d); it != position.end()) stop_dependents[i].push_back(it->second);
}

}  // namespace procd
