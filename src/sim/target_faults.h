// How a sim::Fault plays on the project's target — written once, used by every model with a real
// target under it: the TCP storm's fabric (tcp_fabric.h, on reactor::Sim), `nvmpath demo` (the
// target on its own io_uring thread) and the end-to-end fault tests.
//
// TargetModel is the scenario's view of the target: its ports, namespaces and ANA states as the
// faults played so far have left them. ApplyToTarget plays a fault through the target's control
// methods and keeps the model current, so a target killed and started again comes up from
// model.Config() the way an operator's start script would re-apply the same state (runtime
// faults — stalls, delays, injected statuses, late writes, detachments — do not survive it).
// Ports and namespaces are indices (fault.h); port p is port ID p + 1, namespace h is NSID h + 1 in
// ANA group h + 1.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "nvme/ana_log.h"
#include "nvmpath/status.h"
#include "reactor/sim_network.h"
#include "sim/fault.h"
#include "target/config.h"
#include "target/target.h"

namespace nvmpath::sim {

struct TargetModel {
  struct Namespace {
    bool present = true;
    uint64_t size_bytes = 0;
    std::string file;  // file backend; empty: memory
    std::vector<bool> attached;  // [port]
    uint32_t identity = 0;       // 0: the target's own identifiers; else NsRemapped's
  };

  std::string subnqn;
  std::string serial = "nvmpath-sim";
  std::string address = "127.0.0.1";
  std::vector<std::string> port_addresses;  // [port] where each listens; empty: `address`
  uint32_t block_size = 512;
  Duration cqt{0};
  std::vector<uint16_t> tcp_ports;                // [port]; 0: any free port
  std::vector<bool> enabled;                      // [port]
  std::vector<Namespace> ns;                      // [ns]
  std::vector<std::vector<nvme::AnaState>> ana;   // [port][ns]
  std::vector<std::vector<nvme::AnaState>> healed_ana;  // what Heal goes back to

  // `ports` ports from `first_tcp_port` on, `namespaces` namespaces of `size_bytes` each (in
  // `files[h]` if given), every ANA state `state`.
  static TargetModel Make(std::string subnqn, int ports, uint16_t first_tcp_port, int namespaces,
                          uint64_t size_bytes, std::vector<std::string> files = {},
                          nvme::AnaState state = nvme::AnaState::kOptimized);

  int ports() const { return static_cast<int>(tcp_ports.size()); }
  int namespaces() const { return static_cast<int>(ns.size()); }
  static uint16_t PortId(int p) { return static_cast<uint16_t>(p + 1); }
  static uint32_t Nsid(int h) { return static_cast<uint32_t>(h + 1); }
  static uint32_t Group(int h) { return static_cast<uint32_t>(h + 1); }

  // Namespace h as the target is told to serve it; `fresh`: an empty memory namespace instead.
  // After an NsRemapped its identifiers are derived from (h, identity): unique per pair.
  target::NamespaceConfig NsConfig(int h, bool fresh = false) const;
  // The config a (re)started target comes up with.
  target::TargetConfig Config() const;
  // Every port enabled, every namespace present and attached, ANA as healed_ana.
  void Heal();
};

// Plays `fault` on `target` (null: the target is down — only the model changes) and updates
// `model`. Errors: the target's own (it refused the call, naming why), kInvalidArgument for an
// index the model does not have, kUnsupported for a fault that is not the target's (links, the
// target's lifetime).
Status ApplyToTarget(target::Target* target, TargetModel& model, const Fault& fault);

// A request to `nvmpath target`'s control socket (the methods `nvmpath target-ctl` sends).
struct TargetRpc {
  std::string method;
  nlohmann::json params;
};

// The same fault said to a running `nvmpath target` process: the JSON-RPC requests, in order,
// that play it, with `model` updated as ApplyToTarget does (for the e2e tests that run the target
// as a process). Errors: as ApplyToTarget's, before any request is made.
Result<std::vector<TargetRpc>> FaultToRpc(TargetModel& model, const Fault& fault);

// Puts the target back as `model` says after model.Heal(): ports enabled, ANA states, namespaces
// present and attached, no stall, delay or late writes left.
Status HealTarget(target::Target& target, const TargetModel& model);

// Whether `fault` is one of the link's (LinkCut .. LinkChunking).
bool IsLinkFault(const Fault& fault);

// Plays a link fault on the simulated network between the host and the model's ports. It has no
// bandwidth: a LinkRate is kUnsupported.
// Errors: kUnsupported for a fault not a link's.
Status ApplyToNetwork(reactor::SimNetwork& net, const TargetModel& model, const Fault& fault);

}  // namespace nvmpath::sim
