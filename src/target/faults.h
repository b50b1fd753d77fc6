// target::Faults — the faults the control plane injects: response delay and stall per port (or
// all ports), fail-next-N-commands, and late writes.
//
// Thread: reactors[0]. Pure bookkeeping: the connection asks here at the points where a fault
// applies (dispatching an I/O command, emitting a response).
// Scope decisions: FailNext matches I/O commands only (commands on I/O queues, not Fabrics), so a
// fault never breaks the association's admin traffic (keep-alive, AER); late writes match Write
// commands arriving through the port.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "base/time.h"
#include "nvme/status.h"
#include "target/target.h"

namespace nvmpath::target {

class Faults {
 public:
  void SetDelay(std::optional<uint16_t> port_id, Duration delay);
  void SetStalled(std::optional<uint16_t> port_id, bool stalled);
  Duration DelayFor(uint16_t port_id) const;
  bool StalledFor(uint16_t port_id) const;

  void AddFailNext(const FailNextSpec& spec) { fail_next_.push_back(spec); }
  // Consumes one count of the first matching spec; returns its status.
  std::optional<nvme::NvmeStatus> TakeFailNext(uint8_t opcode, uint16_t port_id, uint32_t nsid);

  void SetLateWrites(uint16_t port_id, uint32_t count, Duration delay);
  // Consumes one late write of the port; returns the delay after the connection closes.
  std::optional<Duration> TakeLateWrite(uint16_t port_id);

  // Drops every fault that names `port_id` (the port was removed; a port added later under the
  // same ID starts clean).
  void ForgetPort(uint16_t port_id);

  nlohmann::json Describe() const;

 private:
  struct LateWrites {
    uint32_t count = 0;
    Duration delay{0};
  };
  std::optional<Duration> delay_all_;
  std::map<uint16_t, Duration> delay_port_;
  bool stalled_all_ = false;
  std::map<uint16_t, bool> stalled_port_;
  std::vector<FailNextSpec> fail_next_;
  std::map<uint16_t, LateWrites> late_;
};

}  // namespace nvmpath::target
