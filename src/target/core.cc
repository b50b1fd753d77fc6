#include "target/core.h"

#include "base/log.h"
#include "target/connection.h"

namespace nvmpath::target {

Core::Core(TargetConfig config, std::vector<reactor::Reactor*> reactors)
    : config_(std::move(config)),
      reactors_(std::move(reactors)),
      model_(config_.discovery_nqn),
      ana_(config_.ana),
      ports_(config_.ports),
      connections_(reactors_[0]),
      keep_alive_(reactors_[0], &controllers_,
                  [this](uint16_t cntlid) { DestroyController(cntlid, "keep-alive timeout"); }),
      late_writes_(reactors_[0], &model_) {}

Core::~Core() { Shutdown(); }

// ---- ports and connections ----

PortTable::OnAccept Core::AcceptInto() {
  return [weak = weak_from_this()](uint16_t port_id, std::unique_ptr<reactor::Stream> s) {
    if (auto core = weak.lock()) core->connections_.Accept(core.get(), port_id, std::move(s));
  };
}

Status Core::StartPorts() { return ports_.StartAll(*reactor(), AcceptInto()); }

Status Core::StartPort(PortState& port) { return ports_.Start(port, *reactor(), AcceptInto()); }

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
  connections_.Retire(conn);
}

// ---- associations ----

void Core::DestroyController(uint16_t cntlid, std::string_view why) {
  // Out of the table first, so nothing finds it while its connections close; alive until they did.
  std::unique_ptr<Controller> ctrl = controllers_.Take(cntlid);
  if (!ctrl) return;
  NVMP_LOG_INFO("target: controller {} ({}) ends: {}", cntlid, ctrl->subsystem()->nqn(), why);
  keep_alive_.Cancel(*ctrl);
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

// ---- telling controllers about changes ----

void Core::NamespaceChanged(Subsystem& subsystem, uint32_t nsid, std::optional<uint16_t> port_id) {
  // Group membership may have changed, which the ANA log reports.
  ana_.NoteMembershipChange();
  ++genctr_;
  for (Controller* c : controllers_.Where([&](const Controller& c) {
         return c.subsystem() == &subsystem && (!port_id || c.port_id() == *port_id);
       })) {
    c->NoteChangedNs(nsid);
    ControllerTable::Raise(*c, EventKind::kNsAttribute);
  }
}

void Core::AnaChanged(uint16_t port_id) {
  controllers_.RaiseWhere(
      [port_id](const Controller& c) {
        return c.port_id() == port_id && !c.subsystem()->is_discovery();
      },
      EventKind::kAnaChange);
}

void Core::DiscoveryChanged() {
  ++genctr_;
  controllers_.RaiseWhere([](const Controller& c) { return c.subsystem()->is_discovery(); },
                          EventKind::kDiscoveryChange);
}

// ---- stopping ----

void Core::Stop(std::function<void()> done) {
  ports_.CloseListeners();
  connections_.Close(std::nullopt, "target stopping");
  // Runs after the posted reap of the closed connections.
  reactor()->Post([weak = weak_from_this(), done = std::move(done)] {
    if (auto core = weak.lock()) core->connections_.Reap();
    if (done) done();
  });
}

void Core::Shutdown() {
  ports_.CloseListeners();
  connections_.Close(std::nullopt, "target stopping");
  connections_.Reap();
  for (const auto& [id, ctrl] : controllers_.all()) keep_alive_.Cancel(*ctrl);
  controllers_.Clear();
}

}  // namespace nvmpath::target
