// Path selection on hand-built path sets: ANA preference, stickiness, rotation, depth, skips.
#include "mpath/policy.h"

#include <gtest/gtest.h>

namespace nvmpath::mpath {
namespace {

PathEntry E(uint16_t slot, bool usable, bool optimized) {
  PathEntry e;
  e.slot = slot;
  e.usable = usable;
  e.optimized = usable && optimized;
  return e;
}

TEST(Policy, ParseNamesAndRejectsUnknown) {
  EXPECT_EQ(*ParsePolicy("numa"), Policy::kNuma);
  EXPECT_EQ(*ParsePolicy("round-robin"), Policy::kRoundRobin);
  EXPECT_EQ(*ParsePolicy("queue-depth"), Policy::kQueueDepth);
  auto bad = ParsePolicy("fastest");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown policy 'fastest'"), std::string::npos);
}

TEST(Policy, EveryPolicyPrefersOptimized) {
  PathSet set;
  set.paths = {E(0, true, false), E(1, true, true), E(2, true, false)};
  std::array<uint32_t, kMaxPaths> depth{};
  depth[1] = 100;  // even when busier
  for (Policy p : {Policy::kNuma, Policy::kRoundRobin, Policy::kQueueDepth}) {
    PolicyCursor c;
    for (int i = 0; i < 5; ++i) EXPECT_EQ(SelectPath(p, set, c, depth, 0, 0), 1) << PolicyName(p);
  }
}

TEST(Policy, NothingUsableGivesMinusOne) {
  PathSet set;
  set.paths = {E(0, false, false), E(1, false, true)};
  std::array<uint32_t, kMaxPaths> depth{};
  for (Policy p : {Policy::kNuma, Policy::kRoundRobin, Policy::kQueueDepth}) {
    PolicyCursor c;
    EXPECT_EQ(SelectPath(p, set, c, depth, 0, 0), -1);
  }
}

TEST(Policy, RoundRobinRotatesAndSkips) {
  PathSet set;
  set.paths = {E(0, true, true), E(3, true, true), E(5, true, true)};
  std::array<uint32_t, kMaxPaths> depth{};
  PolicyCursor c;
  std::vector<int> seen;
  for (int i = 0; i < 6; ++i) seen.push_back(SelectPath(Policy::kRoundRobin, set, c, depth, 0, 0));
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 0, 1, 2}));
  // Slot 3 skipped (it just failed): rotation passes over it.
  EXPECT_NE(SelectPath(Policy::kRoundRobin, set, c, depth, 1u << 3, 0), 1);
}

TEST(Policy, NumaIsStickyUntilThePathStopsBeingUsable) {
  PathSet set;
  set.paths = {E(0, true, true), E(1, true, true)};
  std::array<uint32_t, kMaxPaths> depth{};
  PolicyCursor c;
  int first = SelectPath(Policy::kNuma, set, c, depth, 0, 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(SelectPath(Policy::kNuma, set, c, depth, 0, 0), first);
  set.paths[first].usable = set.paths[first].optimized = false;
  EXPECT_EQ(SelectPath(Policy::kNuma, set, c, depth, 0, 0), 1 - first);
}

TEST(Policy, NumaPrefersTheLocalNode) {
  PathSet set;
  set.paths = {E(0, true, true), E(1, true, true)};
  set.paths[0].state.numa_node = 1;
  set.paths[1].state.numa_node = 0;
  std::array<uint32_t, kMaxPaths> depth{};
  PolicyCursor c;
  EXPECT_EQ(SelectPath(Policy::kNuma, set, c, depth, 0, /*numa_node=*/0), 1);
}

TEST(Policy, NumaPathWithNoNodeIsNearEveryReactor) {
  PathSet set;
  set.paths = {E(0, true, true), E(1, true, true)};
  set.paths[0].state.numa_node = 1;   // a device on node 1
  set.paths[1].state.numa_node = -1;  // loopback / virtual: no node
  std::array<uint32_t, kMaxPaths> depth{};
  PolicyCursor c;
  EXPECT_EQ(SelectPath(Policy::kNuma, set, c, depth, 0, /*numa_node=*/0), 1);
  PolicyCursor c1;
  EXPECT_EQ(SelectPath(Policy::kNuma, set, c1, depth, 0, /*numa_node=*/1), 0)
      << "on node 1 both are near: the first in the set";
}

TEST(Policy, QueueDepthPicksTheShallowest) {
  PathSet set;
  set.paths = {E(0, true, true), E(1, true, true), E(2, true, true)};
  std::array<uint32_t, kMaxPaths> depth{};
  depth[0] = 4;
  depth[1] = 1;
  depth[2] = 3;
  PolicyCursor c;
  EXPECT_EQ(SelectPath(Policy::kQueueDepth, set, c, depth, 0, 0), 1);
}

}  // namespace
}  // namespace nvmpath::mpath
