// Path-selection policies. All are ANA-aware: an optimized path is always chosen over a
// non-optimized one; non-optimized paths carry I/O only when no optimized path is usable.
//
//   numa         sticky: keep the current path while it stays usable and optimized, else pick the
//                closest (by NUMA node) optimized path, else the closest non-optimized one.
//                A reactor's node is its CPU's (getcpu, at each path-set install); a TCP path's is
//                its network device's (host/numa_node); a node of -1 is near everything, so on a
//                single-node machine or over loopback numa is "sticky, optimized first".
//   round-robin  rotate among optimized paths (among non-optimized when none is optimized).
//   queue-depth  the usable path with the fewest attempts in flight from this reactor, optimized
//                first.
// Semantics follow Linux's native NVMe multipath (nvme_find_path and its policies).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "mpath/path_set.h"
#include "nvmpath/status.h"

namespace nvmpath::mpath {

enum class Policy : uint8_t { kNuma, kRoundRobin, kQueueDepth };

const char* PolicyName(Policy p);
Result<Policy> ParsePolicy(std::string_view name);

// A reactor's policy memory. Slots, not pointers: a slot is stable while its path is in the set.
struct PolicyCursor {
  int current_slot = -1;  // numa: the sticky path
  int last_slot = -1;     // round-robin: where the rotation stands
};

// The index in set.paths of the path to use, or -1 if no path is usable. Paths whose slot bit is
// set in `skip_mask` are passed over (the paths a failed-over Bio already failed on).
int SelectPath(Policy policy, const PathSet& set, PolicyCursor& cursor,
               const std::array<uint32_t, kMaxPaths>& in_flight, uint32_t skip_mask,
               int numa_node);

}  // namespace nvmpath::mpath
