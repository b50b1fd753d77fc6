// target::KeepAlive — the keep-alive timer of every controller: an association whose host sent
// nothing for KATO ends (NVMe Base "Keep Alive Timer"; every command on any of its queues counts,
// CTRATT.TBKAS).
//
// Thread: reactors[0]. A timer outliving the KeepAlive does nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "reactor/reactor.h"
#include "target/controller_table.h"

namespace nvmpath::target {

class KeepAlive {
 public:
  // `expire` ends the association of a controller whose timer ran out.
  using Expire = std::function<void(uint16_t cntlid)>;
  KeepAlive(reactor::Reactor* r, ControllerTable* controllers, Expire expire)
      : reactor_(r), controllers_(controllers), expire_(std::move(expire)) {}

  // (Re)arms the controller's timer from its last activity; KATO 0 disarms it.
  void Arm(Controller& ctrl);
  void Cancel(Controller& ctrl);

 private:
  void OnTimer(uint16_t cntlid);

  reactor::Reactor* const reactor_;
  ControllerTable* const controllers_;
  const Expire expire_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // timers hold a weak_ptr to it
};

}  // namespace nvmpath::target
