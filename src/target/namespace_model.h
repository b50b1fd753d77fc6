// target::NamespaceModel — what the target serves: the discovery subsystem and the NVM subsystems
// with their namespaces, and the changes the control plane makes to them (add, remove, resize,
// detach from / attach to one port).
//
// Thread: reactors[0]. The model only changes; telling the controllers about a change (AENs,
// changed namespace lists, change counters) is the caller's job (target::Core).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "target/config.h"
#include "target/subsystem.h"

namespace nvmpath::target {

class NamespaceModel {
 public:
  using SubsystemMap = std::map<std::string, std::unique_ptr<Subsystem>, std::less<>>;

  explicit NamespaceModel(std::string discovery_nqn);

  // The subsystem (NVM or discovery) named `nqn`, or nullptr.
  Subsystem* FindSubsystem(std::string_view nqn);
  Subsystem& discovery() { return *discovery_; }
  const SubsystemMap& subsystems() const { return subsystems_; }
  // REQUIRES: no subsystem named subsystem->nqn() yet (the config was validated).
  void AddSubsystem(std::unique_ptr<Subsystem> subsystem);

  // Each returns the subsystem it changed. Errors: kNotFound naming the subsystem or namespace;
  // kAlreadyExists for a taken NSID; kInvalidArgument naming the field; the backend's errors.
  Result<Subsystem*> AddNamespace(std::string_view subnqn, const NamespaceConfig& ns,
                                  uint32_t ana_groups_max, reactor::Reactor* r);
  Result<Subsystem*> RemoveNamespace(std::string_view subnqn, uint32_t nsid);
  Result<Subsystem*> ResizeNamespace(std::string_view subnqn, uint32_t nsid, uint64_t size_bytes);
  // Errors: kNotFound naming the subsystem or the namespace.
  Result<std::shared_ptr<Namespace>> FindNamespace(std::string_view subnqn, uint32_t nsid);
  // Detaches `ns` from (attaches it to) `port_id`; false when it already was so.
  static bool SetAttached(Namespace& ns, uint16_t port_id, bool attached);
  // Forgets a removed port in every namespace's detached set.
  void ForgetPort(uint16_t port_id);

 private:
  Result<Subsystem*> Nvm(std::string_view subnqn);

  std::unique_ptr<Subsystem> discovery_;
  SubsystemMap subsystems_;
};

}  // namespace nvmpath::target
