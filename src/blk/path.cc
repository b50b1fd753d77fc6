#include "blk/path.h"

#include <fmt/format.h>

namespace nvmpath::blk {

const char* CtrlStateName(CtrlState s) {
  switch (s) {
    case CtrlState::kNew: return "new";
    case CtrlState::kConnecting: return "connecting";
    case CtrlState::kLive: return "live";
    case CtrlState::kResetting: return "resetting";
    case CtrlState::kDeleting: return "deleting";
    case CtrlState::kDeletingNoIo: return "deleting (no I/O)";
    case CtrlState::kDead: return "dead";
  }
  return "?";
}

std::string DescribePathState(const PathState& s) {
  if (s.ctrl != CtrlState::kLive && s.ctrl != CtrlState::kDeleting) {
    return s.failfast_expired ? fmt::format("{} (fast-fail expired)", CtrlStateName(s.ctrl))
                              : CtrlStateName(s.ctrl);
  }
  if (!s.ready) return "namespace not ready";
  if (s.ana_pending) return "ANA state pending";
  return fmt::format("{}, ANA {}", CtrlStateName(s.ctrl), AnaStateName(s.ana));
}

}  // namespace nvmpath::blk
