// The 16-byte SGL descriptor NVMe/TCP uses in SQE DPTR (PSDT = 01b). Two forms matter on TCP:
//   - Data Block, subtype Offset: data is in the capsule, `address` is its offset from the start
//     of in-capsule data (ICDOFF; Linux requires 0).
//   - Transport Data Block (type 5, subtype 0xA): data moves in separate H2CData / C2HData PDUs,
//     address 0.
// Layout: ADDRESS u64 @0, LENGTH u32 @8, reserved @12..14, byte 15 = type (7:4) | subtype (3:0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nvme/byte_order.h"

namespace nvmpath::nvme {

inline constexpr size_t kSglDescriptorSize = 16;
inline constexpr size_t kSglOffsetAddress = 0;
inline constexpr size_t kSglOffsetLength = 8;
inline constexpr size_t kSglOffsetTypeByte = 15;
static_assert(kSglOffsetLength + 4 <= kSglOffsetTypeByte);
static_assert(kSglOffsetTypeByte + 1 == kSglDescriptorSize);

enum class SglType : uint8_t {
  kDataBlock = 0x0,
  kBitBucket = 0x1,
  kSegment = 0x2,
  kLastSegment = 0x3,
  kKeyedDataBlock = 0x4,
  kTransportDataBlock = 0x5,
};

inline constexpr uint8_t kSglSubtypeAddress = 0x0;
inline constexpr uint8_t kSglSubtypeOffset = 0x1;
inline constexpr uint8_t kSglSubtypeTransport = 0xA;

struct SglDescriptor {
  uint64_t address = 0;
  uint32_t length = 0;
  uint8_t type = 0;     // SglType value; kept raw so an unknown type from a peer survives decode
  uint8_t subtype = 0;

  // In-capsule data of `length` bytes at `offset` into the capsule data.
  static constexpr SglDescriptor InCapsule(uint32_t length, uint64_t offset = 0) {
    return {offset, length, static_cast<uint8_t>(SglType::kDataBlock), kSglSubtypeOffset};
  }
  // Data carried by the transport (R2T/H2CData or C2HData).
  static constexpr SglDescriptor Transport(uint32_t length) {
    return {0, length, static_cast<uint8_t>(SglType::kTransportDataBlock), kSglSubtypeTransport};
  }

  constexpr bool IsInCapsule() const {
    return type == static_cast<uint8_t>(SglType::kDataBlock) && subtype == kSglSubtypeOffset;
  }
  constexpr bool IsTransport() const {
    return type == static_cast<uint8_t>(SglType::kTransportDataBlock) &&
           subtype == kSglSubtypeTransport;
  }

  void Encode(std::span<uint8_t, kSglDescriptorSize> out) const {
    PutLe64(out, kSglOffsetAddress, address);
    PutLe32(out, kSglOffsetLength, length);
    out[12] = out[13] = out[14] = 0;
    Put8(out, kSglOffsetTypeByte, static_cast<uint8_t>((type << 4) | (subtype & 0xF)));
  }
  static SglDescriptor Decode(std::span<const uint8_t, kSglDescriptorSize> in) {
    uint8_t id = Get8(in, kSglOffsetTypeByte);
    return {GetLe64(in, kSglOffsetAddress), GetLe32(in, kSglOffsetLength),
            static_cast<uint8_t>(id >> 4), static_cast<uint8_t>(id & 0xF)};
  }

  friend constexpr bool operator==(const SglDescriptor&, const SglDescriptor&) = default;
};

}  // namespace nvmpath::nvme
