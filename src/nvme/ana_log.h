// The Asymmetric Namespace Access log page (LID 0Ch).
// Header (16 B): CHGCNT u64 @0, NGRPS u16 @8. Then NGRPS group descriptors, each 32 B followed
// by NNSIDS u32 NSIDs: ANAGRPID u32 @0, NNSIDS u32 @4, CHGCNT u64 @8, STATE u8 @16 (bits 3:0).
//
// Decode validates the way Linux nvme_parse_ana_log does, so a log the Linux host would reject
// is rejected here too: ANAGRPID 0, ANAGRPID > ANAGRPMAX, state byte 0 or > 0Fh, and a descriptor
// or its NSID list running past the end of the buffer are errors naming the descriptor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nvmpath/status.h"

namespace nvmpath::nvme {

inline constexpr size_t kAnaLogHeaderSize = 16;
inline constexpr size_t kAnaLogOffsetChgcnt = 0;
inline constexpr size_t kAnaLogOffsetNgrps = 8;
inline constexpr size_t kAnaDescSize = 32;
inline constexpr size_t kAnaDescOffsetGrpid = 0;
inline constexpr size_t kAnaDescOffsetNnsids = 4;
inline constexpr size_t kAnaDescOffsetChgcnt = 8;
inline constexpr size_t kAnaDescOffsetState = 16;
inline constexpr size_t kAnaDescOffsetNsids = 32;
static_assert(kAnaLogOffsetNgrps == 8 && kAnaLogHeaderSize == 16);
static_assert(kAnaDescOffsetNnsids == 4 && kAnaDescOffsetChgcnt == 8 && kAnaDescOffsetState == 16 &&
              kAnaDescOffsetNsids == kAnaDescSize);

// Get Log Page LSP bit 0: return groups only (no NSID lists).
inline constexpr uint8_t kAnaLspRgo = 1;

enum class AnaState : uint8_t {
  kOptimized = 0x1,
  kNonOptimized = 0x2,
  kInaccessible = 0x3,
  kPersistentLoss = 0x4,
  kChange = 0xF,
};
const char* AnaStateName(AnaState state);
// Optimized and non-optimized are the only states that serve I/O.
constexpr bool AnaStateIsLive(AnaState s) {
  return s == AnaState::kOptimized || s == AnaState::kNonOptimized;
}

struct AnaGroupDescriptor {
  uint32_t grpid = 0;
  uint64_t chgcnt = 0;
  AnaState state = AnaState::kOptimized;
  std::vector<uint32_t> nsids;
  friend bool operator==(const AnaGroupDescriptor&, const AnaGroupDescriptor&) = default;
};

struct AnaLog {
  uint64_t chgcnt = 0;
  std::vector<AnaGroupDescriptor> groups;

  // Bytes Encode writes; with `groups_only` (RGO) the NSID lists are left out.
  size_t EncodedSize(bool groups_only = false) const;
  // REQUIRES: out.size() >= EncodedSize(groups_only). Writes exactly EncodedSize bytes.
  void Encode(std::span<uint8_t> out, bool groups_only = false) const;
  std::vector<uint8_t> Encode(bool groups_only = false) const;

  // `anagrpmax` is the controller's Identify ANAGRPMAX. Errors (InvalidArgument), e.g.
  // "ANA log descriptor 2: ANAGRPID 0 is invalid".
  static Result<AnaLog> Decode(std::span<const uint8_t> in, uint32_t anagrpmax);

  friend bool operator==(const AnaLog&, const AnaLog&) = default;
};

}  // namespace nvmpath::nvme
