// The remap storm (blktests nvme/058 in the spirit of the seeds) over many seeds: each Bio
// completes exactly once, no application error while a usable path exists, every ticket back with
// its issuer, no verify mismatch. A failing seed prints the command that replays it.
//
// The seeds are split into kShards test cases (ctest runs them in parallel): shard i runs its
// share of seeds 1..N, N = NVMPATH_STORM_SEEDS or 10000 (the sanitizer build runs fewer). Each
// shard prints its seeds and its wall time per seed (bench/README.md "The storms in CI").
#include "sim/remap_storm.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

namespace nvmpath::sim {
namespace {

constexpr uint64_t kShards = 8;

uint64_t SeedCount(uint64_t fallback) {
  const char* v = std::getenv("NVMPATH_STORM_SEEDS");
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(RemapStorm, SameSeedSameRun) {
  StormOptions o;
  o.seed = 5;
  std::vector<std::string> a, b;
  ScenarioReport ra = RunRemapStorm(o, [&](const std::string& l) { a.push_back(l); });
  ScenarioReport rb = RunRemapStorm(o, [&](const std::string& l) { b.push_back(l); });
  EXPECT_EQ(a, b);
  EXPECT_EQ(ra.ios, rb.ios);
  EXPECT_EQ(ra.failovers, rb.failovers);
  EXPECT_GT(a.size(), 10u);
}

class RemapStormSeeds : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RemapStormSeeds, KeepEveryInvariant) {
  const uint64_t total = SeedCount(10000);
  const uint64_t first = total * GetParam() / kShards + 1;
  const uint64_t last = total * (GetParam() + 1) / kShards;
  const uint64_t seeds = last + 1 - first;
  uint64_t ios = 0, failovers = 0, verified = 0, events = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = first; seed <= last; ++seed) {
    StormOptions o;
    o.seed = seed;
    ScenarioReport r = RunRemapStorm(o);
    ios += r.ios;
    failovers += r.failovers;
    verified += r.blocks_verified;
    events += r.events;
    EXPECT_EQ(r.mismatches, 0u) << "seed " << seed;
    if (!r.ok()) {
      std::string all;
      for (auto& v : r.violations) all += "\n  " + v;
      ADD_FAILURE() << "seed " << seed << " broke invariants:" << all
                    << "\nreplay: " << ReplayCommand(seed) << " --verbose";
    }
  }
  // The storm must actually storm: faults happened and I/O failed over.
  EXPECT_EQ(events, seeds * StormOptions{}.events);
  EXPECT_GT(failovers, seeds);
  EXPECT_GT(verified, seeds * 100);
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "remap storm: seeds %lu-%lu, %lu I/Os, %lu failovers, %lu blocks verified; %.2f ms wall "
      "per seed\n",
      first, last, ios, failovers, verified, seeds ? wall_ms / seeds : 0.0);
}

INSTANTIATE_TEST_SUITE_P(Shard, RemapStormSeeds, ::testing::Range<uint64_t>(0, kShards));

}  // namespace
}  // namespace nvmpath::sim

namespace nvmpath::sim {
namespace {

// The storm's checks are not ones that cannot fail: give every path a bug on purpose and the
// storm reports it, with the seed that replays it.
std::string ViolationsWith(sim::MemPathFault fault, uint64_t seeds) {
  std::string all;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    StormOptions o;
    o.seed = seed;
    o.TEST_fault = fault;
    for (auto& v : RunRemapStorm(o).violations) all += v + "\n";
  }
  return all;
}

TEST(RemapStormCatches, PathSideRangeCheck) {
  std::string v = ViolationsWith(sim::MemPathFault::kCheckOwnCapacity, 20);
  EXPECT_NE(v.find("LBA Out of Range"), std::string::npos) << v;
  EXPECT_NE(v.find("had a usable path"), std::string::npos) << v;
}

TEST(RemapStormCatches, LeakedQosTicket) {
  std::string v = ViolationsWith(sim::MemPathFault::kLeakTicketOnError, 20);
  EXPECT_NE(v.find("tickets outstanding but"), std::string::npos) << v;
}

TEST(RemapStormCatches, LostWrite) {
  std::string v = ViolationsWith(sim::MemPathFault::kLoseWrites, 3);
  EXPECT_NE(v.find("verify: head"), std::string::npos) << v;
}

}  // namespace
}  // namespace nvmpath::sim
