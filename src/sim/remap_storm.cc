#include "sim/remap_storm.h"

#include <fmt/format.h>

#include <memory>

#include "base/assert.h"
#include "host/mem_path.h"
#include "mpath/head.h"
#include "reactor/sim.h"
#include "sim/invariants.h"
#include "reactor/sim_random.h"
#include "sim/verify_workload.h"

namespace nvmpath::sim {
namespace {

using blk::AnaState;

constexpr Duration kNotice = std::chrono::microseconds(200);

struct Port {
  std::unique_ptr<host::MemPath> path;  // null while the namespace is not mapped behind the port
  AnaState ana = AnaState::kOptimized;  // the target-side state of this port's group
  bool removing = false;
  bool ctrl_lost = false;
  bool stalled = false;
};

struct HeadRig {
  std::unique_ptr<host::MemNamespace> ns;
  std::unique_ptr<mpath::Head> head;
  std::vector<Port> ports;
  std::vector<std::unique_ptr<VerifyWorkload>> workloads;
};

class Storm {
 public:
  Storm(const StormOptions& o, const std::function<void(const std::string&)>& on_event)
      : o_(o), on_event_(on_event), world_(o.seed), rng_(o.seed ^ 0x5DEECE66Dull) {}

  StormResult Run();
  bool hung() const { return hung_; }

 private:
  reactor::Reactor& home() { return *reactors_[0]; }
  void Log(const std::string& what) {
    if (on_event_) on_event_(fmt::format("t={:.3f}ms {}", ToMicros(world_.now()) / 1000, what));
  }
  void Build();
  std::unique_ptr<host::MemPath> NewPath(int h, int p);
  void ScheduleEvent();
  void Event();
  void CheckTickets();
  void Heal();
  void Finish();
  void Teardown();

  void RemoveNs(int h, int p);
  void ReAddNs(int h, int p);
  void Resize(int h);
  void FlipAna(int h, int p);
  void LoseController(int h, int p);
  void InjectError(int h, int p);
  void StallPath(int h, int p);
  void SlowPath(int h, int p);

