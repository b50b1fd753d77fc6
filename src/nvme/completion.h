// The 16-byte completion queue entry (CQE).
// Layout: DW0 @0, DW1 @4, SQHD u16 @8, SQID u16 @10, CID u16 @12, status u16 @14 where bit 0
// is the phase tag and bits 15:1 the status field (nvme/status.h).
// On NVMe/TCP the phase tag has no meaning (there is no ring) and is sent as 0.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "nvme/byte_order.h"
#include "nvme/status.h"

namespace nvmpath::nvme {

inline constexpr size_t kCqeSize = 16;
inline constexpr size_t kCqeOffsetDw0 = 0;
inline constexpr size_t kCqeOffsetDw1 = 4;
inline constexpr size_t kCqeOffsetSqhd = 8;
inline constexpr size_t kCqeOffsetSqid = 10;
inline constexpr size_t kCqeOffsetCid = 12;
inline constexpr size_t kCqeOffsetStatus = 14;
static_assert(kCqeOffsetStatus + 2 == kCqeSize);

struct Completion {
  uint32_t dw0 = 0;
  uint32_t dw1 = 0;
  uint16_t sqhd = 0;
  uint16_t sqid = 0;
  uint16_t cid = 0;
  NvmeStatus status;
  bool phase = false;

  // A Property Get result spans DW0 (low) and DW1 (high).
  uint64_t result64() const { return (uint64_t{dw1} << 32) | dw0; }

  void Encode(std::span<uint8_t, kCqeSize> out) const {
    PutLe32(out, kCqeOffsetDw0, dw0);
    PutLe32(out, kCqeOffsetDw1, dw1);
    PutLe16(out, kCqeOffsetSqhd, sqhd);
    PutLe16(out, kCqeOffsetSqid, sqid);
    PutLe16(out, kCqeOffsetCid, cid);
    PutLe16(out, kCqeOffsetStatus, status.ToCqeWord(phase));
  }
  std::array<uint8_t, kCqeSize> Encode() const {
    std::array<uint8_t, kCqeSize> out{};
    Encode(std::span<uint8_t, kCqeSize>(out));
    return out;
  }
  static Completion Decode(std::span<const uint8_t, kCqeSize> in) {
    Completion c;
    c.dw0 = GetLe32(in, kCqeOffsetDw0);
    c.dw1 = GetLe32(in, kCqeOffsetDw1);
    c.sqhd = GetLe16(in, kCqeOffsetSqhd);
    c.sqid = GetLe16(in, kCqeOffsetSqid);
    c.cid = GetLe16(in, kCqeOffsetCid);
    const uint16_t word = GetLe16(in, kCqeOffsetStatus);
    c.status = NvmeStatus::FromCqeWord(word);
    c.phase = word & 1;
    return c;
  }

  friend bool operator==(const Completion&, const Completion&) = default;
};

}  // namespace nvmpath::nvme
