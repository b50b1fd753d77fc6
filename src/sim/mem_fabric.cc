#include "sim/mem_fabric.h"

#include <fmt/format.h>

#include <optional>

#include "base/assert.h"
#include "sim/bounded_run.h"
#include "sim/host_faults.h"
#include "sim/runner.h"

namespace nvmpath::sim {

using nvme::AnaState;
using namespace std::chrono_literals;

namespace {

// The host learns a target-side change (an ANA change notice and log read, a rescan) this long
// after it happened.
constexpr Duration kNotice = 200us;

AnaState HealedAna(int p) { return p == 0 ? AnaState::kOptimized : AnaState::kNonOptimized; }

Status NotHere(const char* what) {
  return Status(Code::kUnsupported, fmt::format("in-process paths have no {}", what));
}

}  // namespace

MemFabric::MemFabric(const MemFabricOptions& options)
    : o_(options), world_(options.seed), rng_(options.seed ^ 0x5DEECE66Dull) {}

MemFabric::~MemFabric() = default;

bool MemFabric::RunUntil(const std::function<bool()>& done, Duration limit) {
  return RunBounded(world_, done, limit, &spinning_);
}

Status MemFabric::OnHome(const std::function<Status()>& fn) {
  std::optional<Status> result;
  home().Post([&] { result = fn(); });
  if (!RunUntil([&] { return result.has_value(); }, 1s)) {
    return Status(Code::kTimedOut, "the home reactor did not run a control task");
  }
  return *result;
}

void MemFabric::NewPath(int h, int p) {
  Port& port = heads_[h].ports[p];
  MemPathOptions po;
  po.name = fmt::format("h{}p{}", h, p);
  po.latency = std::chrono::microseconds(rng_.Between(5, 60));
  po.notice_delay = kNotice;
  po.ana = port.ana;
  if (p == 0) po.qos.max_in_flight = 3;  // a path limiter whose tickets must come home
  po.TEST_fault = o_.TEST_fault;
  port.latency = po.latency;
  port.path = std::make_unique<MemPath>(po, heads_[h].ns.get(), reactors_, 0);
  Status st = heads_[h].head->AddPath(port.path.get());
  NVMP_ASSERT(st.ok());
}

Status MemFabric::Start() {
  for (int r = 0; r < o_.reactors; ++r) reactors_.push_back(world_.AddReactor());
  heads_.resize(o_.heads);
  for (int h = 0; h < o_.heads; ++h) {
    HeadRig& rig = heads_[h];
    rig.ns = std::make_unique<MemNamespace>(o_.blocks, o_.block_size);
    mpath::HeadOptions ho;
    ho.name = fmt::format("nqn.2026-11.io.nvmpath:storm:ns{}", h + 1);
    ho.policy = static_cast<mpath::Policy>(rng_.Below(3));
    if (h == 0) {
      ho.qos.max_in_flight = 6;
      ho.qos.iops = 400000;
    }
    rig.head = std::make_unique<mpath::Head>(ho, reactors_, 0);
    rig.ports.resize(o_.ports);
    for (int p = 0; p < o_.ports; ++p) {
      rig.ports[p].ana = p == 0   ? AnaState::kOptimized
                         : p == 1 ? AnaState::kNonOptimized
                                  : AnaState::kInaccessible;
    }
  }
  return OnHome([this] {
    for (int h = 0; h < o_.heads; ++h) {
      for (int p = 0; p < o_.ports; ++p) NewPath(h, p);
    }
    return Status::Ok();
  });
}

std::vector<mpath::Head*> MemFabric::heads() const {
  std::vector<mpath::Head*> out;
  for (const HeadRig& rig : heads_) out.push_back(rig.head.get());
  return out;
}

// The namespace goes away behind the port; the host's rescan removes the path some time after:
// sometimes before it noticed on its own, sometimes after, racing the dispatch of new I/O to it
// (seed 001). REQUIRES: home.
void MemFabric::Detach(int h, int p) {
  Port& port = heads_[h].ports[p];
  port.reattach = false;
  if (!port.path || port.removing) return;
  port.path->Detach();
  port.removing = true;
  Duration when = std::chrono::microseconds(rng_.Below(2 * ToMicros(kNotice) + 1));
  home().AddTimer(when, [this, h, p] {
    MemPath* path = heads_[h].ports[p].path.get();
    ++pending_drains_;
    heads_[h].head->RemovePath(path, [this, h, p] {
      Port& port = heads_[h].ports[p];
      graveyard_.push_back(std::move(port.path));
      port.removing = false;
      port.ctrl_lost = false;
      port.stalled = false;
      --pending_drains_;
      if (port.reattach) Attach(h, p);
    });
  });
}

void MemFabric::Attach(int h, int p) {
  Port& port = heads_[h].ports[p];
  if (port.removing) {
    port.reattach = true;  // once the host has removed the old path
    return;
  }
  port.reattach = false;
  if (!port.path) NewPath(h, p);
}

// The controller behind the port is lost (every in-flight attempt aborts) and reconnects after
// a while. REQUIRES: home.
void MemFabric::LoseController(int h, int p) {
  Port& port = heads_[h].ports[p];
  if (!port.path || port.ctrl_lost) return;
  port.ctrl_lost = true;
  port.path->LoseController();
  MemPath* path = port.path.get();
  home().AddTimer(std::chrono::microseconds(rng_.Between(100, 1000)), [this, h, p, path] {
    Port& port = heads_[h].ports[p];
    if (port.path.get() != path || !port.ctrl_lost) return;
    port.ctrl_lost = false;
    path->RestoreController();
  });
}

// Each fault, on home.
struct MemFabric::Applier {
  MemFabric& f;

