// target::Controller — one association: the state a host builds with an admin-queue Connect and
// uses through its I/O queues (CNTLID, CC/CSTS, KATO, AER slots, features, the changed namespace
// list, the masked asynchronous event types).
//
// Thread: reactors[0]. Owned by the target core (keyed by CNTLID); connections refer to it by
// CNTLID or raw pointer valid while they are bound to it (the core unbinds them before it
// destroys the controller).
//
// State machine (explicit transitions only, see CanTransition):
//   kConnected --CC.EN=1--> kEnabled --CC.SHN--> kShutdown
//   kEnabled --CC.EN=0--> kConnected; kShutdown --CC.EN=0--> kConnected
//   any --admin queue gone / keep-alive expired--> kDead (terminal; the core destroys it)
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "nvme/registers.h"
#include "reactor/reactor.h"
#include "target/request.h"

namespace nvmpath::target {

class Connection;
class Subsystem;

enum class ControllerState : uint8_t { kConnected, kEnabled, kShutdown, kDead };
const char* ControllerStateName(ControllerState s);

// Asynchronous event kinds this target raises (each is masked after it fires until the host
// reads its log page without RAE; NVMe Base "Asynchronous Event Request").
enum class EventKind : uint8_t { kNsAttribute, kAnaChange, kDiscoveryChange };
// Completion DW0 of the AER for `kind`: type 2 (notice) | info << 8 | log page << 16.
uint32_t EventDw0(EventKind kind);
// The Asynchronous Event Configuration bit that enables `kind`.
uint32_t EventAecBit(EventKind kind);

// AERL (0's based): up to 4 AERs are held.
inline constexpr uint8_t kAerl = 3;

class Controller {
 public:
  Controller(uint16_t cntlid, Subsystem* subsystem, uint16_t port_id, std::string hostnqn,
             std::array<uint8_t, 16> hostid, uint32_t kato_ms);

  uint16_t cntlid() const { return cntlid_; }
  Subsystem* subsystem() const { return subsystem_; }
  uint16_t port_id() const { return port_id_; }
  const std::string& hostnqn() const { return hostnqn_; }
  ControllerState state() const { return state_; }
  bool ready() const { return csts_.rdy() != 0; }

  static bool CanTransition(ControllerState from, ControllerState to);
  // REQUIRES: CanTransition(state(), to).
  void TransitionTo(ControllerState to);

  // Property Set CC: applies EN / SHN to CSTS. Returns false if CC is refused (reserved size).
  void SetCc(uint32_t value);
  uint32_t cc() const { return cc_.raw; }
  uint32_t csts() const { return csts_.raw; }

  // Keep alive. Every command on any queue of the association counts (CTRATT.TBKAS).
  uint32_t kato_ms() const { return kato_ms_; }
  void set_kato_ms(uint32_t ms) { kato_ms_ = ms; }
  void Touch(TimePoint now) { last_activity_ = now; }
  TimePoint last_activity() const { return last_activity_; }
  reactor::TimerId ka_timer = reactor::kNoTimer;

  // Features.
  uint32_t aec = 0;          // enabled event bits (Set Features 0Bh)
  uint16_t nsq_granted = 0;  // 0's based, Set Features 07h
  uint16_t ncq_granted = 0;

  // Queues.
  std::weak_ptr<Connection> admin;
  std::map<uint16_t, std::weak_ptr<Connection>> io_queues;

  // Events: raise queues a notice unless that kind is masked or disabled; AERs take notices.
  void RaiseEvent(EventKind kind);
  void Unmask(EventKind kind);
  bool masked(EventKind kind) const { return masked_ & (1u << static_cast<int>(kind)); }
  // Adds an AER; false if AERL+1 are already held.
  bool AddAer(std::shared_ptr<Request> aer);
  // Pairs pending notices with held AERs; returns (AER, DW0) pairs to complete.
  std::vector<std::pair<std::shared_ptr<Request>, uint32_t>> TakeDeliverable();
  size_t aers_held() const { return aers_.size(); }

  // Changed Namespace List (log 04h), cleared when read.
  void NoteChangedNs(uint32_t nsid);
  std::vector<uint32_t> TakeChangedNs(bool clear);
  bool changed_overflow() const { return changed_overflow_; }

 private:
  const uint16_t cntlid_;
  Subsystem* const subsystem_;
  const uint16_t port_id_;
  const std::string hostnqn_;
  const std::array<uint8_t, 16> hostid_;
  ControllerState state_ = ControllerState::kConnected;
  nvme::CcRegister cc_;
  nvme::CstsRegister csts_;
  uint32_t kato_ms_;
  TimePoint last_activity_{0};
  uint32_t masked_ = 0;
  std::deque<uint32_t> pending_events_;
  std::deque<std::shared_ptr<Request>> aers_;
  std::vector<uint32_t> changed_;
  bool changed_overflow_ = false;
};

}  // namespace nvmpath::target
