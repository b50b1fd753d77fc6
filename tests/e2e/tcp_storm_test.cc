// The TCP storm over many seeds: the remap storm's faults — plus dropped connections, stalls past
// the I/O timeout, late writes, link faults and the target killed and restarted — played by the
// real target against the real multipath host over the simulated network (sim/tcp_storm.h).
// Every seed must keep every invariant: each Bio completes exactly once, no application error
// while its head has a usable path, no verify mismatch, and every path back after the heal. A
// failing seed prints the command that replays it.
//
// The storm's checks must be able to fail: the second half breaks the host (no write fence) or
// the target (acknowledged data lost) on purpose and shows the storm reporting it.
//
// The seeds are split into kShards test cases (ctest runs them in parallel): shard i runs its
// share of seeds 1..N, N = NVMPATH_TCP_STORM_SEEDS (else NVMPATH_STORM_SEEDS) or 10000 (the
// sanitizer build runs fewer). Each shard prints its wall time per seed (bench/README.md "The
// storms in CI").
#include "sim/tcp_storm.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "mpath/multipath_host.h"
#include "reactor/sim.h"
#include "target/target.h"

namespace nvmpath::sim {
namespace {

constexpr uint64_t kShards = 8;

uint64_t SeedCount(uint64_t fallback) {
  const char* v = std::getenv("NVMPATH_TCP_STORM_SEEDS");
  if (v == nullptr) v = std::getenv("NVMPATH_STORM_SEEDS");  // the remap storm's knob, by hand
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string Describe(const ScenarioReport& r) {
  std::string all;
  for (const auto& v : r.violations) all += "\n  " + v;
  return all;
}

TEST(TcpStorm, SameSeedSameRun) {
  TcpStormOptions o;
  o.seed = 7;
  std::vector<std::string> a, b;
  ScenarioReport ra = RunTcpStorm(o, [&](const std::string& l) { a.push_back(l); });
  ScenarioReport rb = RunTcpStorm(o, [&](const std::string& l) { b.push_back(l); });
  EXPECT_EQ(a, b);
  EXPECT_EQ(ra.ios, rb.ios);
  EXPECT_EQ(ra.failovers, rb.failovers);
  EXPECT_EQ(ra.associations, rb.associations);
  EXPECT_GT(a.size(), 10u);
  EXPECT_TRUE(ra.ok()) << Describe(ra);
}

class TcpStormSeeds : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TcpStormSeeds, KeepEveryInvariant) {
  const uint64_t total = SeedCount(10000);
  const uint64_t first = total * GetParam() / kShards + 1;
  const uint64_t last = total * (GetParam() + 1) / kShards;
  const uint64_t seeds = last + 1 - first;
  uint64_t ios = 0, failovers = 0, verified = 0, events = 0, restarts = 0, associations = 0,
           fenced = 0, virtual_us = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = first; seed <= last; ++seed) {
    TcpStormOptions o;
    o.seed = seed;
    ScenarioReport r = RunTcpStorm(o);
    ios += r.ios;
    failovers += r.failovers;
    verified += r.blocks_verified;
    events += r.events;
    restarts += r.target_restarts;
    associations += r.associations;
    fenced += r.fenced_writes;
    virtual_us += r.run_us;
    EXPECT_EQ(r.mismatches, 0u) << "seed " << seed;
    if (!r.ok()) {
      ADD_FAILURE() << "seed " << seed << " broke invariants:" << Describe(r)
                    << "\nreplay: " << TcpStormReplayCommand(seed) << " --verbose";
    }
  }
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // The storm must actually storm: every event ran, the target was restarted, I/O failed over,
  // controllers reconnected, and every block was read back.
  EXPECT_EQ(events, seeds * TcpStormOptions{}.events);
  EXPECT_GT(failovers, seeds);
  EXPECT_GT(restarts, seeds / 10);
  EXPECT_GT(associations, seeds * 4);
  EXPECT_GE(verified, seeds * TcpStormOptions{}.blocks);
  std::printf(
      "tcp storm: seeds %lu-%lu, %lu I/Os, %lu failovers, %lu target restarts, %lu "
      "associations, %lu fenced writes, %lu blocks verified; %.1f ms virtual and %.2f ms "
      "wall per seed\n",
      first, last, ios, failovers, restarts, associations, fenced, verified, virtual_us / 1000.0 / seeds,
      wall_ms / seeds);
}

INSTANTIATE_TEST_SUITE_P(Shard, TcpStormSeeds, ::testing::Range<uint64_t>(0, kShards));

// Without the write fence, a write that failed over from a dropped connection is overtaken by its
// own stale copy landing late (inside the target's CQT, which the fence would have waited out):
// newer data is overwritten, and verify reads a stale generation.
TEST(TcpStormCatches, MissingWriteFence) {
  std::string all;
  int seeds_with_mismatch = 0;
  for (uint64_t seed = 1; seed <= 40 && seeds_with_mismatch < 2; ++seed) {
    TcpStormOptions o;
    o.seed = seed;
    o.TEST_disable_write_fence = true;
    ScenarioReport r = RunTcpStorm(o);
    if (r.mismatches > 0) ++seeds_with_mismatch;
    for (const auto& v : r.violations) all += v + "\n";
  }
  EXPECT_GE(seeds_with_mismatch, 1) << all;
  EXPECT_NE(all.find("stale or lost write"), std::string::npos) << all;
}

// The target loses acknowledged data: verify finds it.
TEST(TcpStormCatches, LostData) {
  TcpStormOptions o;
  o.seed = 3;
  o.TEST_target_loses_data = true;
  ScenarioReport r = RunTcpStorm(o);
  EXPECT_GT(r.mismatches, 0u);
  EXPECT_NE(Describe(r).find("verify: head 0"), std::string::npos) << Describe(r);
}

}  // namespace
}  // namespace nvmpath::sim

