// target::Request — one command on one queue, from its capsule to its response; and CmdResult,
// what a command handler completes it with.
//
// Thread: reactors[0]. A Request is shared by the connection (outstanding map), the handler
// running it (possibly asynchronously, e.g. a file read) and, for an AER, the controller.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "nvme/command.h"
#include "nvme/status.h"

namespace nvmpath::target {

struct CmdResult {
  nvme::NvmeStatus status;
  uint32_t dw0 = 0;
  uint32_t dw1 = 0;
  std::vector<uint8_t> data;  // controller-to-host data (C2HData), at most the SGL length is sent

  static CmdResult Error(uint16_t code, bool dnr = true) {
    return {nvme::NvmeStatus::Of(code, dnr), 0, 0, {}};
  }
  static CmdResult Ok(uint32_t dw0 = 0, uint32_t dw1 = 0) { return {{}, dw0, dw1, {}}; }
  static CmdResult WithData(std::vector<uint8_t> d) { return {{}, 0, 0, std::move(d)}; }
};

struct Request {
  // kAwaitingData: R2T sent, H2CData arriving. kExecuting: handed to a handler. kLate: a held
  // write (fault) that runs after its connection closes. kDone: response emitted or dropped.
  enum class State : uint8_t { kAwaitingData, kExecuting, kLate, kDone };

  nvme::Command cmd;
  uint16_t qid = 0;
  uint32_t transfer_len = 0;   // SGL length
  bool host_to_ctrl = false;   // data direction of the opcode
  std::vector<uint8_t> data;   // host-to-controller data (in-capsule or H2CData)
  uint32_t received = 0;       // H2CData bytes received
  uint16_t ttag = 0;
  bool data_digest_failed = false;
  uint64_t late_offset = 0;  // kLate: byte offset of the write and when it runs after the close
  std::chrono::nanoseconds late_delay{0};
  State state = State::kExecuting;
};

}  // namespace nvmpath::target
