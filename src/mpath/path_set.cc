#include "mpath/path_set.h"

namespace nvmpath::mpath {

bool IsUsable(const blk::PathState& s, uint64_t head_capacity_blocks) {
  bool ctrl_ok = s.ctrl == blk::CtrlState::kLive || s.ctrl == blk::CtrlState::kDeleting;
  bool ana_ok = s.ana == blk::AnaState::kOptimized || s.ana == blk::AnaState::kNonOptimized;
  return ctrl_ok && ana_ok && !s.ana_pending && s.ready && s.capacity_blocks != 0 &&
         s.capacity_blocks == head_capacity_blocks;
}

bool MayReturn(const blk::PathState& s) {
  bool ctrl_ok = s.ctrl == blk::CtrlState::kLive || s.ctrl == blk::CtrlState::kResetting ||
                 s.ctrl == blk::CtrlState::kConnecting || s.ctrl == blk::CtrlState::kNew;
  return ctrl_ok && !s.failfast_expired;
}

std::string DescribePaths(const PathSet& set) {
  if (set.paths.empty()) return "no paths";
  std::string out;
  for (const PathEntry& e : set.paths) {
    if (!out.empty()) out += ", ";
    out += "path " + e.path->name() + " ";
    if (e.state.ctrl == blk::CtrlState::kLive && e.state.ready && !e.state.ana_pending &&
        e.state.capacity_blocks != set.capacity_blocks) {
      out += "capacity " + std::to_string(e.state.capacity_blocks) + " blocks differs from " +
             std::to_string(set.capacity_blocks);
    } else {
      out += blk::DescribePathState(e.state);
    }
  }
  return out;
}

}  // namespace nvmpath::mpath
