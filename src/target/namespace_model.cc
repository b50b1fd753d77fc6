#include "target/namespace_model.h"

namespace nvmpath::target {

NamespaceModel::NamespaceModel(std::string discovery_nqn) {
  SubsystemConfig disc;
  disc.nqn = std::move(discovery_nqn);
  discovery_ = std::make_unique<Subsystem>(std::move(disc), /*discovery=*/true);
}

Subsystem* NamespaceModel::FindSubsystem(std::string_view nqn) {
  if (nqn == discovery_->nqn()) return discovery_.get();
  auto it = subsystems_.find(nqn);
  return it == subsystems_.end() ? nullptr : it->second.get();
}

void NamespaceModel::AddSubsystem(std::unique_ptr<Subsystem> subsystem) {
  std::string nqn = subsystem->nqn();
  subsystems_[std::move(nqn)] = std::move(subsystem);
}

Result<Subsystem*> NamespaceModel::Nvm(std::string_view subnqn) {
  auto it = subsystems_.find(subnqn);
  if (it == subsystems_.end()) return NotFound("subsystem " + std::string(subnqn));
  return it->second.get();
}

Result<std::shared_ptr<Namespace>> NamespaceModel::FindNamespace(std::string_view subnqn,
                                                                 uint32_t nsid) {
  auto subsys = Nvm(subnqn);
  if (!subsys.ok()) return subsys.status();
  auto ns = (*subsys)->Find(nsid);
  if (!ns) return NotFound("namespace " + std::to_string(nsid) + " in " + std::string(subnqn));
  return ns;
}

Result<Subsystem*> NamespaceModel::AddNamespace(std::string_view subnqn, const NamespaceConfig& nsc,
                                                uint32_t ana_groups_max, reactor::Reactor* r) {
  auto subsys = Nvm(subnqn);
  if (!subsys.ok()) return subsys.status();
  NVMP_RETURN_IF_ERROR(ValidateNamespaceConfig(nsc, ana_groups_max, "namespace"));
  if ((*subsys)->Find(nsc.nsid)) {
    return Status(Code::kAlreadyExists,
                  "namespace " + std::to_string(nsc.nsid) + " exists in " + std::string(subnqn));
  }
  auto ns = MakeNamespace(subnqn, nsc, r);
  if (!ns.ok()) return ns.status();
  (*subsys)->Add(std::move(*ns));
  return *subsys;
}

Result<Subsystem*> NamespaceModel::RemoveNamespace(std::string_view subnqn, uint32_t nsid) {
  auto subsys = Nvm(subnqn);
  if (!subsys.ok()) return subsys.status();
  if (!(*subsys)->Remove(nsid)) {
    return NotFound("namespace " + std::to_string(nsid) + " in " + std::string(subnqn));
  }
  return *subsys;
}

Result<Subsystem*> NamespaceModel::ResizeNamespace(std::string_view subnqn, uint32_t nsid,
                                                   uint64_t size_bytes) {
  auto ns = FindNamespace(subnqn, nsid);
  if (!ns.ok()) return ns.status();
  if (size_bytes == 0 || size_bytes % (*ns)->block_size() != 0) {
    return InvalidArgument("size_bytes: " + std::to_string(size_bytes) +
                           " is not a non-zero multiple of the block size");
  }
  NVMP_RETURN_IF_ERROR((*ns)->backend->Resize(size_bytes));
  (*ns)->config.size_bytes = size_bytes;
  return FindSubsystem(subnqn);
}

bool NamespaceModel::SetAttached(Namespace& ns, uint16_t port_id, bool attached) {
  if (ns.AttachedThrough(port_id) == attached) return false;
  if (attached) {
    ns.detached_ports.erase(port_id);
  } else {
    ns.detached_ports.insert(port_id);
  }
  return true;
}

void NamespaceModel::ForgetPort(uint16_t port_id) {
  for (auto& [nqn, s] : subsystems_) {
    for (auto& [nsid, ns] : s->namespaces()) ns->detached_ports.erase(port_id);
  }
}

}  // namespace nvmpath::target
