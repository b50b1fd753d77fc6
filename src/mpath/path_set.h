// mpath::PathSet — an immutable snapshot of a head's paths, as every reactor sees them.
//
// The head builds a new PathSet on its home reactor whenever anything about a path changes (added,
// removed, ANA state, controller state, readiness, capacity) and publishes it to every reactor by
// message. Reactors read only their own snapshot, so the data path never reads state another
// thread writes. "Usable" and "may return" are computed once here, not per I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "blk/path.h"

namespace nvmpath::mpath {

inline constexpr int kMaxPaths = 32;

struct PathEntry {
  blk::Path* path = nullptr;
  uint16_t slot = 0;  // the head's stable index for this path (per-reactor counters live there)
  blk::PathState state;
  bool usable = false;      // may carry I/O now
  bool optimized = false;   // usable and ANA optimized
  bool may_return = false;  // not usable now, but its controller may bring it back
};

struct PathSet {
  uint64_t generation = 0;
  uint8_t policy = 0;            // mpath::Policy, as published with the set
  bool head_live = true;         // false once the head is being removed: fail everything
  bool capacity_known = false;   // some path has reported a capacity
  uint64_t capacity_blocks = 0;  // the head's capacity: the end-of-device check uses this
  uint32_t block_size = 512;
  bool any_usable = false;
  bool may_return = false;       // queue I/O rather than fail it when nothing is usable
  // HeadOptions::queue_timeout as published with the set, so an operator can change it while
  // the reactors read it (0: as long as a path may return).
  Duration queue_timeout{0};
  std::vector<PathEntry> paths;
};

// Linux's rule (nvme_path_is_disabled + ANA live states): controller live (or deleting, while
// in-flight I/O drains), not waiting for an ANA log re-read, namespace ready, capacity equal to
// the head's, ANA optimized or non-optimized.
bool IsUsable(const blk::PathState& s, uint64_t head_capacity_blocks);
// Linux's nvme_available_path: the controller is live, resetting or connecting and fast-fail has
// not expired.
bool MayReturn(const blk::PathState& s);

// "path a: live, ANA inaccessible; path b: connecting" for error messages.
std::string DescribePaths(const PathSet& set);

}  // namespace nvmpath::mpath
