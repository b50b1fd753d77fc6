// A scripted NVMe/TCP controller for host tests: it listens on a reactor, decodes what the host
// sends with the project's PDU decoder (controller role), records every PDU, and sends exactly
// what the test tells it to. Optionally it answers ICReq and Connect by itself so a test can
// start from a live queue. It implements no NVMe semantics: tests script every response, so a
// host bug cannot be hidden by a forgiving peer.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nvme/command.h"
#include "nvme/completion.h"
#include "reactor/reactor.h"
#include "tcp/pdu.h"
#include "tcp/pdu_decoder.h"
#include "tcp/pdu_encoder.h"

namespace nvmpath::host::testing {

struct ReceivedPdu {
  tcp::PduType type = tcp::PduType::kIcReq;
  uint8_t flags = 0;
  tcp::IcReq icreq;
  nvme::Command sqe;
  tcp::H2CData h2c;
  tcp::TermReq term;
  std::vector<uint8_t> data;
};

class FakeController {
 public:
  FakeController(reactor::Reactor* reactor, std::string address, uint16_t port)
      : reactor_(reactor), address_(std::move(address)), port_(port) {
    auto l = reactor_->Listen(address_, port_, [this](std::unique_ptr<reactor::Stream> s) {
      Accept(std::move(s));
    });
    listener_ = std::move(l).value();
  }

  // Answer ICReq with this (digests echo the request when `echo_digests`).
  std::optional<tcp::IcResp> auto_icresp = tcp::IcResp{.maxh2cdata = 16384};
  bool echo_digests = true;
  // Answer Connect with success and this CNTLID (nullopt: leave it to the test).
  std::optional<uint16_t> auto_connect_cntlid = 7;
  bool send_c2h_term_on_error = false;

  std::deque<ReceivedPdu> received;  // everything not auto-answered, in arrival order
  std::vector<ReceivedPdu> log;      // everything
  bool connected() const { return stream_ && stream_->is_open(); }
  bool peer_closed = false;
  std::optional<tcp::PduError> decode_error;

  // The next recorded capsule command (pops until one is found).
  std::optional<ReceivedPdu> NextCommand() {
    while (!received.empty()) {
      ReceivedPdu p = std::move(received.front());
      received.pop_front();
      if (p.type == tcp::PduType::kCapsuleCmd) return p;
    }
    return std::nullopt;
  }

  void SendResp(uint16_t cid, nvme::NvmeStatus status = {}, uint32_t dw0 = 0, uint32_t dw1 = 0) {
    nvme::Completion c;
    c.cid = cid;
    c.status = status;
    c.dw0 = dw0;
    c.dw1 = dw1;
    std::vector<uint8_t> out;
    tcp::AppendCapsuleResp(out, c, enc_);
    stream_->Send(out);
  }
  void SendC2H(uint16_t cid, uint32_t datao, std::span<const uint8_t> data, bool last,
               bool success = false) {
    std::vector<uint8_t> out;
    tcp::AppendC2HData(out, tcp::C2HData{.cccid = cid, .datao = datao, .last = last, .success = success},
                       data, enc_);
    if (corrupt_next_data_digest_) {
      out.back() ^= 0xFF;
      corrupt_next_data_digest_ = false;
    }
    stream_->Send(out);
  }
  void SendR2T(uint16_t cid, uint16_t ttag, uint32_t r2to, uint32_t r2tl) {
    std::vector<uint8_t> out;
    tcp::AppendR2T(out, tcp::R2T{.cccid = cid, .ttag = ttag, .r2to = r2to, .r2tl = r2tl}, enc_);
    stream_->Send(out);
  }
  void SendRaw(std::span<const uint8_t> bytes) { stream_->Send(bytes); }
  void CorruptNextDataDigest() { corrupt_next_data_digest_ = true; }
  void CloseConnection() {
    if (stream_) stream_->Close();
  }
  const tcp::EncodeOptions& encode_options() const { return enc_; }

 private:
  void Accept(std::unique_ptr<reactor::Stream> s) {
    stream_ = std::move(s);
    decoder_ = std::make_unique<tcp::PduDecoder>(tcp::DecoderConfig{
        .role = tcp::Role::kController, .max_data_per_pdu = 1u << 20, .max_in_capsule_data = 1u << 20});
    enc_ = {};
    stream_->SetHandlers(
        [this](std::span<const uint8_t> b) {
          Status st = decoder_->Feed(b, [this](const tcp::Pdu& p) { OnPdu(p); });
          if (!st.ok()) decode_error = decoder_->error();
        },
        [this](const Status&) { peer_closed = true; });
  }

  void OnPdu(const tcp::Pdu& p) {
    ReceivedPdu r;
    r.type = p.type;
    r.flags = p.flags;
    r.data.assign(p.data.begin(), p.data.end());
    if (auto* ic = p.get_if<tcp::IcReq>()) r.icreq = *ic;
    if (auto* c = p.get_if<tcp::CapsuleCmd>()) r.sqe = c->sqe;
    if (auto* h = p.get_if<tcp::H2CData>()) r.h2c = *h;
    if (auto* t = p.get_if<tcp::TermReq>()) r.term = *t;
    log.push_back(r);
    if (p.type == tcp::PduType::kIcReq && auto_icresp) {
      tcp::IcResp resp = *auto_icresp;
      if (echo_digests) {
        resp.hdgst = r.icreq.hdgst;
        resp.ddgst = r.icreq.ddgst;
      }
      std::vector<uint8_t> out;
      tcp::AppendIcResp(out, resp);
      stream_->Send(out);
      decoder_->set_digests(resp.hdgst, resp.ddgst);
      enc_ = tcp::EncodeOptions{.hdgst = resp.hdgst, .ddgst = resp.ddgst, .pda = r.icreq.hpda};
      return;
    }
    if (p.type == tcp::PduType::kCapsuleCmd && r.sqe.is_fabrics() &&
        r.sqe.fctype() == static_cast<uint8_t>(nvme::FabricsType::kConnect) && auto_connect_cntlid) {
      connect = r;
      SendResp(r.sqe.cid, {}, *auto_connect_cntlid);
      return;
    }
    received.push_back(std::move(r));
  }

 public:
  std::optional<ReceivedPdu> connect;  // the Connect command, when auto-answered

 private:
  reactor::Reactor* reactor_;
  std::string address_;
  uint16_t port_;
  std::unique_ptr<reactor::Listener> listener_;
  std::unique_ptr<reactor::Stream> stream_;
  std::unique_ptr<tcp::PduDecoder> decoder_;
  tcp::EncodeOptions enc_;
  bool corrupt_next_data_digest_ = false;
};

}  // namespace nvmpath::host::testing
