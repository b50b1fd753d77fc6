// target::Target — the public face of the target core: config validation, construction, and the
// control methods, each forwarded to ControlOps on reactors[0].
#include "target/target.h"

#include <set>

#include "base/assert.h"
#include "nvme/command.h"
#include "target/control_ops.h"
#include "target/core.h"
#include "target/port_address.h"
#include "target/state_description.h"

namespace nvmpath::target {

struct Target::Impl {
  std::shared_ptr<Core> core;
};

namespace {

Status ValidateConfig(const TargetConfig& c) {
  if (c.ana_groups_max == 0 || c.ana_groups_max > 1024) {
    return InvalidArgument("ana_groups_max: " + std::to_string(c.ana_groups_max) +
                           " is not in 1..1024");
  }
  if (c.io_queues_max == 0 || c.io_queues_max > 0xFFFF) {
    return InvalidArgument("io_queues_max: " + std::to_string(c.io_queues_max) +
                           " is not in 1..65535");
  }
  if (c.queue_size_max < 2) {
    return InvalidArgument("queue_size_max: " + std::to_string(c.queue_size_max) +
                           " must be at least 2");
  }
  if (c.in_capsule_bytes % 16 != 0 || c.in_capsule_bytes > (1u << 20)) {
    return InvalidArgument("in_capsule_bytes: " + std::to_string(c.in_capsule_bytes) +
                           " must be a multiple of 16 and at most 1 MiB");
  }
  if (c.max_h2c_data < 4096 || c.max_h2c_data % 4 != 0 || c.max_h2c_data > (64u << 20)) {
    return InvalidArgument("max_h2c_data: " + std::to_string(c.max_h2c_data) +
                           " must be a multiple of 4 in 4096..64 MiB");
  }
  if (c.discovery_nqn.empty() || c.discovery_nqn.size() > nvme::kNqnMaxLength) {
    return InvalidArgument("discovery_nqn: must be 1.." + std::to_string(nvme::kNqnMaxLength) +
                           " bytes");
  }
  std::set<uint16_t> port_ids;
  for (size_t i = 0; i < c.ports.size(); ++i) {
    const std::string w = "ports[" + std::to_string(i) + "]";
    if (!port_ids.insert(c.ports[i].id).second) {
      return InvalidArgument(w + ".id: " + std::to_string(c.ports[i].id) + " is used twice");
    }
    if (c.ports[i].id == 0) return InvalidArgument(w + ".id: 0 is not a port ID (1..65535)");
    auto host = NormalizeHost(c.ports[i].address);
    if (!host.ok()) return host.status().WithContext(w + ".address");
  }
  std::set<std::string> nqns;
  // The ANA log the Linux host reads must fit one transfer (16 + NANAGRPID*32 + MNAN*4 bytes).
  const uint64_t ana_log_max = 16 + uint64_t{c.ana_groups_max} * 32 + uint64_t{kMaxNsid} * 4;
  for (size_t i = 0; i < c.subsystems.size(); ++i) {
    const SubsystemConfig& s = c.subsystems[i];
    const std::string w = "subsystems[" + std::to_string(i) + "]";
    if (s.nqn.empty() || s.nqn.size() > nvme::kNqnMaxLength) {
      return InvalidArgument(w + ".nqn: must be 1.." + std::to_string(nvme::kNqnMaxLength) +
                             " bytes");
    }
    if (s.nqn == c.discovery_nqn) {
      return InvalidArgument(w + ".nqn: " + s.nqn + " is the discovery NQN");
    }
    if (!nqns.insert(s.nqn).second) return InvalidArgument(w + ".nqn: " + s.nqn + " is used twice");
    if (s.mdts_pages > 13) {
      return InvalidArgument(w + ".mdts_pages: " + std::to_string(s.mdts_pages) +
                             " is over 13 (32 MiB)");
    }
    if (s.mdts_pages != 0 && (4096ull << s.mdts_pages) < ana_log_max) {
      return InvalidArgument(w + ".mdts_pages: " + std::to_string(s.mdts_pages) +
                             " is too small for the ANA log (" + std::to_string(ana_log_max) +
                             " bytes)");
    }
    std::set<uint32_t> nsids;
    for (size_t j = 0; j < s.namespaces.size(); ++j) {
      const std::string wn = w + ".namespaces[" + std::to_string(j) + "]";
      NVMP_RETURN_IF_ERROR(ValidateNamespaceConfig(s.namespaces[j], c.ana_groups_max, wn));
      if (!nsids.insert(s.namespaces[j].nsid).second) {
        return InvalidArgument(wn + ".nsid: " + std::to_string(s.namespaces[j].nsid) +
                               " is used twice");
      }
    }
  }
  for (size_t i = 0; i < c.ana.size(); ++i) {
    const std::string w = "ana[" + std::to_string(i) + "]";
    if (port_ids.count(c.ana[i].port_id) == 0) {
      return InvalidArgument(w + ".port_id: no port " + std::to_string(c.ana[i].port_id));
    }
    if (c.ana[i].group == 0 || c.ana[i].group > c.ana_groups_max) {
      return InvalidArgument(w + ".group: " + std::to_string(c.ana[i].group) + " is not in 1.." +
                             std::to_string(c.ana_groups_max));
    }
    switch (c.ana[i].state) {
      case nvme::AnaState::kOptimized:
      case nvme::AnaState::kNonOptimized:
      case nvme::AnaState::kInaccessible:
      case nvme::AnaState::kPersistentLoss:
      case nvme::AnaState::kChange: break;
      default: return InvalidArgument(w + ".state: not an ANA state");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Target>> Target::Create(TargetConfig config,
                                               std::vector<reactor::Reactor*> reactors) {
  if (reactors.empty() || reactors[0] == nullptr) {
    return InvalidArgument("reactors: at least one reactor is needed");
  }
  NVMP_RETURN_IF_ERROR(ValidateConfig(config));
  auto core = std::make_shared<Core>(config, reactors);
  for (size_t i = 0; i < config.subsystems.size(); ++i) {
    const SubsystemConfig& sc = config.subsystems[i];
    auto subsys = std::make_unique<Subsystem>(sc, /*discovery=*/false);
    for (size_t j = 0; j < sc.namespaces.size(); ++j) {
      auto ns = MakeNamespace(sc.nqn, sc.namespaces[j], reactors[0]);
      if (!ns.ok()) {
        return ns.status().WithContext("subsystems[" + std::to_string(i) + "].namespaces[" +
                                       std::to_string(j) + "]");
      }
      subsys->Add(std::move(*ns));
    }
    core->model().AddSubsystem(std::move(subsys));
  }
  std::unique_ptr<Target> t(new Target());
  t->impl_ = std::make_unique<Impl>();
  t->impl_->core = std::move(core);
  return t;
}

Target::~Target() {
  if (impl_ && impl_->core) impl_->core->Shutdown();
}

Status Target::Start() { return impl_->core->StartPorts(); }

void Target::Stop(std::function<void()> done) { impl_->core->Stop(std::move(done)); }

uint16_t Target::BoundPort(uint16_t port_id) const {
  const PortState* port = impl_->core->ports().Find(port_id);
  return port != nullptr && port->listener ? port->listener->port() : 0;
}

Status Target::AddNamespace(std::string_view subnqn, const NamespaceConfig& ns) {
  return ControlOps(*impl_->core).AddNamespace(subnqn, ns);
}
Status Target::RemoveNamespace(std::string_view subnqn, uint32_t nsid) {
  return ControlOps(*impl_->core).RemoveNamespace(subnqn, nsid);
}
Status Target::ResizeNamespace(std::string_view subnqn, uint32_t nsid, uint64_t size_bytes) {
  return ControlOps(*impl_->core).ResizeNamespace(subnqn, nsid, size_bytes);
}
Status Target::SetNamespaceAttached(std::string_view subnqn, uint32_t nsid, uint16_t port_id,
                                    bool attached) {
  return ControlOps(*impl_->core).SetNamespaceAttached(subnqn, nsid, port_id, attached);
}
Status Target::SetAnaState(uint16_t port_id, uint32_t group, nvme::AnaState state) {
  return ControlOps(*impl_->core).SetAnaState(port_id, group, state);
}
Status Target::SetPortEnabled(uint16_t port_id, bool enabled) {
  return ControlOps(*impl_->core).SetPortEnabled(port_id, enabled);
}
Status Target::DropConnections(uint16_t port_id) {
  return ControlOps(*impl_->core).DropConnections(port_id);
}
Status Target::AddPort(const PortConfig& port, std::optional<nvme::AnaState> ana_state) {
  return ControlOps(*impl_->core).AddPort(port, ana_state);
}
Status Target::RemovePort(uint16_t port_id) { return ControlOps(*impl_->core).RemovePort(port_id); }
Status Target::SetResponseDelay(std::optional<uint16_t> port_id, Duration delay) {
  return ControlOps(*impl_->core).SetResponseDelay(port_id, delay);
}
Status Target::SetStalled(std::optional<uint16_t> port_id, bool stalled) {
  return ControlOps(*impl_->core).SetStalled(port_id, stalled);
}
Status Target::FailNext(const FailNextSpec& spec) {
  return ControlOps(*impl_->core).FailNext(spec);
}
Status Target::SetLateWrites(uint16_t port_id, uint32_t count, Duration delay) {
  return ControlOps(*impl_->core).SetLateWrites(port_id, count, delay);
}

nlohmann::json Target::DescribeState() const { return target::DescribeState(*impl_->core); }

}  // namespace nvmpath::target
