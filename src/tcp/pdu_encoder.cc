#include "tcp/pdu_encoder.h"

#include <algorithm>

#include "base/assert.h"
#include "nvme/byte_order.h"
#include "tcp/crc32c.h"

namespace nvmpath::tcp {

using nvme::Put8;
using nvme::PutLe16;
using nvme::PutLe32;

PduLayout ComputeLayout(uint8_t hlen, uint32_t data_len, const EncodeOptions& opts) {
  NVMP_ASSERT(opts.pda <= kPdaMax);
  PduLayout l;
  l.hlen = hlen;
  l.hdgst = opts.hdgst;
  const uint32_t header_end = hlen + (opts.hdgst ? kDigestSize : 0);
  if (data_len == 0) {
    l.plen = header_end;
    return l;
  }
  const uint32_t pdo = DataOffset(hlen, opts.hdgst, opts.pda);
  NVMP_ASSERT(pdo <= 0xFF);
  l.pdo = static_cast<uint8_t>(pdo);
  l.pad = pdo - header_end;
  l.ddgst = opts.ddgst;
  const uint64_t plen = uint64_t{pdo} + data_len + (opts.ddgst ? kDigestSize : 0);
  NVMP_ASSERT(plen <= 0xFFFFFFFFu);
  l.plen = static_cast<uint32_t>(plen);
  return l;
}

namespace {

// Appends the header of `layout` (hlen bytes, zeroed, common header filled), letting `fill` set
// the type-specific fields, then the header digest and padding. Returns nothing: the caller
// appends the data and data digest.
template <typename Fill>
void AppendHeader(std::vector<uint8_t>& out, PduType type, uint8_t extra_flags,
                  const PduLayout& layout, Fill&& fill) {
  const size_t start = out.size();
  out.resize(start + layout.hlen, 0);
  std::span<uint8_t> h(out.data() + start, layout.hlen);
  uint8_t flags = extra_flags;
  if (layout.hdgst) flags |= kFlagHdgst;
  if (layout.ddgst) flags |= kFlagDdgst;
  Put8(h, kChOffsetType, static_cast<uint8_t>(type));
  Put8(h, kChOffsetFlags, flags);
  Put8(h, kChOffsetHlen, layout.hlen);
  Put8(h, kChOffsetPdo, layout.pdo);
  PutLe32(h, kChOffsetPlen, layout.plen);
  fill(h);
  if (layout.hdgst) {
    const uint32_t crc = Crc32c(std::span<const uint8_t>(out.data() + start, layout.hlen));
    const size_t at = out.size();
    out.resize(at + kDigestSize);
    PutLe32(out, at, crc);
  }
  out.resize(out.size() + layout.pad, 0);
}

void AppendDataAndDigest(std::vector<uint8_t>& out, const PduLayout& layout,
                         std::span<const uint8_t> data) {
  out.insert(out.end(), data.begin(), data.end());
  if (layout.ddgst) AppendDataDigest(out, data);
}

void FillDataFields(std::span<uint8_t> h, uint16_t cccid, uint16_t ttag, uint32_t datao,
                    uint32_t datal) {
  PutLe16(h, kDataOffsetCccid, cccid);
  PutLe16(h, kDataOffsetTtag, ttag);
  PutLe32(h, kDataOffsetDatao, datao);
  PutLe32(h, kDataOffsetDatal, datal);
}

uint8_t DgstByte(bool hdgst, bool ddgst) {
  return static_cast<uint8_t>((hdgst ? kIcDgstHeader : 0) | (ddgst ? kIcDgstData : 0));
}

}  // namespace

void AppendDataDigest(std::vector<uint8_t>& out, std::span<const uint8_t> data) {
  const size_t at = out.size();
  out.resize(at + kDigestSize);
  PutLe32(out, at, Crc32c(data));
}

void AppendIcReq(std::vector<uint8_t>& out, const IcReq& pdu) {
  const PduLayout layout = ComputeLayout(kIcHlen, 0, {});
  AppendHeader(out, PduType::kIcReq, 0, layout, [&](std::span<uint8_t> h) {
    PutLe16(h, kIcOffsetPfv, pdu.pfv);
    Put8(h, kIcOffsetPda, pdu.hpda);
    Put8(h, kIcOffsetDgst, DgstByte(pdu.hdgst, pdu.ddgst));
    PutLe32(h, kIcOffsetMaxr2t, pdu.maxr2t);
  });
}

void AppendIcResp(std::vector<uint8_t>& out, const IcResp& pdu) {
  const PduLayout layout = ComputeLayout(kIcHlen, 0, {});
  AppendHeader(out, PduType::kIcResp, 0, layout, [&](std::span<uint8_t> h) {
    PutLe16(h, kIcOffsetPfv, pdu.pfv);
    Put8(h, kIcOffsetPda, pdu.cpda);
    Put8(h, kIcOffsetDgst, DgstByte(pdu.hdgst, pdu.ddgst));
    PutLe32(h, kIcOffsetMaxh2cdata, pdu.maxh2cdata);
  });
}

void AppendTermReq(std::vector<uint8_t>& out, PduType type, const TermReq& pdu,
                   std::span<const uint8_t> offending) {
  NVMP_ASSERT(type == PduType::kH2CTermReq || type == PduType::kC2HTermReq);
  offending = offending.first(std::min(offending.size(), kTermReqMaxData));
  // The offending header follows the TermReq header directly: PDO is 0 (no data alignment).
  PduLayout layout;
  layout.hlen = kTermReqHlen;
  layout.plen = static_cast<uint32_t>(kTermReqHlen + offending.size());
  AppendHeader(out, type, 0, layout, [&](std::span<uint8_t> h) {
    PutLe16(h, kTermOffsetFes, static_cast<uint16_t>(pdu.fes));
    PutLe32(h, kTermOffsetFei, pdu.fei);
  });
  out.insert(out.end(), offending.begin(), offending.end());
}

void AppendCapsuleCmd(std::vector<uint8_t>& out, const nvme::Command& sqe,
                      std::span<const uint8_t> in_capsule_data, const EncodeOptions& opts) {
  const PduLayout layout =
      ComputeLayout(kCapsuleCmdHlen, static_cast<uint32_t>(in_capsule_data.size()), opts);
  AppendHeader(out, PduType::kCapsuleCmd, 0, layout, [&](std::span<uint8_t> h) {
    sqe.Encode(h.subspan(kCapsuleOffsetSqe).first<nvme::kSqeSize>());
  });
  AppendDataAndDigest(out, layout, in_capsule_data);
}

void AppendCapsuleResp(std::vector<uint8_t>& out, const nvme::Completion& cqe,
                       const EncodeOptions& opts) {
  const PduLayout layout = ComputeLayout(kCapsuleRespHlen, 0, opts);
  AppendHeader(out, PduType::kCapsuleResp, 0, layout, [&](std::span<uint8_t> h) {
    cqe.Encode(h.subspan(kCapsuleOffsetCqe).first<nvme::kCqeSize>());
  });
}

void AppendH2CDataPrefix(std::vector<uint8_t>& out, const H2CData& pdu, uint32_t datal,
                         const EncodeOptions& opts) {
  NVMP_ASSERT(datal > 0);
  const PduLayout layout = ComputeLayout(kDataHlen, datal, opts);
  AppendHeader(out, PduType::kH2CData, pdu.last ? kFlagLastPdu : 0, layout,
               [&](std::span<uint8_t> h) { FillDataFields(h, pdu.cccid, pdu.ttag, pdu.datao, datal); });
}

void AppendC2HDataPrefix(std::vector<uint8_t>& out, const C2HData& pdu, uint32_t datal,
                         const EncodeOptions& opts) {
  NVMP_ASSERT(datal > 0);
  NVMP_ASSERT(!pdu.success || pdu.last, "SUCCESS requires LAST_PDU");
  const PduLayout layout = ComputeLayout(kDataHlen, datal, opts);
  const uint8_t flags = (pdu.last ? kFlagLastPdu : 0) | (pdu.success ? kFlagSuccess : 0);
  AppendHeader(out, PduType::kC2HData, flags, layout,
               [&](std::span<uint8_t> h) { FillDataFields(h, pdu.cccid, 0, pdu.datao, datal); });
}

void AppendH2CData(std::vector<uint8_t>& out, const H2CData& pdu, std::span<const uint8_t> data,
                   const EncodeOptions& opts) {
  AppendH2CDataPrefix(out, pdu, static_cast<uint32_t>(data.size()), opts);
  AppendDataAndDigest(out, ComputeLayout(kDataHlen, static_cast<uint32_t>(data.size()), opts), data);
}

void AppendC2HData(std::vector<uint8_t>& out, const C2HData& pdu, std::span<const uint8_t> data,
                   const EncodeOptions& opts) {
  AppendC2HDataPrefix(out, pdu, static_cast<uint32_t>(data.size()), opts);
  AppendDataAndDigest(out, ComputeLayout(kDataHlen, static_cast<uint32_t>(data.size()), opts), data);
}

void AppendR2T(std::vector<uint8_t>& out, const R2T& pdu, const EncodeOptions& opts) {
  const PduLayout layout = ComputeLayout(kR2THlen, 0, opts);
  AppendHeader(out, PduType::kR2T, 0, layout, [&](std::span<uint8_t> h) {
    FillDataFields(h, pdu.cccid, pdu.ttag, pdu.r2to, pdu.r2tl);
  });
}

}  // namespace nvmpath::tcp
