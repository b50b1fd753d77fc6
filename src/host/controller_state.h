// The controller state machine of the NVMe/TCP host (Linux nvme_change_ctrl_state). The states
// are blk::CtrlState, the vocabulary the head already uses to decide whether a path may return.
//
//   new ──► connecting ──► live ──► resetting ──► connecting (retry every reconnect_delay)
//    └──────────┴────────────┴──────────┴──► deleting ──► deleting-noio (torn down)
//                                                 └──► dead ──► deleting-noio
//
// Also allowed, as in Linux: new → resetting. One addition to Linux: new → deleting, so a controller that never started can be deleted.
// `dead` is allowed as in Linux but host::Controller never enters it (a controller that gives up
// is deleted).
#pragma once

#include "blk/path.h"

namespace nvmpath::host {

using blk::CtrlState;
using blk::CtrlStateName;

constexpr bool CtrlTransitionAllowed(CtrlState from, CtrlState to) {
  switch (to) {
    case CtrlState::kLive: return from == CtrlState::kConnecting;
    case CtrlState::kResetting: return from == CtrlState::kNew || from == CtrlState::kLive;
    case CtrlState::kConnecting:
      return from == CtrlState::kNew || from == CtrlState::kResetting;
    case CtrlState::kDeleting:
      return from == CtrlState::kNew || from == CtrlState::kLive ||
             from == CtrlState::kResetting || from == CtrlState::kConnecting;
    case CtrlState::kDeletingNoIo:
      return from == CtrlState::kDeleting || from == CtrlState::kDead;
    case CtrlState::kDead: return from == CtrlState::kDeleting;
    case CtrlState::kNew: return false;
  }
  return false;
}

static_assert(CtrlTransitionAllowed(CtrlState::kNew, CtrlState::kConnecting));
static_assert(!CtrlTransitionAllowed(CtrlState::kLive, CtrlState::kConnecting));
static_assert(!CtrlTransitionAllowed(CtrlState::kDeletingNoIo, CtrlState::kConnecting));

}  // namespace nvmpath::host
