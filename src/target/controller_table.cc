#include "target/controller_table.h"

#include "target/connection.h"

namespace nvmpath::target {

Controller* ControllerTable::Create(Subsystem* subsystem, uint16_t port_id, std::string hostnqn,
                                    std::array<uint8_t, 16> hostid, uint32_t kato_ms) {
  constexpr uint16_t kMaxCntlid = 0xFFEF;
  for (uint32_t tries = 0; tries < kMaxCntlid; ++tries) {
    const uint16_t id = next_cntlid_;
    next_cntlid_ = next_cntlid_ >= kMaxCntlid ? 1 : next_cntlid_ + 1;
    if (controllers_.count(id) != 0) continue;
    auto ctrl =
        std::make_unique<Controller>(id, subsystem, port_id, std::move(hostnqn), hostid, kato_ms);
    Controller* raw = ctrl.get();
    controllers_[id] = std::move(ctrl);
    return raw;
  }
  return nullptr;
}

Controller* ControllerTable::Find(uint16_t cntlid) {
  auto it = controllers_.find(cntlid);
  return it == controllers_.end() ? nullptr : it->second.get();
}

std::unique_ptr<Controller> ControllerTable::Take(uint16_t cntlid) {
  auto it = controllers_.find(cntlid);
  if (it == controllers_.end()) return nullptr;
  std::unique_ptr<Controller> ctrl = std::move(it->second);
  controllers_.erase(it);
  return ctrl;
}

std::vector<Controller*> ControllerTable::Where(
    const std::function<bool(const Controller&)>& match) {
  std::vector<Controller*> out;
  for (auto& [id, c] : controllers_) {
    if (match(*c)) out.push_back(c.get());
  }
  return out;
}

void ControllerTable::RaiseWhere(const std::function<bool(const Controller&)>& match,
                                 EventKind kind) {
  for (Controller* c : Where(match)) Raise(*c, kind);
}

void ControllerTable::Raise(Controller& ctrl, EventKind kind) {
  ctrl.RaiseEvent(kind);
  Deliver(ctrl);
}

void ControllerTable::Deliver(Controller& ctrl) {
  auto pairs = ctrl.TakeDeliverable();
  auto admin = ctrl.admin.lock();
  for (auto& [req, dw0] : pairs) {
    if (admin) admin->Respond(req, CmdResult::Ok(dw0));
  }
}

}  // namespace nvmpath::target
