#include "raw_client.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "nvme/registers.h"

namespace nvmpath::target::testing {

bool RawClient::Connect(const std::string& address, uint16_t port, bool hdgst, bool ddgst) {
  bool done = false;
  h_->reactor()->Connect(address, port, [&](Result<std::unique_ptr<reactor::Stream>> s) {
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) stream_ = std::move(*s);
    done = true;
  });
  if (!h_->RunUntil([&] { return done; }) || !stream_) return false;
  tcp::DecoderConfig dc;
  dc.role = tcp::Role::kHost;
  dc.max_data_per_pdu = 1 << 20;
  decoder_ = std::make_unique<tcp::PduDecoder>(dc);
  stream_->SetHandlers([this](std::span<const uint8_t> b) { OnBytes(b); },
                       [this](const Status&) { closed_ = true; });
  std::vector<uint8_t> out;
  tcp::IcReq ic;
  ic.hdgst = hdgst;
  ic.ddgst = ddgst;
  tcp::AppendIcReq(out, ic);
  stream_->Send(out);
  if (!h_->RunUntil([&] { return ic_resp_.has_value() || closed_; }) || !ic_resp_) {
    ADD_FAILURE() << "no ICResp";
    return false;
  }
  opts_.hdgst = ic_resp_->hdgst;
  opts_.ddgst = ic_resp_->ddgst;
  decoder_->set_digests(opts_.hdgst, opts_.ddgst);
  return true;
}

void RawClient::OnBytes(std::span<const uint8_t> bytes) {
  Status s = decoder_->Feed(bytes, [this](const tcp::Pdu& pdu) { OnPdu(pdu); });
  if (!s.ok()) ADD_FAILURE() << "client decoder: " << s.ToString();
}

void RawClient::OnPdu(const tcp::Pdu& pdu) {
  switch (pdu.type) {
    case tcp::PduType::kIcResp:
      ic_resp_ = pdu.as<tcp::IcResp>();
      return;
    case tcp::PduType::kC2HTermReq:
      term_req_ = pdu.as<tcp::TermReq>();
      return;
    case tcp::PduType::kCapsuleResp: {
      const auto& cqe = pdu.as<tcp::CapsuleResp>().cqe;
      Reply r;
      r.cqe = cqe;
      r.data = std::move(c2h_[cqe.cid]);
      c2h_.erase(cqe.cid);
      replies_[cqe.cid] = std::move(r);
      return;
    }
    case tcp::PduType::kC2HData: {
      const auto& d = pdu.as<tcp::C2HData>();
      auto& buf = c2h_[d.cccid];
      if (buf.size() < d.datao + pdu.data.size()) buf.resize(d.datao + pdu.data.size());
      std::copy(pdu.data.begin(), pdu.data.end(), buf.begin() + d.datao);
      if (d.success) {
        Reply r;
        r.cqe.cid = d.cccid;
        r.data = std::move(buf);
        r.success_flag = true;
        c2h_.erase(d.cccid);
        replies_[d.cccid] = std::move(r);
      }
      return;
    }
    case tcp::PduType::kR2T: {
      const auto& r2t = pdu.as<tcp::R2T>();
      auto it = write_data_.find(r2t.cccid);
      if (it == write_data_.end()) {
        ADD_FAILURE() << "R2T for unknown CID " << r2t.cccid;
        return;
      }
      const uint32_t max = ic_resp_->maxh2cdata;
      std::vector<uint8_t> out;
      for (uint32_t off = r2t.r2to; off < r2t.r2to + r2t.r2tl;) {
        const uint32_t n = std::min(max, r2t.r2to + r2t.r2tl - off);
        tcp::H2CData h;
        h.cccid = r2t.cccid;
        h.ttag = r2t.ttag;
        h.datao = off;
        h.last = off + n == r2t.r2to + r2t.r2tl;
        tcp::AppendH2CData(out, h, std::span<const uint8_t>(it->second.data() + off, n), opts_);
        off += n;
      }
      stream_->Send(out);
      return;
    }
    default:
      ADD_FAILURE() << "unexpected PDU " << tcp::PduTypeName(pdu.type);
  }
}

uint16_t RawClient::Submit(nvme::Command cmd, std::span<const uint8_t> write_data) {
  cmd.cid = next_cid_++;
  if (next_cid_ == 0) next_cid_ = 1;
  std::vector<uint8_t> out;
  if (cmd.sgl1().IsInCapsule()) {
    tcp::AppendCapsuleCmd(out, cmd, write_data, opts_);
  } else {
    if (!write_data.empty()) write_data_[cmd.cid].assign(write_data.begin(), write_data.end());
    tcp::AppendCapsuleCmd(out, cmd, {}, opts_);
  }
  stream_->Send(out);
  return cmd.cid;
}

std::optional<Reply> RawClient::Wait(uint16_t cid, Duration limit) {
  if (!h_->RunUntil([&] { return replies_.count(cid) != 0 || closed_; }, limit)) {
    return std::nullopt;
  }
  auto it = replies_.find(cid);
  if (it == replies_.end()) return std::nullopt;
  Reply r = std::move(it->second);
  replies_.erase(it);
  write_data_.erase(cid);
  last_status_ = r.cqe.status;
  last_dw0_ = r.cqe.dw0;
  return r;
}

std::optional<uint16_t> RawClient::ConnectQueue(const std::string& subnqn,
                                                const std::string& hostnqn, uint16_t qid,
                                                uint16_t cntlid, uint32_t kato_ms,
                                                uint16_t sqsize) {
  nvme::ConnectData data;
  data.hostid[0] = 0x42;
  data.cntlid = cntlid;
  data.subnqn = subnqn;
  data.hostnqn = hostnqn;
  std::vector<uint8_t> bytes(nvme::kConnectDataSize, 0);
  data.Encode(std::span<uint8_t, nvme::kConnectDataSize>(bytes.data(), bytes.size()));
  auto r = Exec(nvme::MakeConnect(0, {.qid = qid, .sqsize = sqsize, .kato_ms = kato_ms}), bytes);
  if (!r || !r->cqe.status.ok()) return std::nullopt;
  return static_cast<uint16_t>(r->cqe.dw0 & 0xFFFF);
}

bool RawClient::Enable() {
  nvme::CcRegister cc;
  cc.set_en(1).set_iosqes(6).set_iocqes(4);
  auto r = Exec(nvme::MakePropertySet(0, nvme::kRegCc, false, cc.raw));
  if (!r || !r->cqe.status.ok()) return false;
  auto csts = Exec(nvme::MakePropertyGet(0, nvme::kRegCsts, false));
  return csts && csts->cqe.status.ok() && (csts->cqe.dw0 & 1) == 1;
}

std::optional<uint16_t> RawClient::AdminSetup(const std::string& subnqn,
                                              const std::string& hostnqn, uint32_t kato_ms) {
  auto cntlid = ConnectQueue(subnqn, hostnqn, 0, nvme::kCntlidDynamic, kato_ms);
  if (!cntlid || !Enable()) return std::nullopt;
  return cntlid;
}

void RawClient::SendRaw(std::span<const uint8_t> bytes) { stream_->Send(bytes); }

void RawClient::Close() {
  if (stream_) stream_->Close();
  closed_ = true;
}

}  // namespace nvmpath::target::testing
