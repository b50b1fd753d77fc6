// Stale-write fencing end to end (docs/ARCHITECTURE.md "Stale-write fencing"): the multipath
// host against the project's target on reactor::Sim, with the target executing writes late.
//
// Goal: a write whose connection was lost may still execute on the old controller; if the host
// repeats it on another path at once, the application's next write to the same blocks can be
// overwritten by the stale copy. With the fence (the target's CQT, or --fence-delay) the verify
// workload never sees that; with the fence off (test option), or with a target that reports no
// CQT and no fence_delay configured, it does — which shows the hazard is real.
// Method: one subsystem, one namespace behind two ports (port 1 optimized). A VerifyWorkload
// with an InvariantChecker rewrites a small block range through the head. The target parks the
// next writes arriving through port 1 (late writes) and executes them 100 ms after their
// connection closes; then it drops port 1's connections. The host fails those writes over to
// port 2, the workload keeps rewriting the same blocks, then stops and reads every block back.
// Each run is deterministic (its own SimWorld and seed); a few seeds are summed so the "fence
// off" assertion does not hang on one seed's timing. The target and its faults are described as
// every scenario describes them (sim::TargetModel, sim::Fault played by sim::ApplyToTarget).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "mpath/multipath_host.h"
#include "reactor/sim.h"
#include "sim/fault.h"
#include "sim/invariants.h"
#include "sim/target_faults.h"
#include "sim/verify_workload.h"
#include "target/target.h"

namespace nvmpath {
namespace {

using namespace std::chrono_literals;
using blk::CtrlState;
using nvme::AnaState;

constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:stale";
constexpr char kHostnqn[] = "nqn.2024-01.io.nvmpath:stale-host";
constexpr uint32_t kBs = 512;
constexpr uint16_t kPort1 = 4420;  // port index 0 (port ID 1); port index 1 is kPort1 + 1
// The target executes a parked write this long after its connection closed: inside the CQT it
// reports (a controller honouring CQT has stopped every command by then).
constexpr Duration kLateDelay = 100ms;
constexpr Duration kCqt = 200ms;
constexpr uint32_t kLateWrites = 2;  // of queue depth 4: the others keep rewriting meanwhile
constexpr uint64_t kSeeds[] = {1, 2, 3};

struct Outcome {
  uint64_t ios = 0;
  uint64_t mismatches = 0;
  uint64_t errors = 0;
  uint64_t app_errors = 0;
  uint64_t fenced = 0;
  // The head's failover gaps (docs/ARCHITECTURE.md "Statistics"): a fenced write's starts when
  // its connection was lost, so it spans the fence.
  uint64_t gaps = 0;
  uint64_t gap_max_ns = 0;
  bool checker_ok = false;

  Outcome& operator+=(const Outcome& o) {
    ios += o.ios;
    mismatches += o.mismatches;
    errors += o.errors;
    app_errors += o.app_errors;
    fenced += o.fenced;
    gaps += o.gaps;
    gap_max_ns = std::max(gap_max_ns, o.gap_max_ns);
    checker_ok = checker_ok && o.checker_ok;
    return *this;
  }
};

// One host + target world, one late-write scenario.
class StaleWriteRun {
 public:
  StaleWriteRun(uint64_t seed, Duration cqt, std::function<void(host::ControllerOptions&)> adjust)
      : world_(seed), seed_(seed) {
    h0_ = world_.AddReactor();
    t_ = world_.AddReactor();
    StartTarget(cqt);
    StartHost(std::move(adjust));
  }

  ~StaleWriteRun() {
    if (host_) {
      bool done = false;
      h0_->Post([&] { host_->Shutdown([&] { done = true; }); });
      EXPECT_TRUE(world_.RunUntil([&] { return done; }, 30s)) << "host shutdown hung";
      world_.RunFor(10ms);
      host_.reset();
    }
    bool stopped = false;
    target_->Stop([&] { stopped = true; });
    world_.RunUntil([&] { return stopped; }, 5s);
  }

  // How port 1's association ends with the late writes outstanding.
  enum class Loss { kTargetDrops, kHostTimesOut };

