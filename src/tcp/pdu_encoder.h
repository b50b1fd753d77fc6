// Serializing PDUs. Each Append* function appends one complete PDU (header, header digest,
// padding, data, data digest) to `out` and computes HLEN, PDO and PLEN. The sender passes the
// options negotiated for its direction in ICReq/ICResp.
//
// ComputeLayout is public so a sender that wants to send the data from its own buffer
// (gathered send, no copy) can build just the prefix: EncodeDataPduPrefix + data + DataDigest.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tcp/pdu.h"

namespace nvmpath::tcp {

struct EncodeOptions {
  bool hdgst = false;  // header digest negotiated
  bool ddgst = false;  // data digest negotiated
  // Data alignment the *receiver* asked for: CPDA from ICResp when the host sends, HPDA from
  // ICReq when the controller sends. 0's based dwords (0 = 4 bytes).
  uint8_t pda = 0;
};

struct PduLayout {
  uint8_t hlen = 0;
  uint8_t pdo = 0;       // 0 when there is no data
  uint32_t pad = 0;      // bytes between the header (+digest) and the data
  uint32_t plen = 0;
  bool hdgst = false;
  bool ddgst = false;    // only when there is data
};

// Where the data of a PDU with header length `hlen` starts: right after the header and its
// digest, rounded up to a multiple of (pda + 1) * 4 bytes.
constexpr uint32_t DataOffset(uint8_t hlen, bool hdgst, uint8_t pda) {
  const uint32_t end = hlen + (hdgst ? kDigestSize : 0);
  const uint32_t align = (uint32_t{pda} + 1) * 4;
  return (end + align - 1) / align * align;
}

// REQUIRES: pda <= 31; data_len fits PLEN (u32).
PduLayout ComputeLayout(uint8_t hlen, uint32_t data_len, const EncodeOptions& opts);

// Connection setup and teardown: never digests.
void AppendIcReq(std::vector<uint8_t>& out, const IcReq& pdu);
void AppendIcResp(std::vector<uint8_t>& out, const IcResp& pdu);
// `type` is kH2CTermReq or kC2HTermReq; `offending` is truncated to 128 bytes.
void AppendTermReq(std::vector<uint8_t>& out, PduType type, const TermReq& pdu,
                   std::span<const uint8_t> offending);

void AppendCapsuleCmd(std::vector<uint8_t>& out, const nvme::Command& sqe,
                      std::span<const uint8_t> in_capsule_data, const EncodeOptions& opts);
void AppendCapsuleResp(std::vector<uint8_t>& out, const nvme::Completion& cqe,
                       const EncodeOptions& opts);
// REQUIRES: data non-empty (DATAL = data.size()).
void AppendH2CData(std::vector<uint8_t>& out, const H2CData& pdu, std::span<const uint8_t> data,
                   const EncodeOptions& opts);
// REQUIRES: data non-empty; success implies last.
void AppendC2HData(std::vector<uint8_t>& out, const C2HData& pdu, std::span<const uint8_t> data,
                   const EncodeOptions& opts);
void AppendR2T(std::vector<uint8_t>& out, const R2T& pdu, const EncodeOptions& opts);

// Zero-copy helpers for data PDUs: the bytes before the data (header, digest, padding), and the
// 4-byte data digest to send after it when layout.ddgst.
void AppendH2CDataPrefix(std::vector<uint8_t>& out, const H2CData& pdu, uint32_t datal,
                         const EncodeOptions& opts);
void AppendC2HDataPrefix(std::vector<uint8_t>& out, const C2HData& pdu, uint32_t datal,
                         const EncodeOptions& opts);
void AppendDataDigest(std::vector<uint8_t>& out, std::span<const uint8_t> data);

}  // namespace nvmpath::tcp
