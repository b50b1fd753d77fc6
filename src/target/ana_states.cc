#include "target/ana_states.h"

namespace nvmpath::target {

AnaStates::AnaStates(const std::vector<AnaConfig>& initial) {
  for (const auto& a : initial) states_[{a.port_id, a.group}] = a.state;
}

nvme::AnaState AnaStates::StateFor(uint16_t port_id, uint32_t group) const {
  auto it = states_.find({port_id, group});
  if (it != states_.end()) return it->second;
  auto d = port_default_.find(port_id);
  return d == port_default_.end() ? nvme::AnaState::kOptimized : d->second;
}

void AnaStates::SetPortDefault(uint16_t port_id, nvme::AnaState state) {
  port_default_[port_id] = state;
}

void AnaStates::Set(uint16_t port_id, uint32_t group, nvme::AnaState state) {
  states_[{port_id, group}] = state;
  ++chgcnt_;
  group_chgcnt_[group] = chgcnt_;
}

void AnaStates::ErasePort(uint16_t port_id) {
  std::erase_if(states_, [port_id](const auto& kv) { return kv.first.first == port_id; });
  port_default_.erase(port_id);
}

nvme::AnaLog AnaStates::BuildLog(uint16_t port_id, const Subsystem& subsystem) const {
  std::map<uint32_t, std::vector<uint32_t>> groups;  // ordered: groups and NSIDs ascending
  for (const auto& [key, state] : states_) {
    if (key.first == port_id) groups[key.second];
  }
  for (const auto& [nsid, ns] : subsystem.namespaces()) {
    if (ns->AttachedThrough(port_id)) groups[ns->config.ana_group].push_back(nsid);
  }
  nvme::AnaLog log;
  log.chgcnt = chgcnt_;
  for (auto& [grpid, nsids] : groups) {
    nvme::AnaGroupDescriptor d;
    d.grpid = grpid;
    auto c = group_chgcnt_.find(grpid);
    d.chgcnt = c == group_chgcnt_.end() ? 0 : c->second;
    d.state = StateFor(port_id, grpid);
    d.nsids = std::move(nsids);
    log.groups.push_back(std::move(d));
  }
  return log;
}

std::set<uint32_t> AnaStates::ConfiguredGroups() const {
  std::set<uint32_t> groups;
  for (const auto& [key, state] : states_) groups.insert(key.second);
  return groups;
}

}  // namespace nvmpath::target