  Outcome Run(Loss loss) {
    Outcome out;
    if (!started_) return out;
    sim::VerifyWorkloadOptions w;
    w.head_id = 1;
    w.blocks = 16;  // few blocks: the workload soon rewrites the ones whose write went late
    w.block_size = kBs;
    w.max_blocks_per_io = 2;
    w.queue_depth = 4;
    w.seed = seed_;
    w.error_backoff = 1ms;
    workload_ =
        std::make_unique<sim::VerifyWorkload>(*host_->head(1), *h0_, w, &checker_, &next_id_);
    h0_->Post([this] { workload_->Start(); });
    world_.RunFor(20ms);

    Play(sim::fault::LateWrites{0, kLateWrites, kLateDelay});
    // Drop the connection only once every late write is parked (none left for the reconnect).
    bool parked = false;
    for (int i = 0; i < 200 && !parked; ++i) {
      world_.RunFor(1ms);
      OnTarget([&] { parked = target_->DescribeState()["faults"]["late_writes"].empty(); });
    }
    EXPECT_TRUE(parked) << "the workload sent no write through port 1";
    if (loss == Loss::kTargetDrops) {
      Play(sim::fault::DropConnections{0});
    } else {
      // The parked writes outlast io_timeout: the host resets the controller and closes.
      EXPECT_TRUE(world_.RunUntil([&] { return !Usable(0); }, 2s));
    }
    // Past the late writes' landing, the fence and port 1's reconnect.
    world_.RunFor(600ms);
    EXPECT_TRUE(world_.RunUntil([&] { return Usable(0) && Usable(1); }, 5s))
        << host_->head(1)->DescribePathStates();
    world_.RunFor(50ms);

    bool verified = false;
    h0_->Post([&] { workload_->Stop([&] { workload_->VerifyAll([&] { verified = true; }); }); });
    EXPECT_TRUE(world_.RunUntil([&] { return verified; }, 60s));
    checker_.CheckQuiesced();
    const sim::VerifyStats& st = workload_->stats();
    out.ios = st.ios;
    out.mismatches = st.mismatches;
    out.errors = st.errors;
    out.app_errors = checker_.app_errors();
    out.checker_ok = checker_.ok();
    for (size_t i = 0; i < 2; ++i) {
      if (host::PathNs* p = host_->scanner(i)->path(1))
        out.fenced += p->TEST_Counters().fenced_writes;
    }
    const mpath::HeadStats hs = host_->head(1)->TEST_Stats();
    out.gaps = hs.failover_gap.count();
    out.gap_max_ns = hs.failover_gap.max_ns();
    return out;
  }

 private:
  void StartTarget(Duration cqt) {
    model_ = sim::TargetModel::Make(kSubnqn, 2, kPort1, 1, 1 << 20);
    model_.block_size = kBs;
    model_.cqt = cqt;
    model_.ana[1][0] = AnaState::kNonOptimized;
    auto t = target::Target::Create(model_.Config(), {t_});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    ASSERT_TRUE(target_->Start().ok());
  }

  void StartHost(std::function<void(host::ControllerOptions&)> adjust) {
    mpath::MultipathHostOptions o;
    o.subnqn = kSubnqn;
    o.hostnqn = kHostnqn;
    o.hostid[15] = 9;
    o.paths = {{model_.address, model_.tcp_ports[0]}, {model_.address, model_.tcp_ports[1]}};
    o.controller.reconnect_delay = 200ms;
    o.controller.ctrl_loss_tmo = 60s;
    o.controller.io_timeout = 1s;
    o.controller.kato = 2s;
    if (adjust) adjust(o.controller);
    host_ = std::make_unique<mpath::MultipathHost>(o, std::vector<reactor::Reactor*>{h0_}, 0);
    std::optional<Status> st;
    h0_->Post([&] { host_->Start([&](Status s) { st = s; }); });
    ASSERT_TRUE(world_.RunUntil([&] { return st.has_value(); }, 30s));
    ASSERT_TRUE(st->ok()) << st->ToString();
    ASSERT_TRUE(world_.RunUntil([&] { return host_->head(1) && Usable(0) && Usable(1); }, 5s));
    started_ = true;
  }

  bool Usable(size_t i) const {
    host::PathNs* p = host_->scanner(i)->path(1);
    if (!p) return false;
    auto s = p->state();
    return s.ctrl == CtrlState::kLive && s.ready && !s.ana_pending && nvme::AnaStateIsLive(s.ana);
  }

  // Plays a fault on the target, as every scenario does; it must be accepted.
  void Play(const sim::Fault& fault) {
    OnTarget([&] {
      Status st = sim::ApplyToTarget(target_.get(), model_, fault);
      EXPECT_TRUE(st.ok()) << sim::Describe(fault) << ": " << st.ToString();
    });
  }

