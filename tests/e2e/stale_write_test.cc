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
// off" assertion does not hang on one seed's timing. Each run is a schedule of sim::Faults with
// per-step expectations, played by the scenario runner on sim::TcpFabric like every scenario;
// the runner adds the heal, the read-back of every block and the quiesce check.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "mpath/multipath_host.h"
#include "reactor/sim.h"
#include "sim/fault.h"
#include "sim/runner.h"
#include "sim/tcp_fabric.h"
#include "sim_e2e_fabric.h"

namespace nvmpath {
namespace {

using namespace std::chrono_literals;
using blk::CtrlState;

constexpr uint32_t kBs = 512;
// The target executes a parked write this long after its connection closed: inside the CQT it
// reports (a controller honouring CQT has stopped every command by then).
constexpr Duration kLateDelay = 100ms;
constexpr Duration kCqt = 200ms;
constexpr uint32_t kLateWrites = 2;  // of queue depth 4: the others keep rewriting meanwhile
constexpr uint64_t kSeeds[] = {1, 2, 3};

struct Outcome {
  uint64_t ios = 0;
  uint64_t mismatches = 0;
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
    app_errors += o.app_errors;
    fenced += o.fenced;
    gaps += o.gaps;
    gap_max_ns = std::max(gap_max_ns, o.gap_max_ns);
    checker_ok = checker_ok && o.checker_ok;
    return *this;
  }
};

// One late-write scenario on its own world: a schedule the scenario runner plays on
// sim::TcpFabric (the real target with the CQT given, the multipath host with this file's
// timeouts and one reactor, one namespace behind two ports, port 1 optimized), with the steps'
// expectations doing what this test used to do between faults.
enum class Loss { kTargetDrops, kHostTimesOut };  // how port 1's association ends

Outcome RunOne(uint64_t seed, Duration cqt, std::function<void(host::ControllerOptions&)> adjust,
               Loss loss) {
  // This file's host: no fence delay unless the test sets one.
  const sim::TcpFabricOptions fo =
      e2e::SimE2eFabric(seed, 1, 1 << 20, kBs, cqt, [adjust](mpath::MultipathHostOptions& o) {
        if (adjust) adjust(o.controller);
      });
  sim::TcpFabric f(fo);
  auto usable = [&f](size_t i) {
    host::PathNs* p = f.host()->scanner(i)->path(1);
    if (!p) return false;
    auto s = p->state();
    return s.ctrl == CtrlState::kLive && s.ready && !s.ana_pending && nvme::AnaStateIsLive(s.ana);
  };
  auto pause = [](Duration d) {
    return sim::Over(fmt::format("{} ms pass", ToMicros(d) / 1000), d,
                     [] { return [] { return true; }; });
  };
  // Past the late writes' landing, the fence and port 1's reconnect.
  std::vector<sim::Expectation> settle = {
      pause(600ms),
      sim::Eventually("both paths usable again", [&] { return usable(0) && usable(1); }, 5s),
      pause(50ms)};

  sim::Schedule s = {{.at = 20ms, .fault = sim::fault::LateWrites{0, kLateWrites, kLateDelay}}};
  // The connection is lost only once every late write is parked (none left for the reconnect).
  s[0].expect.push_back(sim::Eventually(
      "every late write parked (the workload sent writes through port 1)",
      [&f] { return f.target()->DescribeState()["faults"]["late_writes"].empty(); }, 200ms));
  if (loss == Loss::kTargetDrops) {
    s.push_back({.at = 0ms, .fault = sim::fault::DropConnections{0}, .expect = settle});
  } else {
    // The parked writes outlast io_timeout: the host resets the controller and closes.
    s[0].expect.push_back(
        sim::Eventually("the host gives port 1 up", [&] { return !usable(0); }, 2s));
    for (auto& e : settle) s[0].expect.push_back(e);
  }

  // Once settled, the head's failover gaps (before the runner's own heal and teardown).
  uint64_t gaps = 0;
  uint64_t gap_max_ns = 0;
  s.back().expect.push_back(sim::Eventually(
      "the head's failover gaps read",
      [&] {
        const mpath::HeadStats hs = f.host()->head(1)->TEST_Stats();
        gaps = hs.failover_gap.count();
        gap_max_ns = hs.failover_gap.max_ns();
        return true;
      },
      1s));

  sim::ScenarioOptions o{.seed = seed};
  o.blocks = 16;  // few blocks: the workload soon rewrites the ones whose write went late
  o.block_size = kBs;
  o.max_blocks_per_io = 2;
  o.queue_depth = 4;
  o.error_backoff = 1ms;
  o.settle_limit = 60s;
  const sim::ScenarioReport r = sim::RunScenario(f, s, o);
  Outcome out;
  out.ios = r.ios;
  out.mismatches = r.mismatches;
  out.app_errors = r.app_errors;
  out.fenced = r.fenced_writes;
  out.gaps = gaps;
  out.gap_max_ns = gap_max_ns;
  // A mismatch is a violation of its own; the others (expectations, invariants) must not be.
  out.checker_ok = r.ok();
  for (const std::string& v : r.violations) {
    const bool data = v.rfind("verify: head 0: ", 0) == 0;  // the verify workload's own line
    EXPECT_TRUE(data) << "seed " << seed << ": " << v;
  }
  EXPECT_FALSE(r.hung) << "seed " << seed;
  return out;
}

Outcome RunSeeds(Duration cqt, std::function<void(host::ControllerOptions&)> adjust,
                 Loss loss = Loss::kTargetDrops) {
  Outcome total;
  total.checker_ok = true;
  for (uint64_t seed : kSeeds) {
    Outcome o = RunOne(seed, cqt, adjust, loss);
    EXPECT_GT(o.ios, 100u) << "seed " << seed;
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
      Loss::kHostTimesOut);
  EXPECT_GT(off.mismatches, 0u);
  Outcome on = RunSeeds(kCqt, {}, Loss::kHostTimesOut);
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
