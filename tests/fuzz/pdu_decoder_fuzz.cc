// libFuzzer target for everything that parses bytes from the network: the PDU decoder (both
// roles, digests on and off, PDA padding, IC sequencing, arbitrary chunking, a transfer-length
// hook) and the NVMe decoders of data a peer returns (ANA log, Discovery log, Identify
// Controller / Namespace, Active NS list, NS descriptor list, Changed NS list, SMART,
// Connect data). Must never crash, assert, leak or read out of bounds.
//
// Input: byte 0 selects the decoder configuration (see Selector), the rest is the stream.
// tests/fuzz/make_corpus.cc writes the seed corpus in this format.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "nvme/ana_log.h"
#include "nvme/command.h"
#include "nvme/discovery_log.h"
#include "nvme/identify.h"
#include "nvme/log_pages.h"
#include "tcp/pdu_decoder.h"

namespace {

using namespace nvmpath;

// Byte 0: bit0 hdgst, bit1 ddgst, bit2 expect_ic, bit3 large PDA (3) else 0, bits 4..7 chunk
// size selector (0 = whole, n = n*n bytes).
struct Selector {
  bool hdgst, ddgst, expect_ic;
  uint8_t pda;
  size_t chunk;
};
Selector Decode(uint8_t b) {
  return {(b & 1) != 0, (b & 2) != 0, (b & 4) != 0, static_cast<uint8_t>((b & 8) ? 3 : 0),
          static_cast<size_t>((b >> 4) * (b >> 4))};
}

volatile uint64_t g_sink;

void ExerciseDecoder(tcp::Role role, const Selector& sel, std::span<const uint8_t> in) {
  tcp::DecoderConfig cfg;
  cfg.role = role;
  cfg.hdgst = sel.hdgst;
  cfg.ddgst = sel.ddgst;
  cfg.pda = sel.pda;
  cfg.expect_ic = sel.expect_ic;
  cfg.max_data_per_pdu = 64 * 1024;
  cfg.max_in_capsule_data = 8192;
  cfg.data_digest_error_fatal = (in.size() & 1) == 0;
  cfg.transfer_length = [](uint16_t cccid) -> std::optional<uint64_t> {
    if (cccid & 1) return std::nullopt;
    return uint64_t{cccid} * 16;
  };
  tcp::PduDecoder dec(cfg);
  uint64_t acc = 0;
  auto sink = [&](const tcp::Pdu& p) {
    for (uint8_t b : p.data) acc += b;  // touch every byte of the view
    acc += p.plen;
    if (auto* cmd = p.get_if<tcp::CapsuleCmd>()) {
      acc += cmd->sqe.cid;
      if (cmd->sqe.is_fabrics() && !p.data.empty()) {
        auto cd = nvme::ConnectData::Decode(p.data);
        if (cd.ok()) acc += cd->subnqn.size();
      }
    }
    if (auto* req = p.get_if<tcp::IcReq>()) dec.set_digests(req->hdgst, req->ddgst);
    if (auto* resp = p.get_if<tcp::IcResp>()) dec.set_digests(resp->hdgst, resp->ddgst);
  };
  const size_t chunk = sel.chunk ? sel.chunk : (in.empty() ? 1 : in.size());
  for (size_t off = 0; off < in.size(); off += chunk) {
    if (!dec.Feed(in.subspan(off, std::min(chunk, in.size() - off)), sink).ok()) break;
  }
  if (dec.failed()) acc += static_cast<uint64_t>(dec.error()->fes);
  g_sink = acc;
}

void ExerciseNvme(std::span<const uint8_t> in, uint8_t selector) {
  // ANA log, with the decode-encode-decode round trip as an oracle.
  auto ana = nvme::AnaLog::Decode(in, selector | 1u);
  if (ana.ok()) {
    auto again = nvme::AnaLog::Decode(ana->Encode(), selector | 1u);
    if (!again.ok() || !(*again == *ana)) __builtin_trap();
  }
  auto disc = nvme::DiscoveryLog::Decode(in);
  if (disc.ok()) g_sink = disc->entries.size();
  (void)nvme::DiscoveryLogHeader::Decode(in);
  (void)nvme::NsIdentifiers::Decode(in);
  (void)nvme::ErrorInfoEntry{};
  g_sink = nvme::DecodeErrorInfoLog(in).size();
  // The fixed-size structures, from the input padded (or cut) to 4096 bytes.
  std::vector<uint8_t> page(4096, 0);
  std::memcpy(page.data(), in.data(), std::min(in.size(), page.size()));
  auto ctrl = nvme::IdentifyController::Decode(page);
  if (ctrl.ok()) g_sink = ctrl->subnqn.size();
  auto ns = nvme::IdentifyNamespace::Decode(page);
  if (ns.ok()) (void)ns->BlockSize();
  (void)nvme::DecodeActiveNsList(page);
  (void)nvme::ChangedNsList::Decode(page);
  (void)nvme::SmartLog::Decode(page);
  (void)nvme::NsIdentifiers::Decode(page);
  (void)nvme::ConnectData::Decode(page);
  (void)nvme::IdentifyController::Decode(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Selector sel = Decode(data[0]);
  std::span<const uint8_t> in(data + 1, size - 1);
  ExerciseDecoder(tcp::Role::kController, sel, in);
  ExerciseDecoder(tcp::Role::kHost, sel, in);
  ExerciseNvme(in, data[0]);
  return 0;
}
