#include "mpath/policy.h"

#include <cstdlib>
#include <limits>

namespace nvmpath::mpath {
namespace {

bool Eligible(const PathEntry& e, uint32_t skip_mask) {
  return e.usable && !(skip_mask & (1u << e.slot));
}

// A path (or a reactor) with no node is near everything, as Linux treats NUMA_NO_NODE.
int Distance(const PathEntry& e, int numa_node) {
  return e.state.numa_node < 0 || numa_node < 0 || e.state.numa_node == numa_node ? 0 : 1;
}

int IndexOfSlot(const PathSet& set, int slot) {
  for (size_t i = 0; i < set.paths.size(); ++i) {
    if (set.paths[i].slot == slot) return static_cast<int>(i);
  }
  return -1;
}

int SelectNuma(const PathSet& set, PolicyCursor& cursor, uint32_t skip_mask, int numa_node) {
  int cur = cursor.current_slot >= 0 ? IndexOfSlot(set, cursor.current_slot) : -1;
  if (cur >= 0 && Eligible(set.paths[cur], skip_mask) && set.paths[cur].optimized) return cur;
  int best = -1;
  int best_rank = std::numeric_limits<int>::max();
  for (size_t i = 0; i < set.paths.size(); ++i) {
    const PathEntry& e = set.paths[i];
    if (!Eligible(e, skip_mask)) continue;
    int rank = (e.optimized ? 0 : 2) + Distance(e, numa_node);
    if (rank < best_rank) {
      best_rank = rank;
      best = static_cast<int>(i);
    }
  }
  cursor.current_slot = best >= 0 ? set.paths[best].slot : -1;
  return best;
}

int SelectRoundRobin(const PathSet& set, PolicyCursor& cursor, uint32_t skip_mask) {
  const int n = static_cast<int>(set.paths.size());
  if (n == 0) return -1;
  int start = cursor.last_slot >= 0 ? IndexOfSlot(set, cursor.last_slot) : -1;
  int non_optimized = -1;
  for (int k = 1; k <= n; ++k) {
    int i = (start + k + n) % n;
    const PathEntry& e = set.paths[i];
    if (!Eligible(e, skip_mask)) continue;
    if (e.optimized) {
      cursor.last_slot = e.slot;
      return i;
    }
    if (non_optimized < 0) non_optimized = i;
  }
  if (non_optimized >= 0) cursor.last_slot = set.paths[non_optimized].slot;
  return non_optimized;
}

int SelectQueueDepth(const PathSet& set, const std::array<uint32_t, kMaxPaths>& in_flight,
                     uint32_t skip_mask) {
  int best = -1;
  uint64_t best_key = std::numeric_limits<uint64_t>::max();
  for (size_t i = 0; i < set.paths.size(); ++i) {
    const PathEntry& e = set.paths[i];
    if (!Eligible(e, skip_mask)) continue;
    // Optimized paths sort before every non-optimized one, then by depth.
    uint64_t key = (e.optimized ? 0 : (uint64_t{1} << 32)) + in_flight[e.slot];
    if (key < best_key) {
      best_key = key;
      best = static_cast<int>(i);
    }
  }
  return best;
}

}  // namespace

const char* PolicyName(Policy p) {
  switch (p) {
    case Policy::kNuma: return "numa";
    case Policy::kRoundRobin: return "round-robin";
    case Policy::kQueueDepth: return "queue-depth";
  }
  return "?";
}

Result<Policy> ParsePolicy(std::string_view name) {
  if (name == "numa") return Policy::kNuma;
  if (name == "round-robin") return Policy::kRoundRobin;
  if (name == "queue-depth") return Policy::kQueueDepth;
  return InvalidArgument("unknown policy '" + std::string(name) +
                         "' (expected numa, round-robin or queue-depth)");
}

int SelectPath(Policy policy, const PathSet& set, PolicyCursor& cursor,
               const std::array<uint32_t, kMaxPaths>& in_flight, uint32_t skip_mask,
               int numa_node) {
  switch (policy) {
    case Policy::kNuma: return SelectNuma(set, cursor, skip_mask, numa_node);
    case Policy::kRoundRobin: return SelectRoundRobin(set, cursor, skip_mask);
    case Policy::kQueueDepth: return SelectQueueDepth(set, in_flight, skip_mask);
  }
  return -1;
}

}  // namespace nvmpath::mpath
