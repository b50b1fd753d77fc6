#include "target/controller.h"

#include <algorithm>

#include "base/assert.h"
#include "nvme/identify.h"
#include "nvme/log_pages.h"

namespace nvmpath::target {

const char* ControllerStateName(ControllerState s) {
  switch (s) {
    case ControllerState::kConnected: return "connected";
    case ControllerState::kEnabled: return "enabled";
    case ControllerState::kShutdown: return "shutdown";
    case ControllerState::kDead: return "dead";
  }
  return "unknown";
}

uint32_t EventDw0(EventKind kind) {
  constexpr uint32_t kNotice = 2;
  switch (kind) {
    case EventKind::kNsAttribute: return kNotice | (0x00u << 8) | (0x04u << 16);
    case EventKind::kAnaChange: return kNotice | (0x03u << 8) | (0x0Cu << 16);
    case EventKind::kDiscoveryChange: return kNotice | (0xF0u << 8) | (0x70u << 16);
  }
  return 0;
}

uint32_t EventAecBit(EventKind kind) {
  switch (kind) {
    case EventKind::kNsAttribute: return nvme::kOaesNsAttribute;
    case EventKind::kAnaChange: return nvme::kOaesAnaChange;
    case EventKind::kDiscoveryChange: return nvme::kOaesDiscoveryLogChange;
  }
  return 0;
}

Controller::Controller(uint16_t cntlid, Subsystem* subsystem, uint16_t port_id,
                       std::string hostnqn, std::array<uint8_t, 16> hostid, uint32_t kato_ms)
    : cntlid_(cntlid),
      subsystem_(subsystem),
      port_id_(port_id),
      hostnqn_(std::move(hostnqn)),
      hostid_(hostid),
      kato_ms_(kato_ms) {
  // Notices are enabled until the host configures them: a host that never sends Set Features
  // 0Bh still learns about changes through its AERs.
  aec = nvme::kOaesNsAttribute | nvme::kOaesAnaChange | nvme::kOaesDiscoveryLogChange;
}

bool Controller::CanTransition(ControllerState from, ControllerState to) {
  using S = ControllerState;
  if (to == S::kDead) return from != S::kDead;
  switch (from) {
    case S::kConnected: return to == S::kEnabled;
    case S::kEnabled: return to == S::kShutdown || to == S::kConnected;
    case S::kShutdown: return to == S::kConnected;
    case S::kDead: return false;
  }
  return false;
}

void Controller::TransitionTo(ControllerState to) {
  NVMP_ASSERT(CanTransition(state_, to), "controller state transition not allowed");
  state_ = to;
}

void Controller::SetCc(uint32_t value) {
  const nvme::CcRegister next{value};
  const bool was_enabled = cc_.en() != 0;
  cc_ = next;
  if (next.en() && !was_enabled) {
    // A controller only becomes ready with the queue entry sizes NVMe/TCP uses (64 B SQE,
    // 16 B CQE) and 4 KiB pages; otherwise it reports a fatal status, as the spec asks.
    if (next.iosqes() != 6 || next.iocqes() != 4 || next.mps() != 0) {
      csts_.set_cfs(1);
      return;
    }
    csts_.set_rdy(1);
    if (state_ == ControllerState::kConnected) TransitionTo(ControllerState::kEnabled);
  } else if (!next.en() && was_enabled) {
    csts_.raw = 0;
    if (state_ == ControllerState::kEnabled || state_ == ControllerState::kShutdown) {
      TransitionTo(ControllerState::kConnected);
    }
    return;
  }
  if (next.shn() != 0 && state_ == ControllerState::kEnabled) {
    // Nothing is cached: shutdown completes at once.
    csts_.set_shst(nvme::kShutdownStatusComplete);
    TransitionTo(ControllerState::kShutdown);
  }
}

void Controller::RaiseEvent(EventKind kind) {
  if (!(aec & EventAecBit(kind)) || masked(kind)) return;
  masked_ |= 1u << static_cast<int>(kind);
  pending_events_.push_back(EventDw0(kind));
}

void Controller::Unmask(EventKind kind) { masked_ &= ~(1u << static_cast<int>(kind)); }

bool Controller::AddAer(std::shared_ptr<Request> aer) {
  if (aers_.size() >= size_t{kAerl} + 1) return false;
  aers_.push_back(std::move(aer));
  return true;
}

std::vector<std::pair<std::shared_ptr<Request>, uint32_t>> Controller::TakeDeliverable() {
  std::vector<std::pair<std::shared_ptr<Request>, uint32_t>> out;
  while (!aers_.empty() && !pending_events_.empty()) {
    out.emplace_back(std::move(aers_.front()), pending_events_.front());
    aers_.pop_front();
    pending_events_.pop_front();
  }
  return out;
}

void Controller::NoteChangedNs(uint32_t nsid) {
  if (changed_overflow_) return;
  if (std::find(changed_.begin(), changed_.end(), nsid) != changed_.end()) return;
  if (changed_.size() >= nvme::kChangedNsListMax) {
    changed_overflow_ = true;
    changed_.clear();
    return;
  }
  changed_.push_back(nsid);
}

std::vector<uint32_t> Controller::TakeChangedNs(bool clear) {
  std::vector<uint32_t> out = changed_;
  std::sort(out.begin(), out.end());
  if (changed_overflow_) out = {0xFFFFFFFFu};
  if (clear) {
    changed_.clear();
    changed_overflow_ = false;
  }
  return out;
}

}  // namespace nvmpath::target
