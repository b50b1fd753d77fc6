#include "tcp/pdu_decoder.h"

#include <algorithm>
#include <string>

#include "base/assert.h"
#include "nvme/byte_order.h"
#include "tcp/crc32c.h"
#include "tcp/pdu_encoder.h"

namespace nvmpath::tcp {

using nvme::Get8;
using nvme::GetLe16;
using nvme::GetLe32;

namespace {

constexpr uint32_t kMaxConfiguredData = 64u << 20;

PduError Error(DecodeError kind, Fes fes, uint32_t fei, std::string message) {
  return PduError{kind, fes, fei, std::move(message)};
}
PduError HeaderField(DecodeError kind, size_t fei, std::string message) {
  return Error(kind, Fes::kInvalidHeaderField, static_cast<uint32_t>(fei), std::move(message));
}

bool IsKnownType(uint8_t t) {
  return t <= 0x07 || t == 0x09;
}
bool IsIc(PduType t) { return t == PduType::kIcReq || t == PduType::kIcResp; }
bool IsTermReq(PduType t) { return t == PduType::kH2CTermReq || t == PduType::kC2HTermReq; }
bool MayCarryData(PduType t) {
  return t == PduType::kCapsuleCmd || t == PduType::kH2CData || t == PduType::kC2HData;
}
std::string Num(uint64_t v) { return std::to_string(v); }

}  // namespace

PduDecoder::PduDecoder(DecoderConfig config) : config_(std::move(config)) {
  NVMP_ASSERT(config_.pda <= kPdaMax);
  NVMP_ASSERT(config_.max_data_per_pdu <= kMaxConfiguredData &&
              config_.max_in_capsule_data <= kMaxConfiguredData);
}

uint32_t PduDecoder::MaxPduSize() const {
  const uint32_t data = std::max(config_.max_data_per_pdu, config_.max_in_capsule_data);
  return std::max<uint32_t>(kTermReqMaxPlen, 0xFF + data + kDigestSize);
}

void PduDecoder::Fail(PduError error) {
  if (!error_) error_ = std::move(error);
}

PduDecoder::Step PduDecoder::Failed(PduError e) {
  Fail(std::move(e));
  return {Step::kError, 0};
}

std::optional<PduError> PduDecoder::CheckCommonHeader(std::span<const uint8_t> ch) const {
  const uint8_t raw_type = Get8(ch, kChOffsetType);
  const uint8_t flags = Get8(ch, kChOffsetFlags);
  const uint8_t hlen = Get8(ch, kChOffsetHlen);
  const uint8_t pdo = Get8(ch, kChOffsetPdo);
  const uint32_t plen = GetLe32(ch, kChOffsetPlen);

  if (!IsKnownType(raw_type)) {
    return HeaderField(DecodeError::kUnknownType, kChOffsetType,
                       "unknown PDU type " + Num(raw_type));
  }
  const PduType type = static_cast<PduType>(raw_type);
  const std::string name = PduTypeName(type);
  if (!IsValidFor(type, config_.role)) {
    return HeaderField(DecodeError::kWrongDirection, kChOffsetType,
                       name + (config_.role == Role::kHost ? " sent to a host"
                                                           : " sent to a controller"));
  }
  if (config_.expect_ic) {
    if (!ic_done_ && !IsIc(type) && !IsTermReq(type)) {
      return Error(DecodeError::kSequence, Fes::kPduSequenceError, 0,
                   name + " before the connection was initialized");
    }
    if (ic_done_ && IsIc(type)) {
      return Error(DecodeError::kSequence, Fes::kPduSequenceError, 0,
                   name + " after the connection was initialized");
    }
  }
  if (hlen != HeaderLength(type)) {
    return HeaderField(DecodeError::kBadHlen, kChOffsetHlen,
                       name + " HLEN " + Num(hlen) + ", expected " + Num(HeaderLength(type)));
  }
  if (IsIc(type) || IsTermReq(type)) {
    if (flags & (kFlagHdgst | kFlagDdgst)) {
      return HeaderField(DecodeError::kDigestOnControlPdu, kChOffsetFlags,
                         name + " must not carry digests");
    }
    if (IsIc(type) && plen != kIcHlen) {
      return HeaderField(plen < kIcHlen ? DecodeError::kPlenTooSmall : DecodeError::kPlenTooLarge,
                         kChOffsetPlen, name + " PLEN " + Num(plen) + ", expected 128");
    }
    if (IsTermReq(type) && plen < kTermReqHlen) {
      return HeaderField(DecodeError::kPlenTooSmall, kChOffsetPlen,
                         name + " PLEN " + Num(plen) + " is shorter than its header");
    }
    if (IsTermReq(type) && plen > kTermReqMaxPlen) {
      return HeaderField(DecodeError::kTermReqTooLong, kChOffsetPlen,
                         name + " PLEN " + Num(plen) + " is over 152");
    }
    return std::nullopt;
  }

  const bool hd = flags & kFlagHdgst;
  if (hd && !config_.hdgst) {
    return HeaderField(DecodeError::kUnexpectedHeaderDigest, kChOffsetFlags,
                       name + " has HDGSTF set but header digests were not negotiated");
  }
  if (!hd && config_.hdgst) {
    return HeaderField(DecodeError::kMissingHeaderDigest, kChOffsetFlags,
                       name + " lacks HDGSTF but header digests were negotiated");
  }
  if (type == PduType::kC2HData && (flags & kFlagSuccess) && !(flags & kFlagLastPdu)) {
    return HeaderField(DecodeError::kBadFlags, kChOffsetFlags, "C2HData SUCCESS without LAST_PDU");
  }
  if (type == PduType::kH2CData && (flags & kFlagSuccess)) {
    return HeaderField(DecodeError::kBadFlags, kChOffsetFlags, "H2CData with the SUCCESS flag");
  }
  const uint32_t header_end = hlen + (hd ? kDigestSize : 0);
  if (plen < header_end) {
    return HeaderField(DecodeError::kPlenTooSmall, kChOffsetPlen,
                       name + " PLEN " + Num(plen) + " is shorter than its header (" +
                           Num(header_end) + ")");
  }
  const bool dd = flags & kFlagDdgst;
  if (!MayCarryData(type) || plen == header_end) {
    if (dd) {
      return HeaderField(DecodeError::kUnexpectedDataDigest, kChOffsetFlags,
                         name + " has DDGSTF set but carries no data");
    }
    if (plen > header_end) {
      return HeaderField(DecodeError::kPlenTooLarge, kChOffsetPlen,
                         name + " PLEN " + Num(plen) + ", expected " + Num(header_end));
    }
    // PDO is meaningless without data; Linux and SPDK send 0. Accept the padded offset too.
    if (pdo != 0 && pdo != DataOffset(hlen, hd, config_.pda)) {
      return HeaderField(DecodeError::kBadPdo, kChOffsetPdo,
                         name + " PDO " + Num(pdo) + " without data");
    }
    return std::nullopt;
  }

  if (dd && !config_.ddgst) {
    return HeaderField(DecodeError::kUnexpectedDataDigest, kChOffsetFlags,
                       name + " has DDGSTF set but data digests were not negotiated");
  }
  if (!dd && config_.ddgst) {
    return HeaderField(DecodeError::kMissingDataDigest, kChOffsetFlags,
                       name + " lacks DDGSTF but data digests were negotiated");
  }
  const uint32_t expected_pdo = DataOffset(hlen, hd, config_.pda);
  if (pdo < header_end) {
    return HeaderField(DecodeError::kBadPdo, kChOffsetPdo,
                       name + " PDO " + Num(pdo) + " points into the header, which ends at " +
                           Num(header_end));
  }
  if (pdo != expected_pdo) {
    return HeaderField(DecodeError::kBadPdo, kChOffsetPdo,
                       name + " PDO " + Num(pdo) + " does not match the padding for PDA " +
                           Num(config_.pda) + " (expected " + Num(expected_pdo) + ")");
  }
  const uint32_t trailer = dd ? kDigestSize : 0;
  if (uint64_t{pdo} + trailer >= plen) {
    return HeaderField(DecodeError::kBadPdo, kChOffsetPdo,
                       name + " PDO " + Num(pdo) + " leaves no data within PLEN " + Num(plen));
  }
  const uint32_t data_len = plen - pdo - trailer;
  const uint32_t limit = type == PduType::kCapsuleCmd ? config_.max_in_capsule_data
                                                      : config_.max_data_per_pdu;
  if (data_len > limit) {
    return Error(DecodeError::kDataTooLarge, Fes::kDataLimitExceeded, 0,
                 name + " carries " + Num(data_len) + " data bytes, over the limit of " +
                     Num(limit));
  }
  return std::nullopt;
}

std::optional<PduError> PduDecoder::ParseHeader(std::span<const uint8_t> b, Pdu& out) const {
  out.type = static_cast<PduType>(Get8(b, kChOffsetType));
  out.flags = Get8(b, kChOffsetFlags);
  out.hlen = Get8(b, kChOffsetHlen);
  out.pdo = Get8(b, kChOffsetPdo);
  out.plen = GetLe32(b, kChOffsetPlen);
  const std::string name = PduTypeName(out.type);
  if (out.flags & kFlagHdgst) {
    const uint32_t want = Crc32c(b.first(out.hlen));
    const uint32_t got = GetLe32(b, out.hlen);
    if (want != got) {
      return Error(DecodeError::kHeaderDigestMismatch, Fes::kHeaderDigestError, 0,
                   name + " header digest mismatch");
    }
    out.header_digest = true;
  }
  // Data bytes implied by PLEN (validated by CheckCommonHeader).
  const uint32_t header_end = out.hlen + (out.header_digest ? kDigestSize : 0);
  const uint32_t data_len =
      out.plen == header_end ? 0 : out.plen - out.pdo - ((out.flags & kFlagDdgst) ? kDigestSize : 0);

  auto check_pfv = [&](uint16_t pfv) -> std::optional<PduError> {
    if (pfv != 0) {
      return Error(DecodeError::kBadPfv, Fes::kUnsupportedParameter, kIcOffsetPfv,
                   name + " PFV " + Num(pfv) + " is not supported");
    }
    return std::nullopt;
  };
  auto check_datal = [&](uint32_t datal, const char* field) -> std::optional<PduError> {
    if (datal == 0 || datal != data_len) {
      return HeaderField(DecodeError::kBadDatal, kDataOffsetDatal,
                         name + " " + field + " " + Num(datal) + " but PLEN leaves " +
                             Num(data_len) + " data bytes");
    }
    return std::nullopt;
  };

  switch (out.type) {
    case PduType::kIcReq:
    case PduType::kIcResp: {
      const uint16_t pfv = GetLe16(b, kIcOffsetPfv);
      if (auto e = check_pfv(pfv)) return e;
      const uint8_t pda = Get8(b, kIcOffsetPda);
      const uint8_t dgst = Get8(b, kIcOffsetDgst);
      const uint32_t word = GetLe32(b, kIcOffsetMaxr2t);
      if (pda > kPdaMax) {
        return HeaderField(DecodeError::kBadIcField, kIcOffsetPda,
                           name + (out.type == PduType::kIcReq ? " HPDA " : " CPDA ") + Num(pda) +
                               " is over 31");
      }
      if (out.type == PduType::kIcReq) {
        out.body = IcReq{pfv, pda, (dgst & kIcDgstHeader) != 0, (dgst & kIcDgstData) != 0, word};
      } else {
        if (word < kMinMaxH2CData || word % 4 != 0) {
          return HeaderField(DecodeError::kBadIcField, kIcOffsetMaxh2cdata,
                             "ICResp MAXH2CDATA " + Num(word) +
                                 " is not a multiple of 4 of at least 4096");
        }
        out.body = IcResp{pfv, pda, (dgst & kIcDgstHeader) != 0, (dgst & kIcDgstData) != 0, word};
      }
      return std::nullopt;
    }
    case PduType::kH2CTermReq:
    case PduType::kC2HTermReq:
      out.body = TermReq{static_cast<Fes>(GetLe16(b, kTermOffsetFes)), GetLe32(b, kTermOffsetFei)};
      return std::nullopt;
    case PduType::kCapsuleCmd:
      out.body = CapsuleCmd{nvme::Command::Decode(b.subspan(kCapsuleOffsetSqe).first<nvme::kSqeSize>())};
      return std::nullopt;
    case PduType::kCapsuleResp:
      out.body =
          CapsuleResp{nvme::Completion::Decode(b.subspan(kCapsuleOffsetCqe).first<nvme::kCqeSize>())};
      return std::nullopt;
    case PduType::kH2CData: {
      H2CData d{GetLe16(b, kDataOffsetCccid), GetLe16(b, kDataOffsetTtag),
                GetLe32(b, kDataOffsetDatao), (out.flags & kFlagLastPdu) != 0};
      if (auto e = check_datal(GetLe32(b, kDataOffsetDatal), "DATAL")) return e;
      out.body = d;
      return std::nullopt;
    }
    case PduType::kC2HData: {
      C2HData d{GetLe16(b, kDataOffsetCccid), GetLe32(b, kDataOffsetDatao),
                (out.flags & kFlagLastPdu) != 0, (out.flags & kFlagSuccess) != 0};
      if (auto e = check_datal(GetLe32(b, kDataOffsetDatal), "DATAL")) return e;
      out.body = d;
      return std::nullopt;
    }
    case PduType::kR2T: {
      R2T r{GetLe16(b, kDataOffsetCccid), GetLe16(b, kDataOffsetTtag), GetLe32(b, kDataOffsetDatao),
            GetLe32(b, kDataOffsetDatal)};
      if (r.r2tl == 0) {
        return HeaderField(DecodeError::kBadDatal, kDataOffsetDatal, "R2T R2TL is 0");
      }
      out.body = r;
      return std::nullopt;
    }
  }
  NVMP_UNREACHABLE("type was checked by CheckCommonHeader");
}

PduDecoder::Step PduDecoder::Decode(std::span<const uint8_t> in, const Callback& on_pdu) {
  if (in.size() < kCommonHeaderSize) return {Step::kNeedMore, kCommonHeaderSize};
  if (auto e = CheckCommonHeader(in.first(kCommonHeaderSize))) return Failed(std::move(*e));
  const uint8_t flags = Get8(in, kChOffsetFlags);
  const uint8_t hlen = Get8(in, kChOffsetHlen);
  const uint32_t plen = GetLe32(in, kChOffsetPlen);
  const size_t header_end = hlen + ((flags & kFlagHdgst) ? kDigestSize : 0);
  if (in.size() < header_end) return {Step::kNeedMore, header_end};

  Pdu pdu;
  if (auto e = ParseHeader(in.first(header_end), pdu)) return Failed(std::move(*e));
  if (in.size() < plen) return {Step::kNeedMore, plen};

  const auto whole = in.first(plen);
  if (IsTermReq(pdu.type)) {
    pdu.data = whole.subspan(hlen);
  } else if (plen > header_end) {
    const bool dd = flags & kFlagDdgst;
    const size_t data_len = plen - pdu.pdo - (dd ? kDigestSize : 0);
    pdu.data = whole.subspan(pdu.pdo, data_len);
    if (dd) {
      pdu.data_digest = true;
      if (Crc32c(pdu.data) != GetLe32(whole, pdu.pdo + data_len)) {
        if (config_.data_digest_error_fatal) {
          return Failed(Error(DecodeError::kDataDigestMismatch, Fes::kNone, 0,
                              std::string(PduTypeName(pdu.type)) + " data digest mismatch"));
        }
        pdu.data_digest_ok = false;
      }
    }
  }
  if (config_.transfer_length) {
    std::optional<PduError> range;
    if (auto* d = pdu.get_if<H2CData>()) {
      if (auto len = config_.transfer_length(d->cccid)) {
        range = CheckDataRange(d->datao, static_cast<uint32_t>(pdu.data.size()), *len);
      }
    } else if (auto* c = pdu.get_if<C2HData>()) {
      if (auto len = config_.transfer_length(c->cccid)) {
        range = CheckDataRange(c->datao, static_cast<uint32_t>(pdu.data.size()), *len);
      }
    } else if (auto* r = pdu.get_if<R2T>()) {
      if (auto len = config_.transfer_length(r->cccid)) range = CheckDataRange(r->r2to, r->r2tl, *len);
    }
    if (range) {
      range->message = std::string(PduTypeName(pdu.type)) + ": " + range->message;
      return Failed(std::move(*range));
    }
  }
  if (IsIc(pdu.type)) ic_done_ = true;
  on_pdu(pdu);
  if (error_) return {Step::kError, 0};
  return {Step::kDone, plen};
}

Status PduDecoder::Feed(std::span<const uint8_t> in, const Callback& on_pdu) {
  while (!error_) {
    if (in.empty()) return Status::Ok();
    if (buffer_.empty()) {
      // Fast path: decode straight from the caller's bytes, no copy.
      const Step step = Decode(in, on_pdu);
      if (step.kind == Step::kError) break;
      if (step.kind == Step::kDone) {
        in = in.subspan(step.n);
        continue;
      }
      // Incomplete: keep what we have. step.n was bounded by CheckCommonHeader before we got
      // here (or is at most the header length), so this stays within MaxPduSize().
      need_ = step.n;
      buffer_.assign(in.begin(), in.end());
      return Status::Ok();
    }
    const size_t take = std::min(need_ - buffer_.size(), in.size());
    buffer_.insert(buffer_.end(), in.begin(), in.begin() + take);
    in = in.subspan(take);
    if (buffer_.size() < need_) return Status::Ok();
    const Step step = Decode(buffer_, on_pdu);
    if (step.kind == Step::kError) break;
    if (step.kind == Step::kDone) {
      buffer_.clear();
      need_ = kCommonHeaderSize;
    } else {
      need_ = step.n;
    }
  }
  return error_->ToStatus();
}

}  // namespace nvmpath::tcp
