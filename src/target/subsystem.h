// target::Namespace and target::Subsystem — the served model: an NVM subsystem (or the discovery
// subsystem) with its namespaces and allowed hosts.
//
// Thread: owned by the target core on reactors[0]; read and changed only there.
// Invariants: namespaces are keyed by NSID (1..kMaxNsid); a Namespace's identifiers never change
// while it exists. In-flight commands hold a shared_ptr to the Namespace they run against, so a
// namespace removed under them stays valid until they finish.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "nvme/identify.h"
#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "target/config.h"
#include "target/namespace_backend.h"

namespace nvmpath::target {

// Identify Controller NN: the largest NSID a subsystem may use. Also MNAN.
inline constexpr uint32_t kMaxNsid = 1024;

struct Namespace {
  NamespaceConfig config;  // size_bytes is stale after a resize; the backend is the truth
  std::shared_ptr<Backend> backend;
  nvme::NsIdentifiers ids;
  // Ports through which the namespace is detached: inactive for their controllers (absent from
  // the Active Namespace list and the ANA log, Identify reads zeroes, I/O gets Invalid Namespace)
  // while it stays attached and unchanged behind every other port.
  std::set<uint16_t> detached_ports;

  uint32_t nsid() const { return config.nsid; }
  bool AttachedThrough(uint16_t port_id) const { return detached_ports.count(port_id) == 0; }
  uint32_t block_size() const { return config.block_size; }
  uint64_t blocks() const { return backend->size_bytes() / config.block_size; }
};

// Builds a namespace: backend plus identifiers (configured ones, else derived from the subsystem
// NQN and NSID so every port and every restart reports the same ones).
Result<std::shared_ptr<Namespace>> MakeNamespace(std::string_view subnqn,
                                                 const NamespaceConfig& config, reactor::Reactor* r);

// Validates one namespace config; errors are prefixed with `where` ("subsystems[0].namespaces[1]").
Status ValidateNamespaceConfig(const NamespaceConfig& ns, uint32_t ana_groups_max,
                               std::string_view where);

class Subsystem {
 public:
  Subsystem(SubsystemConfig config, bool discovery)
      : config_(std::move(config)), discovery_(discovery) {}

  const std::string& nqn() const { return config_.nqn; }
  const SubsystemConfig& config() const { return config_; }
  bool is_discovery() const { return discovery_; }
  bool HostAllowed(std::string_view hostnqn) const;

  std::shared_ptr<Namespace> Find(uint32_t nsid) const;
  // The namespace as a controller on `port_id` sees it: nullptr if absent or detached there.
  std::shared_ptr<Namespace> FindThrough(uint32_t nsid, uint16_t port_id) const;
  const std::map<uint32_t, std::shared_ptr<Namespace>>& namespaces() const { return namespaces_; }
  void Add(std::shared_ptr<Namespace> ns) { namespaces_[ns->nsid()] = std::move(ns); }
  bool Remove(uint32_t nsid) { return namespaces_.erase(nsid) > 0; }

 private:
  SubsystemConfig config_;  // config_.namespaces is the start-up list only
  bool discovery_;
  std::map<uint32_t, std::shared_ptr<Namespace>> namespaces_;
};

}  // namespace nvmpath::target
