// NVMe/TCP PDUs as data: types, flags, header lengths, field offsets and one struct per PDU
// type. Shared by the host and the target (shared/DESIGN.md: "one PDU codec"). The byte layout
// is described in docs/wire-format.md; offsets below are from the NVMe/TCP transport
// specification and pinned by static_assert.
//
// Every PDU starts with an 8-byte common header:
//   0 PDU-TYPE | 1 FLAGS | 2 HLEN | 3 PDO | 4 PLEN u32
// then the rest of the type-specific header (HLEN bytes in all), the header digest (if
// negotiated), padding up to PDO, the data, and the data digest (if negotiated and there is
// data). PLEN counts all of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "nvme/command.h"
#include "nvme/completion.h"

namespace nvmpath::tcp {

enum class PduType : uint8_t {
  kIcReq = 0x00,
  kIcResp = 0x01,
  kH2CTermReq = 0x02,
  kC2HTermReq = 0x03,
  kCapsuleCmd = 0x04,
  kCapsuleResp = 0x05,
  kH2CData = 0x06,
  kC2HData = 0x07,
  kR2T = 0x09,
};
const char* PduTypeName(PduType type);
const char* PduTypeName(uint8_t type);  // "unknown" for values not in PduType

// Which end of the connection decodes: the host receives controller-to-host PDUs, the
// controller (target) host-to-controller PDUs.
enum class Role : uint8_t { kHost, kController };

// True if a PDU of `type` may be sent to `receiver`.
constexpr bool IsValidFor(PduType type, Role receiver) {
  switch (type) {
    case PduType::kIcReq:
    case PduType::kH2CTermReq:
    case PduType::kCapsuleCmd:
    case PduType::kH2CData:
      return receiver == Role::kController;
    case PduType::kIcResp:
    case PduType::kC2HTermReq:
    case PduType::kCapsuleResp:
    case PduType::kC2HData:
    case PduType::kR2T:
      return receiver == Role::kHost;
  }
  return false;
}

// FLAGS bits.
inline constexpr uint8_t kFlagHdgst = 1u << 0;     // a header digest follows the header
inline constexpr uint8_t kFlagDdgst = 1u << 1;     // a data digest follows the data
inline constexpr uint8_t kFlagLastPdu = 1u << 2;   // H2CData / C2HData: last of the transfer
inline constexpr uint8_t kFlagSuccess = 1u << 3;   // C2HData: no CapsuleResp will follow

inline constexpr size_t kDigestSize = 4;

// Common header.
inline constexpr size_t kCommonHeaderSize = 8;
inline constexpr size_t kChOffsetType = 0;
inline constexpr size_t kChOffsetFlags = 1;
inline constexpr size_t kChOffsetHlen = 2;
inline constexpr size_t kChOffsetPdo = 3;
inline constexpr size_t kChOffsetPlen = 4;
static_assert(kChOffsetPlen + 4 == kCommonHeaderSize);

// Header lengths (HLEN).
inline constexpr uint8_t kIcHlen = 128;
inline constexpr uint8_t kTermReqHlen = 24;
inline constexpr uint8_t kCapsuleCmdHlen = 72;
inline constexpr uint8_t kCapsuleRespHlen = 24;
inline constexpr uint8_t kDataHlen = 24;  // H2CData and C2HData
inline constexpr uint8_t kR2THlen = 24;
// HLEN for `type`.
constexpr uint8_t HeaderLength(PduType type) {
  switch (type) {
    case PduType::kIcReq:
    case PduType::kIcResp: return kIcHlen;
    case PduType::kH2CTermReq:
    case PduType::kC2HTermReq: return kTermReqHlen;
    case PduType::kCapsuleCmd: return kCapsuleCmdHlen;
    case PduType::kCapsuleResp: return kCapsuleRespHlen;
    case PduType::kH2CData:
    case PduType::kC2HData: return kDataHlen;
    case PduType::kR2T: return kR2THlen;
  }
  return 0;
}

// ICReq / ICResp: PFV u16 @8, HPDA / CPDA u8 @10, DGST u8 @11 (bit0 HDGST_ENABLE, bit1
// DDGST_ENABLE), MAXR2T / MAXH2CDATA u32 @12, reserved to 128.
inline constexpr size_t kIcOffsetPfv = 8;
inline constexpr size_t kIcOffsetPda = 10;
inline constexpr size_t kIcOffsetDgst = 11;
inline constexpr size_t kIcOffsetMaxr2t = 12;
inline constexpr size_t kIcOffsetMaxh2cdata = 12;
inline constexpr uint8_t kIcDgstHeader = 1u << 0;
inline constexpr uint8_t kIcDgstData = 1u << 1;
inline constexpr uint8_t kPdaMax = 31;  // PDA is a 0's based dword count, at most 31 (128 B)
inline constexpr uint32_t kMinMaxH2CData = 4096;

// H2CTermReq / C2HTermReq: FES u16 @8, FEI u32 @10, then up to 128 bytes of the PDU header that
// caused the error. Never carries digests.
inline constexpr size_t kTermOffsetFes = 8;
inline constexpr size_t kTermOffsetFei = 10;
inline constexpr size_t kTermReqMaxData = 128;
inline constexpr uint32_t kTermReqMaxPlen = kTermReqHlen + kTermReqMaxData;
static_assert(kTermReqMaxPlen == 152);

// CapsuleCmd: SQE @8 (64 B). CapsuleResp: CQE @8 (16 B).
inline constexpr size_t kCapsuleOffsetSqe = 8;
inline constexpr size_t kCapsuleOffsetCqe = 8;
static_assert(kCapsuleOffsetSqe + nvme::kSqeSize == kCapsuleCmdHlen);
static_assert(kCapsuleOffsetCqe + nvme::kCqeSize == kCapsuleRespHlen);

// H2CData / C2HData / R2T: CCCID u16 @8, TTAG u16 @10 (not C2HData), DATAO / R2TO u32 @12,
// DATAL / R2TL u32 @16, reserved @20.
inline constexpr size_t kDataOffsetCccid = 8;
inline constexpr size_t kDataOffsetTtag = 10;
inline constexpr size_t kDataOffsetDatao = 12;
inline constexpr size_t kDataOffsetDatal = 16;
static_assert(kDataOffsetDatal + 4 <= kDataHlen);

// Fatal Error Status of a Term Req: what a receiver reports before closing the connection.
enum class Fes : uint16_t {
  kNone = 0x00,  // not a Term Req condition (e.g. data digest: fail the command instead)
  kInvalidHeaderField = 0x01,  // FEI = byte offset of the field in the PDU header
  kPduSequenceError = 0x02,
  kHeaderDigestError = 0x03,
  kDataOutOfRange = 0x04,
  kDataLimitExceeded = 0x05,  // R2T limit / data limit exceeded
  kUnsupportedParameter = 0x06,  // FEI = byte offset of the field
};
const char* FesName(Fes fes);

// ---- One struct per PDU type (the header fields; data travels beside them) ----

struct IcReq {
  uint16_t pfv = 0;
  uint8_t hpda = 0;  // alignment the host requires of controller-to-host data, 0's based dwords
  bool hdgst = false;
  bool ddgst = false;
  uint32_t maxr2t = 0;  // 0's based
  friend bool operator==(const IcReq&, const IcReq&) = default;
};

struct IcResp {
  uint16_t pfv = 0;
  uint8_t cpda = 0;  // alignment the controller requires of host-to-controller data
  bool hdgst = false;
  bool ddgst = false;
  uint32_t maxh2cdata = 0;  // bytes, >= 4096, a multiple of 4
  friend bool operator==(const IcResp&, const IcResp&) = default;
};

struct TermReq {
  Fes fes = Fes::kInvalidHeaderField;
  uint32_t fei = 0;
  friend bool operator==(const TermReq&, const TermReq&) = default;
};

struct CapsuleCmd {
  nvme::Command sqe;
  friend bool operator==(const CapsuleCmd&, const CapsuleCmd&) = default;
};

struct CapsuleResp {
  nvme::Completion cqe;
  friend bool operator==(const CapsuleResp&, const CapsuleResp&) = default;
};

struct H2CData {
  uint16_t cccid = 0;
  uint16_t ttag = 0;
  uint32_t datao = 0;
  bool last = false;
  friend bool operator==(const H2CData&, const H2CData&) = default;
};

struct C2HData {
  uint16_t cccid = 0;
  uint32_t datao = 0;
  bool last = false;
  bool success = false;  // requires `last`
  friend bool operator==(const C2HData&, const C2HData&) = default;
};

struct R2T {
  uint16_t cccid = 0;
  uint16_t ttag = 0;
  uint32_t r2to = 0;
  uint32_t r2tl = 0;
  friend bool operator==(const R2T&, const R2T&) = default;
};

using PduBody = std::variant<IcReq, IcResp, TermReq, CapsuleCmd, CapsuleResp, H2CData, C2HData, R2T>;

// A decoded PDU. `data` is a view into the decoder's input or buffer: valid only until the
// decoder's callback returns. For CapsuleCmd it is the in-capsule data, for H2CData/C2HData the
// data (DATAL bytes), for a TermReq the offending header it carries.
struct Pdu {
  PduType type = PduType::kIcReq;
  uint8_t flags = 0;
  uint8_t hlen = 0;
  uint8_t pdo = 0;
  uint32_t plen = 0;
  bool header_digest = false;  // present and verified
  bool data_digest = false;    // present; verified unless data_digest_ok is false
  bool data_digest_ok = true;  // false only with DecoderConfig::data_digest_error_fatal = false
  PduBody body;
  std::span<const uint8_t> data;

  template <typename T>
  const T& as() const { return std::get<T>(body); }
  template <typename T>
  const T* get_if() const { return std::get_if<T>(&body); }
};

}  // namespace nvmpath::tcp
