// The remap storm (blktests nvme/058 in the spirit of the seeds) over many seeds: each Bio
// completes exactly once, no application error while a usable path exists, every ticket back with
// its issuer, no verify mismatch. A failing seed prints the command that replays it.
//
// NVMPATH_STORM_SEEDS overrides the seed count (the sanitizer build runs fewer).
#include "sim/remap_storm.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace nvmpath::sim {
namespace {

uint64_t SeedCount(uint64_t fallback) {
  const char* v = std::getenv("NVMPATH_STORM_SEEDS");
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(RemapStorm, SameSeedSameRun) {
  StormOptions o;
  o.seed = 5;
  std::vector<std::string> a, b;
  StormResult ra = RunRemapStorm(o, [&](const std::string& l) { a.push_back(l); });
  StormResult rb = RunRemapStorm(o, [&](const std::string& l) { b.push_back(l); });
  EXPECT_EQ(a, b);
  EXPECT_EQ(ra.ios, rb.ios);
  EXPECT_EQ(ra.failovers, rb.failovers);
  EXPECT_GT(a.size(), 10u);
}

TEST(RemapStorm, ManySeedsKeepEveryInvariant) {
  uint64_t seeds = SeedCount(1000);
  uint64_t ios = 0, failovers = 0, verified = 0, events = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    StormOptions o;
    o.seed = seed;
    StormResult r = RunRemapStorm(o);
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
  std::printf("remap storm: %lu seeds, %lu I/Os, %lu failovers, %lu blocks verified\n", seeds, ios,
              failovers, verified);
}

}  // namespace
}  // namespace nvmpath::sim

namespace nvmpath::sim {
namespace {

// The storm's checks are not ones that cannot fail: give every path a bug on purpose and the
// storm reports it, with the seed that replays it.
std::string ViolationsWith(host::MemPathFault fault, uint64_t seeds) {
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
  std::string v = ViolationsWith(host::MemPathFault::kCheckOwnCapacity, 20);
  EXPECT_NE(v.find("LBA Out of Range"), std::string::npos) << v;
  EXPECT_NE(v.find("had a usable path"), std::string::npos) << v;
}

TEST(RemapStormCatches, LeakedQosTicket) {
  std::string v = ViolationsWith(host::MemPathFault::kLeakTicketOnError, 20);
  EXPECT_NE(v.find("tickets outstanding but"), std::string::npos) << v;
}

TEST(RemapStormCatches, LostWrite) {
  std::string v = ViolationsWith(host::MemPathFault::kLoseWrites, 3);
  EXPECT_NE(v.find("verify: head"), std::string::npos) << v;
}

}  // namespace
}  // namespace nvmpath::sim
