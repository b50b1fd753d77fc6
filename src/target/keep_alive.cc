#include "target/keep_alive.h"

#include <algorithm>

namespace nvmpath::target {

void KeepAlive::Arm(Controller& ctrl) {
  Cancel(ctrl);
  if (ctrl.kato_ms() == 0) return;
  const Duration kato = std::chrono::milliseconds(ctrl.kato_ms());
  const Duration left = ctrl.last_activity() + kato - reactor_->now();
  ctrl.ka_timer =
      reactor_->AddTimer(std::max(left, Duration{0}),
                         [this, alive = std::weak_ptr<int>(alive_), cntlid = ctrl.cntlid()] {
                           if (alive.lock()) OnTimer(cntlid);
                         });
}

void KeepAlive::Cancel(Controller& ctrl) {
  if (ctrl.ka_timer != reactor::kNoTimer) reactor_->CancelTimer(ctrl.ka_timer);
  ctrl.ka_timer = reactor::kNoTimer;
}

void KeepAlive::OnTimer(uint16_t cntlid) {
  Controller* c = controllers_->Find(cntlid);
  if (c == nullptr) return;
  c->ka_timer = reactor::kNoTimer;
  const Duration kato = std::chrono::milliseconds(c->kato_ms());
  if (c->kato_ms() != 0 && reactor_->now() - c->last_activity() >= kato) {
    expire_(cntlid);
  } else {
    Arm(*c);
  }
}

}  // namespace nvmpath::target