  void OnTarget(std::function<void()> fn) {
    bool done = false;
    t_->Post([&] {
      fn();
      done = true;
    });
    ASSERT_TRUE(world_.RunUntil([&] { return done; }, 1s));
  }

  reactor::SimWorld world_;
  const uint64_t seed_;
  reactor::Sim* h0_;
  reactor::Sim* t_;
  sim::TargetModel model_;
  std::unique_ptr<target::Target> target_;
  std::unique_ptr<mpath::MultipathHost> host_;
  bool started_ = false;
  sim::InvariantChecker checker_;
  uint64_t next_id_ = 1;
  std::unique_ptr<sim::VerifyWorkload> workload_;
};

Outcome RunSeeds(Duration cqt, std::function<void(host::ControllerOptions&)> adjust,
                 StaleWriteRun::Loss loss = StaleWriteRun::Loss::kTargetDrops) {
  Outcome total;
  total.checker_ok = true;
  for (uint64_t seed : kSeeds) {
    StaleWriteRun run(seed, cqt, adjust);
    Outcome o = run.Run(loss);
    EXPECT_GT(o.ios, 100u) << "seed " << seed;
    EXPECT_EQ(o.errors, 0u) << "seed " << seed;
    EXPECT_EQ(o.app_errors, 0u) << "seed " << seed;
    std::printf("  seed %lu: ios %lu mismatches %lu fenced %lu\n", (unsigned long)seed,
                (unsigned long)o.ios, (unsigned long)o.mismatches, (unsigned long)o.fenced);
    total += o;
  }
  return total;
}

// The hazard is real: without a fence, a write failed over at once is overwritten later by its
// own stale copy, and the verify workload catches it.
TEST(StaleWriteTest, FenceOffTheVerifyWorkloadCatchesStaleOverwrites) {
  Outcome o = RunSeeds(kCqt, [](host::ControllerOptions& c) { c.TEST_disable_write_fence = true; });
  EXPECT_GT(o.mismatches, 0u)
      << "the late writes never overwrote newer data: the test shows nothing";
  EXPECT_EQ(o.fenced, 0u);
  EXPECT_GT(o.gaps, 0u);
  EXPECT_LT(o.gap_max_ns, static_cast<uint64_t>(kCqt.count())) << "nothing waited for a fence";
}

// With the target's CQT the lost writes wait out the quiesce time before failover: no stale
// overwrite, no application error.
TEST(StaleWriteTest, FenceFromCqtPreventsStaleOverwrites) {
  Outcome o = RunSeeds(kCqt, {});
  EXPECT_EQ(o.mismatches, 0u);
  EXPECT_TRUE(o.checker_ok);
  EXPECT_GT(o.fenced, 0u) << "no write was fenced: the scenario did not lose any write";
  // The fenced writes' failover gaps include the fence.
  EXPECT_GE(o.gap_max_ns, static_cast<uint64_t>(kCqt.count()));
}

// The host ends the association itself (command timeout → reset): the fence runs from the
// host's loss, and the target, seeing the connection close, executes the late writes inside CQT.
TEST(StaleWriteTest, FenceFromCqtCoversAHostReset) {
  Outcome off = RunSeeds(
      kCqt, [](host::ControllerOptions& c) { c.TEST_disable_write_fence = true; },
      StaleWriteRun::Loss::kHostTimesOut);
  EXPECT_GT(off.mismatches, 0u);
  Outcome on = RunSeeds(kCqt, {}, StaleWriteRun::Loss::kHostTimesOut);
  EXPECT_EQ(on.mismatches, 0u);
  EXPECT_TRUE(on.checker_ok);
  EXPECT_GT(on.fenced, 0u);
}

// A target that reports no CQT: fence_delay covers it.
TEST(StaleWriteTest, FenceDelayPreventsStaleOverwritesWithoutCqt) {
  Outcome o = RunSeeds(0ms, [](host::ControllerOptions& c) { c.fence_delay = kCqt; });
  EXPECT_EQ(o.mismatches, 0u);
  EXPECT_TRUE(o.checker_ok);
  EXPECT_GT(o.fenced, 0u);
}

// A target that reports no CQT and no fence_delay: nothing to wait for, so the host is exposed
// (as Linux mainline is) — why fence_delay exists.
TEST(StaleWriteTest, NoCqtAndNoFenceDelayIsExposed) {
  Outcome o = RunSeeds(0ms, {});
  EXPECT_GT(o.mismatches, 0u);
  EXPECT_EQ(o.fenced, 0u);
}

}  // namespace
}  // namespace nvmpath
