// The control socket of `nvmpath host` (--control-socket): the host's run-time verbs as
// JSON-RPC 2.0 methods on the shared control socket (control/rpc_server.h), and the JSON shapes
// `nvmpath host-ctl` prints.
//
// Methods (params → result; every error names the parameter or what is wrong):
//   connect        a subsystem object as in the host config ("nqn", "paths", "discovery",
//                  "policy", timeouts, QoS ...) → {subsystem, nqn, new_subsystem, added, errors,
//                  heads}
//   disconnect     {"nqn": NQN} or {"path": "ADDR:PORT"}, optional "drain_timeout" → {}
//   list_subsys    {} → nvme-cli's list-subsys JSON: [{HostNQN, HostID, Subsystems: [{Name, NQN,
//                  IOPolicy, Paths: [{Name, Transport, Address, State, ANAState}]}]}]
//   show_topology  {} → {subsystems: [{subsystem, nqn, policy, heads: [{name, nsid, capacity…,
//                  paths: [{path, controller_state, ana_state, ana_group?, usable, why_not,
//                  in_flight}]}]}]}
//   set_policy     {"policy", optional "nqn"} → {}
//   rescan         {optional "nqn"} → {}
//   reset          {"path": "ADDR:PORT"} → {}
//   set_timeout    {optional "nqn", any of "no_path_timeout", "fast_io_fail_tmo",
//                  "ctrl_loss_tmo"} → {}
//   stats          {} → {heads: [{name, nqn, counters…, ops, errors_by_class, latency,
//                  failover_gap, last_error, paths: [{path, counters…}]}]} (docs/host-control.md
//                  lists every key)
//
// Handlers run on the control socket's thread, one request at a time: they call the
// HostService's blocking run-time methods and the Clients' snapshots, never on an I/O thread.
#pragma once

#include <nlohmann/json.hpp>

#include "control/rpc.h"
#include "export/host_service.h"

namespace nvmpath::cli {

// REQUIRES: `service` outlives the dispatcher's use.
void RegisterHostMethods(control::RpcDispatcher& dispatcher, exports::HostService& service);

// The JSON shapes (pure functions of snapshots, for the tests).
struct SubsystemSnapshot {
  unsigned index = 0;  // S
  SubsystemInfo info;
  std::string policy;
  std::string hostid;
  std::vector<std::pair<uint32_t, DeviceCounters>> counters;  // by NSID
};
nlohmann::json ListSubsysJson(const std::vector<SubsystemSnapshot>& subsystems);
nlohmann::json TopologyJson(const std::vector<SubsystemSnapshot>& subsystems);
nlohmann::json StatsJson(const std::vector<SubsystemSnapshot>& subsystems);

}  // namespace nvmpath::cli
