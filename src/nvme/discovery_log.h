// The Discovery log page (LID 70h), served by a discovery controller.
// Header (1024 B): GENCTR u64 @0, NUMREC u64 @8, RECFMT u16 @16. Then NUMREC entries of 1024 B:
// TRTYPE @0, ADRFAM @1, SUBTYPE @2, TREQ @3, PORTID u16 @4, CNTLID u16 @6, ASQSZ u16 @8,
// EFLAGS u16 @10, TRSVCID @32 (32 B), SUBNQN @256 (256 B), TRADDR @512 (256 B), TSAS @768 (256 B).
// A host reads the header, then the entries, then the header again and retries when GENCTR
// changed in between.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nvmpath/status.h"

namespace nvmpath::nvme {

inline constexpr size_t kDiscoveryHeaderSize = 1024;
inline constexpr size_t kDiscoveryEntrySize = 1024;
inline constexpr size_t kDiscoveryOffsetGenctr = 0;
inline constexpr size_t kDiscoveryOffsetNumrec = 8;
inline constexpr size_t kDiscoveryOffsetRecfmt = 16;
inline constexpr size_t kDiscEntryOffsetTrtype = 0;
inline constexpr size_t kDiscEntryOffsetAdrfam = 1;
inline constexpr size_t kDiscEntryOffsetSubtype = 2;
inline constexpr size_t kDiscEntryOffsetTreq = 3;
inline constexpr size_t kDiscEntryOffsetPortid = 4;
inline constexpr size_t kDiscEntryOffsetCntlid = 6;
inline constexpr size_t kDiscEntryOffsetAsqsz = 8;
inline constexpr size_t kDiscEntryOffsetEflags = 10;
inline constexpr size_t kDiscEntryOffsetTrsvcid = 32;
inline constexpr size_t kDiscEntryOffsetSubnqn = 256;
inline constexpr size_t kDiscEntryOffsetTraddr = 512;
inline constexpr size_t kDiscEntryOffsetTsas = 768;
inline constexpr size_t kDiscTrsvcidSize = 32;
inline constexpr size_t kDiscTraddrSize = 256;
inline constexpr size_t kDiscTsasSize = 256;
static_assert(kDiscoveryOffsetNumrec == 8 && kDiscoveryOffsetRecfmt == 16);
static_assert(kDiscEntryOffsetPortid == 4 && kDiscEntryOffsetCntlid == 6 &&
              kDiscEntryOffsetAsqsz == 8 && kDiscEntryOffsetEflags == 10 &&
              kDiscEntryOffsetTrsvcid == 32 && kDiscEntryOffsetSubnqn == 256 &&
              kDiscEntryOffsetTraddr == 512 && kDiscEntryOffsetTsas == 768);
static_assert(kDiscEntryOffsetTrsvcid + kDiscTrsvcidSize <= kDiscEntryOffsetSubnqn &&
              kDiscEntryOffsetTsas + kDiscTsasSize == kDiscoveryEntrySize);

inline constexpr uint8_t kTrtypeTcp = 3;
inline constexpr uint8_t kAdrfamIpv4 = 1;
inline constexpr uint8_t kAdrfamIpv6 = 2;
inline constexpr uint8_t kSubtypeReferral = 1;  // another discovery subsystem
inline constexpr uint8_t kSubtypeNvm = 2;
inline constexpr uint8_t kSubtypeCurrentDiscovery = 3;
inline constexpr uint8_t kTreqNotSpecified = 0;
inline constexpr uint8_t kTreqRequired = 1;
inline constexpr uint8_t kTreqNotRequired = 2;

struct DiscoveryLogEntry {
  uint8_t trtype = kTrtypeTcp;
  uint8_t adrfam = kAdrfamIpv4;
  uint8_t subtype = kSubtypeNvm;
  uint8_t treq = kTreqNotSpecified;
  uint16_t portid = 0;
  uint16_t cntlid = 0xFFFF;
  uint16_t asqsz = 32;
  uint16_t eflags = 0;
  std::string trsvcid;  // "4420"
  std::string subnqn;
  std::string traddr;   // "127.0.0.1"
  std::array<uint8_t, kDiscTsasSize> tsas{};  // TCP: byte 0 SECTYPE

  // REQUIRES: trsvcid <= 32, subnqn <= 223, traddr <= 256 bytes.
  void Encode(std::span<uint8_t, kDiscoveryEntrySize> out) const;
  // Errors: SUBNQN without a NUL terminator.
  static Result<DiscoveryLogEntry> Decode(std::span<const uint8_t, kDiscoveryEntrySize> in);
  friend bool operator==(const DiscoveryLogEntry&, const DiscoveryLogEntry&) = default;
};

struct DiscoveryLogHeader {
  uint64_t genctr = 0;
  uint64_t numrec = 0;
  uint16_t recfmt = 0;
  // Reads just the header (a host may read only the first 1024 bytes). Errors: fewer than 1024 B.
  static Result<DiscoveryLogHeader> Decode(std::span<const uint8_t> in);
};

struct DiscoveryLog {
  uint64_t genctr = 0;
  uint16_t recfmt = 0;
  std::vector<DiscoveryLogEntry> entries;

  size_t EncodedSize() const { return kDiscoveryHeaderSize + kDiscoveryEntrySize * entries.size(); }
  std::vector<uint8_t> Encode() const;
  // Errors: short header; fewer bytes than NUMREC entries need (naming NUMREC); a bad entry
  // (naming its index).
  static Result<DiscoveryLog> Decode(std::span<const uint8_t> in);
  friend bool operator==(const DiscoveryLog&, const DiscoveryLog&) = default;
};

}  // namespace nvmpath::nvme