  StormOptions o_;
  const std::function<void(const std::string&)>& on_event_;
  reactor::SimWorld world_;
  reactor::SimRandom rng_;
  std::vector<reactor::Reactor*> reactors_;
  std::vector<HeadRig> heads_;
  std::vector<std::unique_ptr<host::MemPath>> graveyard_;  // removed paths, destroyed at the end
  InvariantChecker checker_;
  uint64_t next_bio_id_ = 1;
  int events_done_ = 0;
  int pending_drains_ = 0;
  bool finished_ = false;
  bool hung_ = false;
};

std::unique_ptr<host::MemPath> Storm::NewPath(int h, int p) {
  host::MemPathOptions po;
  po.name = fmt::format("h{}p{}", h, p);
  po.latency = std::chrono::microseconds(rng_.Between(5, 60));
  po.notice_delay = kNotice;
  po.ana = heads_[h].ports[p].ana;
  if (p == 0) po.qos.max_in_flight = 3;  // a path limiter whose tickets must come home
  po.TEST_fault = o_.TEST_fault;
  return std::make_unique<host::MemPath>(po, heads_[h].ns.get(), reactors_, 0);
}

void Storm::Build() {
  for (int r = 0; r < o_.reactors; ++r) reactors_.push_back(world_.AddReactor());
  heads_.resize(o_.heads);
  for (int h = 0; h < o_.heads; ++h) {
    HeadRig& rig = heads_[h];
    rig.ns = std::make_unique<host::MemNamespace>(o_.blocks, o_.block_size);
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
      rig.ports[p].ana = p == 0 ? AnaState::kOptimized
                         : p == 1 ? AnaState::kNonOptimized
                                  : AnaState::kInaccessible;
    }
  }
  // Control-plane set-up runs on the home reactor, like everything that changes a head.
  home().Post([this] {
    for (int h = 0; h < o_.heads; ++h) {
      for (int p = 0; p < o_.ports; ++p) {
        heads_[h].ports[p].path = NewPath(h, p);
        Status st = heads_[h].head->AddPath(heads_[h].ports[p].path.get());
        NVMP_ASSERT(st.ok());
      }
    }
  });
  for (int h = 0; h < o_.heads; ++h) {
    uint64_t per = o_.blocks / o_.reactors;
    for (int r = 0; r < o_.reactors; ++r) {
      VerifyWorkloadOptions wo;
      wo.head_id = static_cast<uint32_t>(h);
      wo.first_lba = per * r;
      wo.blocks = per;
      wo.block_size = o_.block_size;
      wo.queue_depth = o_.queue_depth;
      wo.seed = o_.seed * 1000 + h * 10 + r;
      heads_[h].workloads.push_back(std::make_unique<VerifyWorkload>(
          *heads_[h].head, *reactors_[r], wo, &checker_, &next_bio_id_));
      VerifyWorkload* w = heads_[h].workloads.back().get();
      reactors_[r]->Post([w] { w->Start(); });
    }
  }
}

void Storm::ScheduleEvent() {
  Duration gap = std::chrono::microseconds(rng_.Between(1, 2 * o_.mean_gap.count() / 1000));
  home().AddTimer(gap, [this] { Event(); });
}

void Storm::Event() {
  int h = static_cast<int>(rng_.Below(heads_.size()));
  int p = static_cast<int>(rng_.Below(o_.ports));
  uint64_t dice = rng_.Below(100);
  if (dice < 20) {
    RemoveNs(h, p);
  } else if (dice < 40) {
    ReAddNs(h, p);
  } else if (dice < 48) {
    Resize(h);
  } else if (dice < 68) {
    FlipAna(h, p);
  } else if (dice < 78) {
    LoseController(h, p);
  } else if (dice < 90) {
    InjectError(h, p);
  } else if (dice < 95) {
    StallPath(h, p);
  } else {
    SlowPath(h, p);
  }
  CheckTickets();
  if (++events_done_ < o_.events) {
    ScheduleEvent();
  } else {
    Heal();
  }
}

void Storm::RemoveNs(int h, int p) {
  Port& port = heads_[h].ports[p];
  if (!port.path || port.removing) return;
  Log(fmt::format("head {}: remove namespace behind port {}", h, p));
  port.path->Detach();
  port.removing = true;
  // The host's rescan removes the path some time after the namespace went away: sometimes before
  // it noticed on its own, sometimes after, racing the dispatch of new I/O to it (seed 001).
  Duration when = std::chrono::microseconds(rng_.Below(2 * kNotice.count() / 1000 + 1));
  home().AddTimer(when, [this, h, p] {
    Port& port = heads_[h].ports[p];
    host::MemPath* path = port.path.get();
    ++pending_drains_;
    heads_[h].head->RemovePath(path, [this, h, p] {
      Port& port = heads_[h].ports[p];
      graveyard_.push_back(std::move(port.path));
      port.removing = false;
      port.ctrl_lost = false;
      port.stalled = false;
      --pending_drains_;
      Log(fmt::format("head {}: path {} removed", h, p));
    });
  });
}

void Storm::ReAddNs(int h, int p) {
  Port& port = heads_[h].ports[p];
  if (port.path || port.removing) return;
  Log(fmt::format("head {}: namespace mapped again behind port {} (ANA {})", h, p,
                  blk::AnaStateName(port.ana)));
  port.path = NewPath(h, p);
  Status st = heads_[h].head->AddPath(port.path.get());
  NVMP_ASSERT(st.ok());
}

void Storm::Resize(int h) {
  HeadRig& rig = heads_[h];
  uint64_t blocks = rig.ns->capacity_blocks() + rng_.Between(1, 16);
  Log(fmt::format("head {}: namespace resized to {} blocks", h, blocks));
  rig.ns->Resize(blocks);
  for (Port& port : rig.ports) {
    if (port.path) port.path->NoticeResize();
  }
}

void Storm::FlipAna(int h, int p) {
  static constexpr AnaState kStates[] = {AnaState::kOptimized, AnaState::kNonOptimized,
                                         AnaState::kInaccessible, AnaState::kChange};
  Port& port = heads_[h].ports[p];
  port.ana = kStates[rng_.Below(4)];
  Log(fmt::format("head {}: port {} ANA {}", h, p, blk::AnaStateName(port.ana)));
  if (port.path) port.path->SetAnaState(port.ana);
}

void Storm::LoseController(int h, int p) {
  Port& port = heads_[h].ports[p];
  if (!port.path || port.ctrl_lost) return;
  Log(fmt::format("head {}: controller on port {} lost", h, p));
  port.ctrl_lost = true;
  port.path->LoseController();
  Duration back = std::chrono::microseconds(rng_.Between(100, 1000));
  host::MemPath* path = port.path.get();
  home().AddTimer(back, [this, h, p, path] {
    Port& port = heads_[h].ports[p];
    if (port.path.get() != path || !port.ctrl_lost) return;
    port.ctrl_lost = false;
    path->RestoreController();
    Log(fmt::format("head {}: controller on port {} reconnected", h, p));
  });
}

void Storm::InjectError(int h, int p) {
  static constexpr uint16_t kCodes[] = {nvme::sc::kInternalPathError, nvme::sc::kAnaInaccessible,
                                        nvme::sc::kAnaTransition, nvme::sc::kInternalError,
                                        nvme::sc::kTransientTransportError,
                                        nvme::sc::kInvalidNamespace};
  Port& port = heads_[h].ports[p];
  if (!port.path) return;
  uint16_t code = kCodes[rng_.Below(std::size(kCodes))];
  uint32_t count = static_cast<uint32_t>(rng_.Between(1, 2));
  Log(fmt::format("head {}: port {} fails the next {} commands with {}", h, p, count,
                  nvme::NvmeStatus::Of(code).ToString()));
  port.path->FailNext(count, nvme::NvmeStatus::Of(code));
}

void Storm::StallPath(int h, int p) {
  Port& port = heads_[h].ports[p];
  if (!port.path || port.stalled) return;
  Log(fmt::format("head {}: port {} stalls", h, p));
  port.stalled = true;
  port.path->Stall(true);
  host::MemPath* path = port.path.get();
  home().AddTimer(std::chrono::microseconds(rng_.Between(50, 500)), [this, h, p, path] {
    Port& port = heads_[h].ports[p];
    if (port.path.get() != path || !port.stalled) return;
    port.stalled = false;
    path->Stall(false);
    Log(fmt::format("head {}: port {} resumes", h, p));
  });
}

void Storm::SlowPath(int h, int p) {
  Port& port = heads_[h].ports[p];
  if (!port.path) return;
  Duration latency = std::chrono::microseconds(rng_.Between(5, 400));
  Log(fmt::format("head {}: port {} latency {}us", h, p, latency.count() / 1000));
  port.path->SetLatency(latency);
}

void Storm::CheckTickets() {
  for (HeadRig& rig : heads_) {
    for (Port& port : rig.ports) {
      if (!port.path) continue;
      for (int r = 0; r < o_.reactors; ++r) {
        if (const blk::Limiter* l = port.path->TEST_Limiter(r)) {
          checker_.CheckTickets(*l, port.path->TEST_TicketsHeld(r));
        }
      }
    }
  }
}

void Storm::Heal() {
  Log("heal: every port mapped, optimized or non-optimized, connected, unstalled");
  for (int h = 0; h < o_.heads; ++h) {
    for (int p = 0; p < o_.ports; ++p) {
      Port& port = heads_[h].ports[p];
      AnaState want = p == 0 ? AnaState::kOptimized : AnaState::kNonOptimized;
      port.ana = want;
      if (!port.path) {
        if (!port.removing) ReAddNs(h, p);
        continue;
      }
      port.path->SetAnaState(want);
      if (port.stalled) port.path->Stall(false);
      port.stalled = false;
      if (port.ctrl_lost) port.path->RestoreController();
      port.ctrl_lost = false;
    }
  }
  // Let the heads settle, then re-add what was still being removed, then stop and verify.
  home().AddTimer(std::chrono::milliseconds(2), [this] {
    for (int h = 0; h < o_.heads; ++h) {
      for (int p = 0; p < o_.ports; ++p) {
        if (!heads_[h].ports[p].path && !heads_[h].ports[p].removing) ReAddNs(h, p);
      }
    }
    home().AddTimer(std::chrono::milliseconds(2), [this] { Finish(); });
  });
}

void Storm::Finish() {
  auto left = std::make_shared<int>(0);
  for (HeadRig& rig : heads_) {
    for (size_t r = 0; r < rig.workloads.size(); ++r) {
      VerifyWorkload* w = rig.workloads[r].get();
      ++*left;
      reactors_[r]->Post([this, w, left] {
        w->Stop([this, w, left] {
          w->VerifyAll([this, left] {
            if (--*left == 0) finished_ = true;
          });
        });
      });
    }
  }
}

void Storm::Teardown() {
  bool removed = false;
  int to_remove = 0;
  auto count = std::make_shared<int>(0);
  home().Post([&, count] {
    for (HeadRig& rig : heads_) {
      for (Port& port : rig.ports) {
        if (!port.path || port.removing) continue;
        ++to_remove;
        host::MemPath* path = port.path.get();
        rig.head->RemovePath(path, [count] { ++*count; });
      }
    }
    removed = true;
  });
  world_.RunUntil([&] { return removed && *count == to_remove && pending_drains_ == 0; },
                  std::chrono::seconds(10));
  world_.RunUntilIdle(10'000'000);
  for (HeadRig& rig : heads_) {
    rig.workloads.clear();
    rig.head.reset();
    rig.ports.clear();
  }
  graveyard_.clear();
}

StormResult Storm::Run() {
  Build();
  ScheduleEvent();
  // A livelock spins in zero virtual time, so bound the events as well as the clock.
  constexpr uint64_t kMaxEvents = 20'000'000;
  uint64_t start_events = world_.events_run();
  bool spinning = false;
  world_.RunUntil(
      [&] {
        spinning = world_.events_run() - start_events > kMaxEvents;
        return finished_ || spinning;
      },
      std::chrono::seconds(30));
  StormResult result;
  result.seed = o_.seed;
  result.events = static_cast<uint64_t>(events_done_);
  if (!finished_) {
    uint64_t in_flight = 0;
    for (HeadRig& rig : heads_) {
      for (auto& w : rig.workloads) in_flight += w->in_flight();
    }
    checker_.OnDataError(fmt::format("scenario did not finish ({}): {} I/Os still in flight",
                                     spinning ? "livelock: 20M events without finishing"
                                              : "hang: 30 s of virtual time",
                                     in_flight));
    result.violations = checker_.violations();
    hung_ = true;
    return result;
  }
  checker_.CheckQuiesced();
  CheckTickets();
  for (HeadRig& rig : heads_) {
    for (auto& w : rig.workloads) {
      result.ios += w->stats().ios;
      result.blocks_verified += w->stats().blocks_verified;
      result.mismatches += w->stats().mismatches;
    }
    mpath::HeadStats stats = rig.head->TEST_Stats();
    result.failovers += stats.head.failovers;
    result.requeues += stats.head.requeues;
  }
  result.app_errors = checker_.app_errors();
  Teardown();
  result.violations = checker_.violations();
  return result;
}

}  // namespace

StormResult RunRemapStorm(const StormOptions& options,
                          const std::function<void(const std::string&)>& on_event) {
  auto storm = std::make_unique<Storm>(options, on_event);
  StormResult result = storm->Run();
  // A hung run cannot be torn down (Bios are still owned by paths): keep it reachable for the
  // life of the process (so leak checkers stay quiet) and report the seed.
  if (storm->hung()) {
    static auto* hung_runs = new std::vector<std::unique_ptr<Storm>>;
    hung_runs->push_back(std::move(storm));
  }
  return result;
}

std::string ReplayCommand(uint64_t seed) {
  return fmt::format("nvmpath sim --scenario remap-storm --seeds {}", seed);
}

}  // namespace nvmpath::sim
