// target::ControllerTable — the live controllers, keyed by CNTLID, and the delivery of their
// asynchronous events (a raised notice completes a held AER on the admin queue).
//
// Thread: reactors[0]. Owns the controllers; ending an association (closing its queues) is the
// core's wiring, which takes the controller out of the table first.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "target/controller.h"

namespace nvmpath::target {

class ControllerTable {
 public:
  using Map = std::map<uint16_t, std::unique_ptr<Controller>>;

  // Allocates a CNTLID (1..0xFFEF) and creates the controller; nullptr if none is free.
  Controller* Create(Subsystem* subsystem, uint16_t port_id, std::string hostnqn,
                     std::array<uint8_t, 16> hostid, uint32_t kato_ms);
  Controller* Find(uint16_t cntlid);
  // Removes the controller from the table and hands it over; nullptr if there is none.
  std::unique_ptr<Controller> Take(uint16_t cntlid);
  // The controllers `match` accepts, collected first so raising events may change the table.
  std::vector<Controller*> Where(const std::function<bool(const Controller&)>& match);
  const Map& all() const { return controllers_; }
  void Clear() { controllers_.clear(); }

  // Raises `kind` on every controller `match` accepts and completes their held AERs.
  void RaiseWhere(const std::function<bool(const Controller&)>& match, EventKind kind);
  static void Raise(Controller& ctrl, EventKind kind);
  // Pairs pending notices with held AERs and completes those on the admin queue.
  static void Deliver(Controller& ctrl);

 private:
  Map controllers_;
  uint16_t next_cntlid_ = 1;
};

}  // namespace nvmpath::target
