// target::AnaStates — the ANA state of every (port, group) pair and the change counters the ANA
// log reports. A pair never set has its port's default state: optimized unless the port was added
// with another one.
//
// Thread: reactors[0]. Pure bookkeeping: who must be told about a change is the caller's concern.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "nvme/ana_log.h"
#include "target/config.h"
#include "target/subsystem.h"

namespace nvmpath::target {

class AnaStates {
 public:
  // The states a configuration starts with (no change counted).
  explicit AnaStates(const std::vector<AnaConfig>& initial);

  nvme::AnaState StateFor(uint16_t port_id, uint32_t group) const;
  // Sets the state and records the change in the global and the group's change count.
  void Set(uint16_t port_id, uint32_t group, nvme::AnaState state);
  // Counts a change of group membership (a namespace came, went or moved), which the log shows.
  void NoteMembershipChange() { ++chgcnt_; }
  // The state of every group of `port_id` not set on its own (a port added at run time).
  void SetPortDefault(uint16_t port_id, nvme::AnaState state);
  // Forgets every state of a port (the port was removed).
  void ErasePort(uint16_t port_id);

  // The ANA log of `subsystem` through `port_id`: every group with a namespace attached there or
  // a configured state, groups and NSIDs ascending.
  nvme::AnaLog BuildLog(uint16_t port_id, const Subsystem& subsystem) const;
  // Every group with a state set on some port.
  std::set<uint32_t> ConfiguredGroups() const;
  uint64_t change_count() const { return chgcnt_; }

 private:
  std::map<std::pair<uint16_t, uint32_t>, nvme::AnaState> states_;
  std::map<uint16_t, nvme::AnaState> port_default_;
  uint64_t chgcnt_ = 1;
  std::map<uint32_t, uint64_t> group_chgcnt_;
};

}  // namespace nvmpath::target