namespace nvmpath::sim {
namespace {

// A fence of the CQT alone does not cover a write held in a black-holed link: it reaches the
// target when the link flows again, after the host gave the connection up and failed the write
// over, and the target (whose keep-alive timer has not run out) executes it over newer data.
// docs/ARCHITECTURE.md ("what the fence does not cover") says to fence KATO + CQT; the storm
// found such seeds before it did. The seeds are the storm's (TcpStormMix): a change to the mix
// draws other schedules, and the seeds that show it are found again (these: the two of 1..1500
// since NsRemapped joined the mix).
TEST(TcpStormCatches, FenceOfCqtAloneUnderALinkBlackHole) {
  std::string all;
  uint64_t mismatches = 0;
  for (uint64_t seed : {604, 1462}) {
    TcpStormOptions o;
    o.seed = seed;
    o.events = 120;
    o.fence_delay = kTcpStormCqt;
    ScenarioReport r = RunTcpStorm(o);
    mismatches += r.mismatches;
    all += Describe(r);
    o.fence_delay.reset();  // the storm's default, KATO + CQT: clean
    ScenarioReport fenced = RunTcpStorm(o);
    EXPECT_TRUE(fenced.ok()) << "seed " << seed << Describe(fenced);
  }
  EXPECT_GT(mismatches, 0u) << all;
  EXPECT_NE(all.find("stale or lost write"), std::string::npos) << all;
}

}  // namespace
}  // namespace nvmpath::sim

namespace nvmpath::sim {
namespace {

using namespace std::chrono_literals;

// Found by the TCP storm (host/ns_scan): the namespace is removed after a scan's Identify Active
// Namespace list and added back before its Identify Namespace, so the Namespace Identification
// Descriptor list between them fails with Invalid Namespace. The scanner used to take that for
// "descriptor list unsupported" and build the identifiers from Identify Namespace alone — no
// UUID — so the path's identifiers "changed"; a head with no other path took the short set, and
// every other controller's path was refused as mismatched until its next scan. Method: the target
// delays every response on the port by 10 ms, which spreads the scan's three commands 10 ms apart
// so the removal and the re-add land between them (the target executes a command as it arrives).
TEST(TcpStormFound, NamespaceFlickeringDuringAScanKeepsItsIdentifiers) {
  constexpr char kNqn[] = "nqn.2026-11.io.nvmpath:flicker";
  reactor::SimWorld world(5);
  reactor::Sim* h = world.AddReactor();
  reactor::Sim* t = world.AddReactor();
  target::TargetConfig c;
  c.ports = {{.id = 1, .address = "127.0.0.1", .port = 4420}};
  target::SubsystemConfig s;
  s.nqn = kNqn;
  const target::NamespaceConfig ns{.nsid = 1, .size_bytes = 1 << 20, .block_size = 512};
  s.namespaces = {ns};
  c.subsystems.push_back(s);
  auto made = target::Target::Create(c, {t});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  std::unique_ptr<target::Target> target = std::move(*made);
  ASSERT_TRUE(target->Start().ok());

  mpath::MultipathHostOptions o;
  o.subnqn = kNqn;
  o.hostnqn = "nqn.2026-11.io.nvmpath:flicker-host";
  o.paths = {{"127.0.0.1", 4420}};
  o.controller.kato = 10s;
  o.controller.admin_timeout = 10s;
  mpath::MultipathHost host(o, {h}, 0);
  std::optional<Status> started;
  h->Post([&] { host.Start([&](Status st) { started = st; }); });
  ASSERT_TRUE(world.RunUntil([&] { return started.has_value(); }, 10s));
  ASSERT_TRUE(started->ok()) << started->ToString();
  world.RunFor(10ms);
  host::NamespaceScanner* scanner = host.scanner(0);
  ASSERT_NE(scanner->path(1), nullptr);
  ASSERT_FALSE(scanner->scanning());

  constexpr Duration kDelay = 10ms;
  bool set = false;
  t->Post([&] { set = target->SetResponseDelay(std::nullopt, kDelay).ok(); });
  world.RunFor(1ms);
  ASSERT_TRUE(set);
  // The list runs at the target ~now; the descriptor list one delay later, Identify Namespace
  // two delays later. Remove between the first two, re-add between the last two.
  h->Post([&] { scanner->Rescan(); });
  world.RunFor(kDelay / 2);
  t->Post([&] { ASSERT_TRUE(target->RemoveNamespace(kNqn, 1).ok()); });
  world.RunFor(kDelay);
  t->Post([&] { ASSERT_TRUE(target->AddNamespace(kNqn, ns).ok()); });
  // Let every scan the AENs started finish.
  world.RunFor(30 * kDelay);
  t->Post([&] { (void)target->SetResponseDelay(std::nullopt, Duration(0)); });
  world.RunFor(100ms);

  EXPECT_EQ(scanner->counters().ids_changed, 0u) << "a flickering namespace changed identifiers";
  EXPECT_EQ(host.counters().identity_replaced, 0u);
  EXPECT_EQ(host.counters().identity_mismatches, 0u);
  ASSERT_NE(host.head(1), nullptr);
  EXPECT_EQ(host.head(1)->path_count(), 1u);

  bool done = false;
  h->Post([&] { host.Shutdown([&] { done = true; }); });
  ASSERT_TRUE(world.RunUntil([&] { return done; }, 10s));
  world.RunFor(10ms);
  bool stopped = false;
  t->Post([&] { target->Stop([&] { stopped = true; }); });
  ASSERT_TRUE(world.RunUntil([&] { return stopped; }, 5s));
}

}  // namespace
}  // namespace nvmpath::sim