  template <typename Fn>
  Status EveryHead(int p, Fn fn) {
    if (p < 0 || p >= f.o_.ports) return Status(Code::kInvalidArgument, fmt::format("no port {}", p + 1));
    for (int h = 0; h < f.o_.heads; ++h) fn(h, f.heads_[h].ports[p]);
    return Status::Ok();
  }
  Port* At(int p, int h) {
    if (p < 0 || p >= f.o_.ports || h < 0 || h >= f.o_.heads) return nullptr;
    return &f.heads_[h].ports[p];
  }
  static Status NoSuch(int p, int h) {
    return Status(Code::kInvalidArgument, fmt::format("no port {} or namespace {}", p + 1, h + 1));
  }

  Status operator()(const fault::Ana& x) {
    Port* port = At(x.port, x.ns);
    if (!port) return NoSuch(x.port, x.ns);
    port->ana = x.state;
    if (port->path) port->path->SetAnaState(x.state);
    return Status::Ok();
  }
  Status operator()(const fault::NsAttached& x) {
    if (!At(x.port, x.ns)) return NoSuch(x.port, x.ns);
    if (x.attached) {
      f.Attach(x.ns, x.port);
    } else {
      f.Detach(x.ns, x.port);
    }
    return Status::Ok();
  }
  Status operator()(const fault::NsPresent& x) {
    if (!At(0, x.ns)) return NoSuch(0, x.ns);
    if (x.present && x.fresh) {  // the data is gone: shrink to nothing and grow back
      MemNamespace& ns = *f.heads_[x.ns].ns;
      const uint64_t blocks = ns.capacity_blocks();
      ns.Resize(0);
      ns.Resize(blocks);
    }
    for (int p = 0; p < f.o_.ports; ++p) {
      if (x.present) {
        f.Attach(x.ns, p);
      } else {
        f.Detach(x.ns, p);
      }
    }
    return Status::Ok();
  }
  // In-process paths carry no identifiers: a remap is every path leaving and coming back, the
  // data kept.
  Status operator()(const fault::NsRemapped& x) {
    if (!At(0, x.ns)) return NoSuch(0, x.ns);
    for (int p = 0; p < f.o_.ports; ++p) f.Detach(x.ns, p);
    for (int p = 0; p < f.o_.ports; ++p) f.Attach(x.ns, p);
    return Status::Ok();
  }
  Status operator()(const fault::NsGrow& x) {
    if (!At(0, x.ns)) return NoSuch(0, x.ns);
    HeadRig& rig = f.heads_[x.ns];
    rig.ns->Resize(rig.ns->capacity_blocks() + x.blocks);
    for (Port& port : rig.ports) {
      if (port.path) port.path->NoticeResize();
    }
    return Status::Ok();
  }
  Status operator()(const fault::FailNext& x) {
    Port* port = At(x.port, x.ns);
    if (!port) return NoSuch(x.port, x.ns);
    std::optional<blk::Op> op;
    if (x.opcode) op = *x.opcode == 1 ? blk::Op::kWrite : blk::Op::kRead;
    if (port->path) port->path->FailNext(x.count, x.status, op);
    return Status::Ok();
  }
  Status operator()(const fault::StallResponses& x) {
    return EveryHead(x.port, [&](int, Port& port) {
      if (!port.path || port.stalled == x.stalled) return;
      port.stalled = x.stalled;
      port.path->Stall(x.stalled);
    });
  }
  Status operator()(const fault::DelayResponses& x) {
    return EveryHead(x.port, [&](int, Port& port) {
      if (port.path) port.path->SetLatency(x.delay > Duration(0) ? x.delay : port.latency);
    });
  }
  Status operator()(const fault::DropConnections& x) {
    return EveryHead(x.port, [&](int h, Port&) { f.LoseController(h, x.port); });
  }
  Status operator()(const fault::PortEnabled&) { return NotHere("ports to disable"); }
  Status operator()(const fault::LateWrites&) { return NotHere("late writes"); }
  Status operator()(const fault::LinkCut&) { return NotHere("links"); }
  Status operator()(const fault::LinkRefuse&) { return NotHere("links"); }
  Status operator()(const fault::LinkStall&) { return NotHere("links"); }
  Status operator()(const fault::LinkLatency&) { return NotHere("links"); }
  Status operator()(const fault::LinkDown&) { return NotHere("links"); }
  Status operator()(const fault::LinkRate&) { return NotHere("links"); }
  Status operator()(const fault::LinkChunking&) { return NotHere("links"); }
  Status operator()(const fault::TargetKill&) { return NotHere("target to kill"); }
  Status operator()(const fault::TargetRestart&) { return NotHere("target to restart"); }
  Status operator()(const fault::LoseData&) { return NotHere("media to lose data from"); }
  Status operator()(const fault::Checkpoint&) { return Status::Ok(); }
  // Played by MemFabric::Apply before this visitor (ApplyToHost: it runs the model itself).
  Status operator()(const fault::HostPolicy&) { return Status(Code::kInternal, "unreachable"); }
};

Status MemFabric::Apply(const Fault& fault) {
  if (IsHostFault(fault)) return ApplyToHost(*this, home(), fault);
  return OnHome([&] { return std::visit(Applier{*this}, fault); });
}

void MemFabric::CheckAfterEvent(InvariantChecker& checker) {
  for (HeadRig& rig : heads_) {
    for (Port& port : rig.ports) {
      if (!port.path) continue;
      for (int r = 0; r < o_.reactors; ++r) {
        if (const blk::Limiter* l = port.path->TEST_Limiter(r)) {
          checker.CheckTickets(*l, port.path->TEST_TicketsHeld(r));
        }
      }
    }
  }
}

Status MemFabric::Heal() {
  return OnHome([this] {
    for (int h = 0; h < o_.heads; ++h) {
      for (int p = 0; p < o_.ports; ++p) {
        Port& port = heads_[h].ports[p];
        port.ana = HealedAna(p);
        Attach(h, p);
        // A path still being removed is released too: its drain waits for its attempts.
        if (!port.path) continue;
        port.path->SetAnaState(port.ana);
        port.path->SetLatency(port.latency);
        if (port.stalled) port.path->Stall(false);
        port.stalled = false;
        if (port.ctrl_lost) port.path->RestoreController();
        port.ctrl_lost = false;
      }
    }
    return Status::Ok();
  });
}

bool MemFabric::AllPathsBack() const {
  for (const HeadRig& rig : heads_) {
    for (const Port& port : rig.ports) {
      if (!port.path || port.removing) return false;
      const blk::PathState s = port.path->state();
      if (s.ctrl != blk::CtrlState::kLive || !s.ready || s.ana_pending || s.ana != port.ana) {
        return false;
      }
    }
    if (rig.head->path_count() != static_cast<size_t>(o_.ports) || !rig.head->HasUsablePath()) {
      return false;
    }
  }
  return true;
}

std::string MemFabric::DescribePaths() const {
  std::string out;
  for (size_t h = 0; h < heads_.size(); ++h) {
    out += fmt::format("{}head {}: {}", h ? "; " : "", h, heads_[h].head->DescribePathStates());
  }
  return out;
}

void MemFabric::AddTotals(ScenarioReport& report) {
  report.ports = o_.ports;
  for (HeadRig& rig : heads_) {
    mpath::HeadStats stats = rig.head->TEST_Stats();
    report.failovers += stats.head.failovers;
    report.requeues += stats.head.requeues;
    report.retries += stats.head.retries;
  }
}

Status MemFabric::Stop() {
  if (heads_.empty()) return Status::Ok();
  int to_remove = 0;
  auto removed = std::make_shared<int>(0);
  Status st = OnHome([&] {
    for (HeadRig& rig : heads_) {
      for (Port& port : rig.ports) {
        port.reattach = false;
        if (!port.path || port.removing) continue;
        ++to_remove;
        rig.head->RemovePath(port.path.get(), [removed] { ++*removed; });
      }
    }
    return Status::Ok();
  });
  if (!st.ok() ||
      !RunUntil([&] { return *removed == to_remove && pending_drains_ == 0; }, 10s)) {
    return Status(Code::kTimedOut, "paths did not drain: " + DescribePaths());
  }
  world_.RunUntilIdle(10'000'000);
  for (HeadRig& rig : heads_) {
    rig.head.reset();
    rig.ports.clear();
  }
  heads_.clear();
  graveyard_.clear();
  return Status::Ok();
}

}  // namespace nvmpath::sim
