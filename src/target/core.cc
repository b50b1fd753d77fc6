#include "target/core.h"

#include <set>

#include "base/assert.h"
#include "base/log.h"
#include "target/connection.h"

namespace nvmpath::target {

Core::Core(TargetConfig config, std::vector<reactor::Reactor*> reactors)
    : config_(std::move(config)), reactors_(std::move(reactors)) {
  SubsystemConfig disc;
  disc.nqn = config_.discovery_nqn;
  discovery_ = std::make_unique<Subsystem>(std::move(disc), /*discovery=*/true);
  for (const auto& p : config_.ports) ports_[p.id].config = p;
  for (const auto& a : config_.ana) ana_[{a.port_id, a.group}] = a.state;
}

Core::~Core() { Shutdown(); }

Subsystem* Core::FindSubsystem(std::string_view nqn) {
  if (nqn == discovery_->nqn()) return discovery_.get();
  auto it = subsystems_.find(nqn);
  return it == subsystems_.end() ? nullptr : it->second.get();
}

nvme::AnaState Core::AnaStateFor(uint16_t port_id, uint32_t group) const {
  auto it = ana_.find({port_id, group});
  return it == ana_.end() ? nvme::AnaState::kOptimized : it->second;
}

nvme::AnaLog Core::BuildAnaLog(uint16_t port_id, const Subsystem& subsystem) const {
  std::map<uint32_t, std::vector<uint32_t>> groups;  // ordered: groups and NSIDs ascending
  for (const auto& [key, state] : ana_) {
    if (key.first == port_id) groups[key.second];
  }
  for (const auto& [nsid, ns] : subsystem.namespaces()) {
    if (ns->AttachedThrough(port_id)) groups[ns->config.ana_group].push_back(nsid);
  }
  nvme::AnaLog log;
  log.chgcnt = ana_chgcnt_;
  for (auto& [grpid, nsids] : groups) {
    nvme::AnaGroupDescriptor d;
    d.grpid = grpid;
    auto c = group_chgcnt_.find(grpid);
    d.chgcnt = c == group_chgcnt_.end() ? 0 : c->second;
    d.state = AnaStateFor(port_id, grpid);
    d.nsids = std::move(nsids);
    log.groups.push_back(std::move(d));
  }
  return log;
}

// ---- controllers ----

Controller* Core::CreateController(Subsystem* subsystem, uint16_t port_id, std::string hostnqn,
                                   std::array<uint8_t, 16> hostid, uint32_t kato_ms) {
  constexpr uint16_t kMaxCntlid = 0xFFEF;
  for (uint32_t tries = 0; tries < kMaxCntlid; ++tries) {
    const uint16_t id = next_cntlid_;
    next_cntlid_ = next_cntlid_ >= kMaxCntlid ? 1 : next_cntlid_ + 1;
    if (controllers_.count(id) != 0) continue;
    auto ctrl = std::make_unique<Controller>(id, subsystem, port_id, std::move(hostnqn), hostid,
                                             kato_ms);
    Controller* raw = ctrl.get();
    controllers_[id] = std::move(ctrl);
    return raw;
  }
  return nullptr;
}

Controller* Core::FindController(uint16_t cntlid) {
  auto it = controllers_.find(cntlid);
  return it == controllers_.end() ? nullptr : it->second.get();
}

void Core::ArmKeepAlive(Controller& ctrl) {
  if (ctrl.ka_timer != reactor::kNoTimer) reactor()->CancelTimer(ctrl.ka_timer);
  ctrl.ka_timer = reactor::kNoTimer;
  if (ctrl.kato_ms() == 0) return;
  const Duration kato = std::chrono::milliseconds(ctrl.kato_ms());
  const Duration left = ctrl.last_activity() + kato - reactor()->now();
  const uint16_t cntlid = ctrl.cntlid();
  ctrl.ka_timer = reactor()->AddTimer(std::max(left, Duration{0}), [weak = weak_from_this(), cntlid] {
    auto core = weak.lock();
    if (!core) return;
    Controller* c = core->FindController(cntlid);
    if (c == nullptr) return;
    c->ka_timer = reactor::kNoTimer;
    const Duration kato = std::chrono::milliseconds(c->kato_ms());
    if (c->kato_ms() != 0 && core->reactor()->now() - c->last_activity() >= kato) {
      core->DestroyController(cntlid, "keep-alive timeout");
    } else {
      core->ArmKeepAlive(*c);
    }
  });
}

void Core::DestroyController(uint16_t cntlid, std::string_view why) {
  auto it = controllers_.find(cntlid);
  if (it == controllers_.end()) return;
  // Out of the map first, so nothing finds it while its connections close; alive until they did.
  std::unique_ptr<Controller> ctrl = std::move(it->second);
  controllers_.erase(it);
  NVMP_LOG_INFO("target: controller {} ({}) ends: {}", cntlid, ctrl->subsystem()->nqn(), why);
  if (ctrl->ka_timer != reactor::kNoTimer) reactor()->CancelTimer(ctrl->ka_timer);
  ctrl->TransitionTo(ControllerState::kDead);
  std::vector<std::shared_ptr<Connection>> conns;
  if (auto a = ctrl->admin.lock()) conns.push_back(a);
  for (auto& [qid, w] : ctrl->io_queues) {
    if (auto c = w.lock()) conns.push_back(c);
  }
  for (auto& c : conns) c->Close(why);
  for (auto& c : conns) {
    if (c->controller() == ctrl.get()) c->Unbind();
  }
}

void Core::RaiseEvent(Controller& ctrl, EventKind kind) {
  ctrl.RaiseEvent(kind);
  DeliverEvents(ctrl);
}

void Core::DeliverEvents(Controller& ctrl) {
  auto pairs = ctrl.TakeDeliverable();
  auto admin = ctrl.admin.lock();
  for (auto& [req, dw0] : pairs) {
    if (admin) admin->Respond(req, CmdResult::Ok(dw0));
  }
}

// ---- connections ----

void Core::Accept(uint16_t port_id, std::unique_ptr<reactor::Stream> stream) {
  const uint64_t id = next_connection_id_++;
  auto conn = std::make_shared<Connection>(this, id, port_id, std::move(stream));
  connections_[id] = conn;
  conn->Start();
}

void Core::OnConnectionClosed(Connection& conn) {
  if (Controller* ctrl = conn.controller()) {
    if (ctrl->state() != ControllerState::kDead) {
      if (conn.qid() == 0) {
        DestroyController(ctrl->cntlid(), "admin queue closed");
      } else {
        ctrl->io_queues.erase(conn.qid());
      }
    }
    conn.Unbind();
  }
  auto it = connections_.find(conn.id());
  if (it == connections_.end()) return;
  closed_.push_back(std::move(it->second));
  connections_.erase(it);
  if (!reap_posted_) {
    reap_posted_ = true;
    reactor()->Post([weak = weak_from_this()] {
      if (auto core = weak.lock()) core->ReapClosed();
    });
  }
}

void Core::ReapClosed() {
  reap_posted_ = false;
  std::vector<std::shared_ptr<Connection>> dead;
  dead.swap(closed_);
  dead.clear();  // destroys the connections and their streams, outside their callbacks
}

void Core::CloseConnections(std::optional<uint16_t> port_id, std::string_view why) {
  std::vector<std::shared_ptr<Connection>> victims;
  for (auto& [id, c] : connections_) {
    if (!port_id || c->port_id() == *port_id) victims.push_back(c);
  }
  for (auto& c : victims) c->Close(why);
}

void Core::ReleaseHeld() {
  std::vector<std::shared_ptr<Connection>> all;
  for (auto& [id, c] : connections_) all.push_back(c);
  for (auto& c : all) c->ReleaseHeld();
}

size_t Core::connection_count(uint16_t port_id) const {
  size_t n = 0;
  for (const auto& [id, c] : connections_) n += c->port_id() == port_id ? 1 : 0;
  return n;
}

// ---- ports and control ----

Status Core::StartPort(PortState& port) {
  const uint16_t id = port.config.id;
  auto l = reactor()->Listen(port.config.address, port.config.port,
                             [weak = weak_from_this(), id](std::unique_ptr<reactor::Stream> s) {
                               if (auto core = weak.lock()) core->Accept(id, std::move(s));
                             });
  if (!l.ok()) {
    return l.status().WithContext("port " + std::to_string(id) + " (" + port.config.address + ":" +
                                  std::to_string(port.config.port) + ")");
  }
  port.listener = std::move(*l);
  // A port configured as 0 keeps the port the kernel picked, so disabling and re-enabling it
  // (a path going away and coming back) brings it back where its hosts reconnect to.
  if (port.config.port == 0) port.config.port = port.listener->port();
  return Status::Ok();
}

Status Core::StartPorts() {
  for (auto& [id, port] : ports_) {
    if (!port.config.enabled || port.listener) continue;
    Status s = StartPort(port);
    if (!s.ok()) {
      for (auto& [id2, p2] : ports_) p2.listener.reset();
      return s;
    }
  }
  return Status::Ok();
}

void Core::Shutdown() {
  for (auto& [id, port] : ports_) port.listener.reset();
  CloseConnections(std::nullopt, "target stopping");
  closed_.clear();
  for (auto& [id, ctrl] : controllers_) {
    if (ctrl->ka_timer != reactor::kNoTimer) reactor()->CancelTimer(ctrl->ka_timer);
  }
  controllers_.clear();
}

void Core::Stop(std::function<void()> done) {
  for (auto& [id, port] : ports_) port.listener.reset();
  CloseConnections(std::nullopt, "target stopping");
  // Runs after the posted reap of the closed connections.
  reactor()->Post([weak = weak_from_this(), done = std::move(done)] {
    if (auto core = weak.lock()) core->ReapClosed();
    if (done) done();
  });
}

void Core::NamespaceChanged(Subsystem& subsystem, uint32_t nsid,
                            std::optional<uint16_t> port_id) {
  // Group membership may have changed, which the ANA log reports.
  ++ana_chgcnt_;
  ++genctr_;
  std::vector<Controller*> ctrls;
  for (auto& [id, c] : controllers_) {
    if (c->subsystem() == &subsystem && (!port_id || c->port_id() == *port_id)) {
      ctrls.push_back(c.get());
    }
  }
  for (Controller* c : ctrls) {
    c->NoteChangedNs(nsid);
    RaiseEvent(*c, EventKind::kNsAttribute);
  }
}

void Core::DiscoveryChanged() {
  ++genctr_;
  std::vector<Controller*> ctrls;
  for (auto& [id, c] : controllers_) {
    if (c->subsystem()->is_discovery()) ctrls.push_back(c.get());
  }
  for (Controller* c : ctrls) RaiseEvent(*c, EventKind::kDiscoveryChange);
}

Status Core::AddNamespace(std::string_view subnqn, const NamespaceConfig& nsc) {
  auto it = subsystems_.find(subnqn);
  if (it == subsystems_.end()) return NotFound("subsystem " + std::string(subnqn));
  Subsystem& subsys = *it->second;
  NVMP_RETURN_IF_ERROR(ValidateNamespaceConfig(nsc, config_.ana_groups_max, "namespace"));
  if (subsys.Find(nsc.nsid)) {
    return Status(Code::kAlreadyExists, "namespace " + std::to_string(nsc.nsid) + " exists in " +
                                            std::string(subnqn));
  }
  auto ns = MakeNamespace(subnqn, nsc, reactor());
  if (!ns.ok()) return ns.status();
  subsys.Add(std::move(*ns));
  NamespaceChanged(subsys, nsc.nsid);
  return Status::Ok();
}

Status Core::RemoveNamespace(std::string_view subnqn, uint32_t nsid) {
  auto it = subsystems_.find(subnqn);
  if (it == subsystems_.end()) return NotFound("subsystem " + std::string(subnqn));
  if (!it->second->Remove(nsid)) {
    return NotFound("namespace " + std::to_string(nsid) + " in " + std::string(subnqn));
  }
  NamespaceChanged(*it->second, nsid);
  return Status::Ok();
}

Status Core::ResizeNamespace(std::string_view subnqn, uint32_t nsid, uint64_t size_bytes) {
  auto it = subsystems_.find(subnqn);
  if (it == subsystems_.end()) return NotFound("subsystem " + std::string(subnqn));
  auto ns = it->second->Find(nsid);
  if (!ns) return NotFound("namespace " + std::to_string(nsid) + " in " + std::string(subnqn));
  if (size_bytes == 0 || size_bytes % ns->block_size() != 0) {
    return InvalidArgument("size_bytes: " + std::to_string(size_bytes) +
                           " is not a non-zero multiple of the block size");
  }
  NVMP_RETURN_IF_ERROR(ns->backend->Resize(size_bytes));
  ns->config.size_bytes = size_bytes;
  NamespaceChanged(*it->second, nsid);
  return Status::Ok();
}

Status Core::SetNamespaceAttached(std::string_view subnqn, uint32_t nsid, uint16_t port_id,
                                  bool attached) {
  auto it = subsystems_.find(subnqn);
  if (it == subsystems_.end()) return NotFound("subsystem " + std::string(subnqn));
  auto ns = it->second->Find(nsid);
  if (!ns) return NotFound("namespace " + std::to_string(nsid) + " in " + std::string(subnqn));
  if (ports_.count(port_id) == 0) return NotFound("port " + std::to_string(port_id));
  if (ns->AttachedThrough(port_id) == attached) return Status::Ok();
  if (attached) {
    ns->detached_ports.erase(port_id);
  } else {
    ns->detached_ports.insert(port_id);
  }
  NVMP_LOG_INFO("target: namespace {} of {} {} port {}", nsid, subnqn,
                attached ? "attached through" : "detached from", port_id);
  NamespaceChanged(*it->second, nsid, port_id);
  return Status::Ok();
}

Status Core::SetAnaState(uint16_t port_id, uint32_t group, nvme::AnaState state) {
  if (ports_.count(port_id) == 0) return NotFound("port " + std::to_string(port_id));
  if (group == 0 || group > config_.ana_groups_max) {
    return InvalidArgument("group: " + std::to_string(group) + " is not in 1.." +
                           std::to_string(config_.ana_groups_max));
  }
  ana_[{port_id, group}] = state;
  ++ana_chgcnt_;
  group_chgcnt_[group] = ana_chgcnt_;
  std::vector<Controller*> ctrls;
  for (auto& [id, c] : controllers_) {
    if (c->port_id() == port_id && !c->subsystem()->is_discovery()) ctrls.push_back(c.get());
  }
  for (Controller* c : ctrls) RaiseEvent(*c, EventKind::kAnaChange);
  return Status::Ok();
}

Status Core::SetPortEnabled(uint16_t port_id, bool enabled) {
  auto it = ports_.find(port_id);
  if (it == ports_.end()) return NotFound("port " + std::to_string(port_id));
  PortState& port = it->second;
  if (port.config.enabled == enabled) return Status::Ok();
  if (enabled) {
    NVMP_RETURN_IF_ERROR(StartPort(port));
  } else {
    port.listener.reset();
    CloseConnections(port_id, "port disabled");
  }
  port.config.enabled = enabled;
  DiscoveryChanged();
  return Status::Ok();
}

void Core::ScheduleLateWrite(std::string subnqn, uint32_t nsid, uint64_t offset,
                             std::vector<uint8_t> data, Duration delay) {
  auto buf = std::make_shared<std::vector<uint8_t>>(std::move(data));
  reactor()->AddTimer(delay, [weak = weak_from_this(), subnqn, nsid, offset, buf] {
    auto core = weak.lock();
    if (!core) return;
    Subsystem* s = core->FindSubsystem(subnqn);
    auto ns = s ? s->Find(nsid) : nullptr;
    if (!ns || offset + buf->size() > ns->backend->size_bytes()) return;
    NVMP_LOG_INFO("target: late write executes: {} ns {} offset {} ({} bytes)", subnqn, nsid,
                  offset, buf->size());
    ns->backend->Write(offset, *buf, [weak, buf, ns](Status) {
      if (auto c = weak.lock()) ++c->late_writes_done_;
    });
  });
}

nlohmann::json Core::Describe() const {
  using nlohmann::json;
  json j;
  json ports = json::array();
  for (const auto& [id, p] : ports_) {
    json conns = json::array();
    for (const auto& [cid, c] : connections_) {
      if (c->port_id() != id) continue;
      conns.push_back({{"id", cid},
                       {"peer", c->description()},
                       {"state", ConnectionStateName(c->state())},
                       {"qid", c->qid()},
                       {"cntlid", c->controller() ? c->controller()->cntlid() : 0},
                       {"outstanding", c->outstanding()},
                       {"late_writes", c->late_writes()}});
    }
    json ana = json::array();
    std::set<uint32_t> groups;
    for (const auto& [key, st] : ana_) groups.insert(key.second);
    for (const auto& [nqn, s] : subsystems_) {
      for (const auto& [nsid, ns] : s->namespaces()) groups.insert(ns->config.ana_group);
    }
    for (uint32_t g : groups) {
      ana.push_back({{"group", g}, {"state", nvme::AnaStateName(AnaStateFor(id, g))}});
    }
    ports.push_back({{"id", id},
                     {"address", p.config.address},
                     {"port", p.config.port},
                     {"bound_port", p.listener ? p.listener->port() : 0},
                     {"enabled", p.config.enabled},
                     {"connections", conns},
                     {"ana", ana}});
  }
  j["ports"] = ports;
  json subs = json::array();
  for (const auto& [nqn, s] : subsystems_) {
    json nss = json::array();
    for (const auto& [nsid, ns] : s->namespaces()) {
      nss.push_back({{"nsid", nsid},
                     {"size_bytes", ns->backend->size_bytes()},
                     {"block_size", ns->block_size()},
                     {"backend", ns->backend->kind_name()},
                     {"path", ns->config.path},
                     {"ana_group", ns->config.ana_group},
                     {"detached_ports", ns->detached_ports}});
    }
    subs.push_back({{"nqn", nqn},
                    {"serial", s->config().serial},
                    {"model", s->config().model},
                    {"allowed_hosts", s->config().allowed_hosts},
                    {"mdts_pages", s->config().mdts_pages},
                    {"namespaces", nss}});
  }
  j["subsystems"] = subs;
  json ctrls = json::array();
  for (const auto& [id, c] : controllers_) {
    json io = json::array();
    for (const auto& [qid, w] : c->io_queues) io.push_back(qid);
    ctrls.push_back({{"cntlid", id},
                     {"subnqn", c->subsystem()->nqn()},
                     {"hostnqn", c->hostnqn()},
                     {"port_id", c->port_id()},
                     {"state", ControllerStateName(c->state())},
                     {"kato_ms", c->kato_ms()},
                     {"io_queues", io},
                     {"aers_held", c->aers_held()}});
  }
  j["controllers"] = ctrls;
  j["faults"] = faults_.Describe();
  j["discovery_genctr"] = genctr_;
  j["ana_change_count"] = ana_chgcnt_;
  j["late_writes_executed"] = late_writes_done_;
  return j;
}

}  // namespace nvmpath::target
