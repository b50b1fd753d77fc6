#include "target/control_ops.h"

#include <string>
#include <vector>

#include "base/log.h"

namespace nvmpath::target {

Status ControlOps::CheckPort(std::optional<uint16_t> port_id) const {
  if (port_id && !core_.ports().Has(*port_id)) return NotFound("port " + std::to_string(*port_id));
  return Status::Ok();
}

// ---- namespaces ----

Status ControlOps::AddNamespace(std::string_view subnqn, const NamespaceConfig& ns) {
  auto subsys =
      core_.model().AddNamespace(subnqn, ns, core_.config().ana_groups_max, core_.reactor());
  if (!subsys.ok()) return subsys.status();
  core_.NamespaceChanged(**subsys, ns.nsid);
  return Status::Ok();
}

Status ControlOps::RemoveNamespace(std::string_view subnqn, uint32_t nsid) {
  auto subsys = core_.model().RemoveNamespace(subnqn, nsid);
  if (!subsys.ok()) return subsys.status();
  core_.NamespaceChanged(**subsys, nsid);
  return Status::Ok();
}

Status ControlOps::ResizeNamespace(std::string_view subnqn, uint32_t nsid, uint64_t size_bytes) {
  auto subsys = core_.model().ResizeNamespace(subnqn, nsid, size_bytes);
  if (!subsys.ok()) return subsys.status();
  core_.NamespaceChanged(**subsys, nsid);
  return Status::Ok();
}

Status ControlOps::SetNamespaceAttached(std::string_view subnqn, uint32_t nsid, uint16_t port_id,
                                        bool attached) {
  auto ns = core_.model().FindNamespace(subnqn, nsid);
  if (!ns.ok()) return ns.status();
  NVMP_RETURN_IF_ERROR(CheckPort(port_id));
  if (!NamespaceModel::SetAttached(**ns, port_id, attached)) return Status::Ok();
  NVMP_LOG_INFO("target: namespace {} of {} {} port {}", nsid, subnqn,
                attached ? "attached through" : "detached from", port_id);
  core_.NamespaceChanged(*core_.model().FindSubsystem(subnqn), nsid, port_id);
  return Status::Ok();
}

Status ControlOps::SetAnaState(uint16_t port_id, uint32_t group, nvme::AnaState state) {
  NVMP_RETURN_IF_ERROR(CheckPort(port_id));
  const uint32_t groups_max = core_.config().ana_groups_max;
  if (group == 0 || group > groups_max) {
    return InvalidArgument("group: " + std::to_string(group) + " is not in 1.." +
                           std::to_string(groups_max));
  }
  core_.ana().Set(port_id, group, state);
  core_.AnaChanged(port_id);
  return Status::Ok();
}

// ---- ports ----

Status ControlOps::SetPortEnabled(uint16_t port_id, bool enabled) {
  PortState* port = core_.ports().Find(port_id);
  if (port == nullptr) return NotFound("port " + std::to_string(port_id));
  if (port->config.enabled == enabled) return Status::Ok();
  if (enabled) {
    NVMP_RETURN_IF_ERROR(core_.StartPort(*port));
  } else {
    core_.ports().Stop(*port);
    core_.connections().Close(port_id, "port disabled");
  }
  port->config.enabled = enabled;
  core_.DiscoveryChanged();
  return Status::Ok();
}

Status ControlOps::DropConnections(uint16_t port_id) {
  NVMP_RETURN_IF_ERROR(CheckPort(port_id));
  core_.connections().Close(port_id, "dropped by control");
  return Status::Ok();
}

Status ControlOps::AddPort(const PortConfig& config, std::optional<nvme::AnaState> ana_state) {
  auto port = core_.ports().Add(config);
  if (!port.ok()) return port.status();
  if (config.enabled) {
    Status s = core_.StartPort(**port);
    if (!s.ok()) {
      core_.ports().Remove(config.id);
      return s;
    }
  }
  if (ana_state) core_.ana().SetPortDefault(config.id, *ana_state);
  NVMP_LOG_INFO("target: port {} added ({}:{})", config.id, (*port)->config.address,
                (*port)->config.port);
  core_.DiscoveryChanged();
  return Status::Ok();
}

Status ControlOps::RemovePort(uint16_t port_id) {
  NVMP_RETURN_IF_ERROR(CheckPort(port_id));
  core_.ports().Stop(*core_.ports().Find(port_id));
  std::vector<uint16_t> ended;
  for (const Controller* c : core_.controllers().Where(
           [port_id](const Controller& c) { return c.port_id() == port_id; })) {
    ended.push_back(c->cntlid());
  }
  for (uint16_t cntlid : ended) core_.DestroyController(cntlid, "port removed");
  core_.connections().Close(port_id, "port removed");
  core_.ports().Remove(port_id);
  core_.ana().ErasePort(port_id);
  core_.model().ForgetPort(port_id);
  core_.faults().ForgetPort(port_id);
  NVMP_LOG_INFO("target: port {} removed", port_id);
  core_.DiscoveryChanged();
  return Status::Ok();
}

// ---- faults ----

Status ControlOps::SetResponseDelay(std::optional<uint16_t> port_id, Duration delay) {
  NVMP_RETURN_IF_ERROR(CheckPort(port_id));
  if (delay.count() < 0) return InvalidArgument("delay: negative");
  core_.faults().SetDelay(port_id, delay);
  return Status::Ok();
}

Status ControlOps::SetStalled(std::optional<uint16_t> port_id, bool stalled) {
  NVMP_RETURN_IF_ERROR(CheckPort(port_id));
  core_.faults().SetStalled(port_id, stalled);
  if (!stalled) core_.connections().ReleaseHeld();
  return Status::Ok();
}

Status ControlOps::FailNext(const FailNextSpec& spec) {
  if (spec.count == 0) return InvalidArgument("count: must be at least 1");
  if (spec.status.ok()) return InvalidArgument("status: success is not a failure");
  NVMP_RETURN_IF_ERROR(CheckPort(spec.port_id));
  core_.faults().AddFailNext(spec);
  return Status::Ok();
}

Status ControlOps::SetLateWrites(uint16_t port_id, uint32_t count, Duration delay) {
  NVMP_RETURN_IF_ERROR(CheckPort(port_id));
  if (delay.count() < 0) return InvalidArgument("delay: negative");
  core_.faults().SetLateWrites(port_id, count, delay);
  return Status::Ok();
}

}  // namespace nvmpath::target
