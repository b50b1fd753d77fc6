// RawClient: a minimal NVMe/TCP host for target tests, built only on the tcp/ codec and the nvme/
// builders, so it sees exactly the bytes the target sends. It connects over any reactor (Sim or
// Uring, through reactor::testing::Harness), performs ICReq/ICResp, submits commands, answers
// R2Ts with H2CData from the data given to Submit, and collects C2HData, CapsuleResps and a
// C2HTermReq. Every wait drives the harness's loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../reactor/reactor_harness.h"
#include "nvme/command.h"
#include "nvme/completion.h"
#include "tcp/pdu_decoder.h"
#include "tcp/pdu_encoder.h"

namespace nvmpath::target::testing {

struct Reply {
  nvme::Completion cqe;
  std::vector<uint8_t> data;
  bool success_flag = false;  // completed by C2HData SUCCESS (no CapsuleResp)
};

class RawClient {
 public:
  explicit RawClient(reactor::testing::Harness* h) : h_(h) {}

  // TCP connect + ICReq/ICResp. Returns false (with a test failure) if either fails.
  bool Connect(uint16_t port, bool hdgst = false, bool ddgst = false) {
    return Connect("127.0.0.1", port, hdgst, ddgst);
  }
  bool Connect(const std::string& address, uint16_t port, bool hdgst = false, bool ddgst = false);
  // Sends the command (CID assigned here). Data goes in the capsule if the command's SGL is the
  // in-capsule kind, else it is kept for the R2T. Returns the CID.
  uint16_t Submit(nvme::Command cmd, std::span<const uint8_t> write_data = {});
  // Waits for the command's completion; nullopt if it did not come within `limit`.
  std::optional<Reply> Wait(uint16_t cid, Duration limit);
  std::optional<Reply> Wait(uint16_t cid) { return Wait(cid, h_->default_limit()); }
  std::optional<Reply> Exec(const nvme::Command& cmd, std::span<const uint8_t> write_data = {}) {
    return Wait(Submit(cmd, write_data));
  }
  bool HasReply(uint16_t cid) const { return replies_.count(cid) != 0; }

  // Fabrics helpers. Return the CNTLID, or nullopt on failure (with the status in last_status).
  std::optional<uint16_t> ConnectQueue(const std::string& subnqn, const std::string& hostnqn,
                                       uint16_t qid, uint16_t cntlid, uint32_t kato_ms = 0,
                                       uint16_t sqsize = 31);
  bool Enable();  // Property Set CC (EN, IOSQES 6, IOCQES 4) and check CSTS.RDY
  // Connect (admin) + enable.
  std::optional<uint16_t> AdminSetup(const std::string& subnqn, const std::string& hostnqn,
                                     uint32_t kato_ms = 0);

  void SendRaw(std::span<const uint8_t> bytes);
  void Close();
  bool closed() const { return closed_; }
  const std::optional<tcp::TermReq>& term_req() const { return term_req_; }
  nvme::NvmeStatus last_status() const { return last_status_; }
  uint32_t last_dw0() const { return last_dw0_; }
  bool WaitClosed(Duration limit) { return h_->RunUntil([&] { return closed_; }, limit); }

 private:
  void OnBytes(std::span<const uint8_t> bytes);
  void OnPdu(const tcp::Pdu& pdu);

  reactor::testing::Harness* h_;
  std::unique_ptr<reactor::Stream> stream_;
  std::unique_ptr<tcp::PduDecoder> decoder_;
  tcp::EncodeOptions opts_;
  std::optional<tcp::IcResp> ic_resp_;
  uint16_t next_cid_ = 1;
  std::map<uint16_t, std::vector<uint8_t>> write_data_;  // for R2T
  std::map<uint16_t, std::vector<uint8_t>> c2h_;          // data received so far
  std::map<uint16_t, Reply> replies_;
  std::optional<tcp::TermReq> term_req_;
  bool closed_ = false;
  nvme::NvmeStatus last_status_;
  uint32_t last_dw0_ = 0;
};

// Every target test runs on both reactors: the parameter values for INSTANTIATE_TEST_SUITE_P.
inline auto BothReactors() {
  return ::testing::Values(&reactor::testing::MakeSimHarness, &reactor::testing::MakeUringHarness);
}

// Names a parameterised target test's instance after its reactor ("Sim", "Uring").
inline std::string HarnessName(
    const ::testing::TestParamInfo<reactor::testing::HarnessFactory>& info) {
  return info.param()->name();
}

}  // namespace nvmpath::target::testing
