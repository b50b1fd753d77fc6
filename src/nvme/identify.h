// Identify data structures (4096 bytes each): Identify Controller (CNS 01h), Identify Namespace
// (CNS 00h), the Active Namespace ID list (CNS 02h) and the Namespace Identification Descriptor
// list (CNS 03h). Every field nvmpath uses is a named member; each field's byte offset is a
// named constant, pinned below by static_assert to the value in the NVMe Base specification, and
// the encoder and decoder use only these constants.
//
// Decode() of data from the network returns Result: InvalidArgument naming the field when the
// buffer is short or a field breaks a rule the specification states.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nvmpath/status.h"

namespace nvmpath::nvme {

inline constexpr size_t kIdentifySize = 4096;

// ---- Identify Controller ----
inline constexpr size_t kIdCtrlOffsetVid = 0;
inline constexpr size_t kIdCtrlOffsetSsvid = 2;
inline constexpr size_t kIdCtrlOffsetSn = 4;  // 20 B, space padded
inline constexpr size_t kIdCtrlOffsetMn = 24;  // 40 B
inline constexpr size_t kIdCtrlOffsetFr = 64;  // 8 B
inline constexpr size_t kIdCtrlOffsetRab = 72;
inline constexpr size_t kIdCtrlOffsetIeee = 73;  // 3 B
inline constexpr size_t kIdCtrlOffsetCmic = 76;
inline constexpr size_t kIdCtrlOffsetMdts = 77;
inline constexpr size_t kIdCtrlOffsetCntlid = 78;
inline constexpr size_t kIdCtrlOffsetVer = 80;
inline constexpr size_t kIdCtrlOffsetOaes = 92;
inline constexpr size_t kIdCtrlOffsetCtratt = 96;
inline constexpr size_t kIdCtrlOffsetCntrltype = 111;
inline constexpr size_t kIdCtrlOffsetFguid = 112;  // 16 B
inline constexpr size_t kIdCtrlOffsetCrdt1 = 128;
inline constexpr size_t kIdCtrlOffsetCrdt2 = 130;
inline constexpr size_t kIdCtrlOffsetCrdt3 = 132;
inline constexpr size_t kIdCtrlOffsetOacs = 256;
inline constexpr size_t kIdCtrlOffsetAcl = 258;
inline constexpr size_t kIdCtrlOffsetAerl = 259;
inline constexpr size_t kIdCtrlOffsetLpa = 261;
inline constexpr size_t kIdCtrlOffsetKas = 320;
inline constexpr size_t kIdCtrlOffsetAnatt = 342;
inline constexpr size_t kIdCtrlOffsetAnacap = 343;
inline constexpr size_t kIdCtrlOffsetAnagrpmax = 344;
inline constexpr size_t kIdCtrlOffsetNanagrpid = 348;
inline constexpr size_t kIdCtrlOffsetCqt = 386;  // Command Quiesce Time (TP4129), 2 B
inline constexpr size_t kIdCtrlOffsetSqes = 512;
inline constexpr size_t kIdCtrlOffsetCqes = 513;
inline constexpr size_t kIdCtrlOffsetMaxcmd = 514;
inline constexpr size_t kIdCtrlOffsetNn = 516;
inline constexpr size_t kIdCtrlOffsetOncs = 520;
inline constexpr size_t kIdCtrlOffsetVwc = 525;
inline constexpr size_t kIdCtrlOffsetSgls = 536;
inline constexpr size_t kIdCtrlOffsetMnan = 540;
inline constexpr size_t kIdCtrlOffsetSubnqn = 768;  // 256 B
inline constexpr size_t kIdCtrlOffsetIoccsz = 1792;
inline constexpr size_t kIdCtrlOffsetIorcsz = 1796;
inline constexpr size_t kIdCtrlOffsetIcdoff = 1800;
inline constexpr size_t kIdCtrlOffsetCtrattr = 1802;
inline constexpr size_t kIdCtrlOffsetMsdbd = 1803;
inline constexpr size_t kIdCtrlOffsetOfcs = 1804;

// The specification's table, restated: if a constant above is edited by mistake, this fails.
static_assert(kIdCtrlOffsetVid == 0 && kIdCtrlOffsetSsvid == 2 && kIdCtrlOffsetSn == 4 &&
              kIdCtrlOffsetMn == 24 && kIdCtrlOffsetFr == 64 && kIdCtrlOffsetRab == 72 &&
              kIdCtrlOffsetIeee == 73);
static_assert(kIdCtrlOffsetCmic == 76 && kIdCtrlOffsetMdts == 77 && kIdCtrlOffsetCntlid == 78 &&
              kIdCtrlOffsetVer == 80 && kIdCtrlOffsetOaes == 92 && kIdCtrlOffsetCtratt == 96 &&
              kIdCtrlOffsetCntrltype == 111 && kIdCtrlOffsetFguid == 112);
static_assert(kIdCtrlOffsetCrdt1 == 128 && kIdCtrlOffsetCrdt2 == 130 && kIdCtrlOffsetCrdt3 == 132 &&
              kIdCtrlOffsetOacs == 256 && kIdCtrlOffsetAcl == 258 && kIdCtrlOffsetAerl == 259 &&
              kIdCtrlOffsetLpa == 261 && kIdCtrlOffsetKas == 320);
static_assert(kIdCtrlOffsetAnatt == 342 && kIdCtrlOffsetAnacap == 343 &&
              kIdCtrlOffsetAnagrpmax == 344 && kIdCtrlOffsetNanagrpid == 348 &&
              kIdCtrlOffsetCqt == 386);
static_assert(kIdCtrlOffsetSqes == 512 && kIdCtrlOffsetCqes == 513 && kIdCtrlOffsetMaxcmd == 514 &&
              kIdCtrlOffsetNn == 516 && kIdCtrlOffsetOncs == 520 && kIdCtrlOffsetVwc == 525 &&
              kIdCtrlOffsetSgls == 536 && kIdCtrlOffsetMnan == 540 && kIdCtrlOffsetSubnqn == 768);
static_assert(kIdCtrlOffsetIoccsz == 1792 && kIdCtrlOffsetIorcsz == 1796 &&
              kIdCtrlOffsetIcdoff == 1800 && kIdCtrlOffsetCtrattr == 1802 &&
              kIdCtrlOffsetMsdbd == 1803 && kIdCtrlOffsetOfcs == 1804);
// Fields must not overlap their neighbours.
static_assert(kIdCtrlOffsetSn + 20 == kIdCtrlOffsetMn && kIdCtrlOffsetMn + 40 == kIdCtrlOffsetFr &&
              kIdCtrlOffsetFr + 8 == kIdCtrlOffsetRab && kIdCtrlOffsetIeee + 3 == kIdCtrlOffsetCmic &&
              kIdCtrlOffsetNanagrpid + 4 <= kIdCtrlOffsetCqt &&
              kIdCtrlOffsetCqt + 2 <= kIdCtrlOffsetSqes &&
              kIdCtrlOffsetSubnqn + 256 <= kIdCtrlOffsetIoccsz);

// CMIC bits.
inline constexpr uint8_t kCmicMultiPort = 1u << 0;
inline constexpr uint8_t kCmicMultiController = 1u << 1;
inline constexpr uint8_t kCmicAnaReporting = 1u << 3;
// CTRATT bits.
inline constexpr uint32_t kCtrattHostId128 = 1u << 0;
inline constexpr uint32_t kCtrattTbkas = 1u << 6;
// OAES bits (Asynchronous Event Configuration uses the same positions).
inline constexpr uint32_t kOaesNsAttribute = 1u << 8;
inline constexpr uint32_t kOaesFwActivation = 1u << 9;
inline constexpr uint32_t kOaesAnaChange = 1u << 11;
inline constexpr uint32_t kOaesDiscoveryLogChange = 1u << 31;
// CNTRLTYPE.
inline constexpr uint8_t kCntrltypeIo = 1;
inline constexpr uint8_t kCntrltypeDiscovery = 2;
inline constexpr uint8_t kCntrltypeAdmin = 3;

struct IdentifyController {
  uint16_t vid = 0;
  uint16_t ssvid = 0;
  std::string sn;  // up to 20 ASCII characters
  std::string mn;  // up to 40
  std::string fr;  // up to 8
  uint8_t rab = 0;
  std::array<uint8_t, 3> ieee{};
  uint8_t cmic = 0;
  uint8_t mdts = 0;  // 2^MDTS units of CAP.MPSMIN; 0 = no limit
  uint16_t cntlid = 0;
  uint32_t ver = 0;
  uint32_t oaes = 0;
  uint32_t ctratt = 0;
  uint8_t cntrltype = 0;
  std::array<uint8_t, 16> fguid{};
  std::array<uint16_t, 3> crdt{};  // CRDT1..3, units of 100 ms
  uint16_t oacs = 0;
  uint8_t acl = 0;
  uint8_t aerl = 0;  // 0's based
  uint8_t lpa = 0;
  uint16_t kas = 0;  // units of 100 ms
  uint8_t anatt = 0;  // seconds
  uint8_t anacap = 0;
  uint32_t anagrpmax = 0;
  uint32_t nanagrpid = 0;
  // Command Quiesce Time in ms: how long the controller may take, once it knows an association
  // is gone, to stop every command the host sent on it. 0 = not reported.
  uint16_t cqt = 0;
  uint8_t sqes = 0x66;
  uint8_t cqes = 0x44;
  uint16_t maxcmd = 0;
  uint32_t nn = 0;
  uint16_t oncs = 0;
  uint8_t vwc = 0;
  uint32_t sgls = 0;
  uint32_t mnan = 0;
  std::string subnqn;
  uint32_t ioccsz = 0;  // units of 16 B
  uint32_t iorcsz = 0;
  uint16_t icdoff = 0;
  uint8_t ctrattr = 0;
  uint8_t msdbd = 0;
  uint16_t ofcs = 0;

  // REQUIRES: strings fit their fields (sn 20, mn 40, fr 8, subnqn 223).
  void Encode(std::span<uint8_t, kIdentifySize> out) const;
  // Errors: buffer shorter than 4096 B; SUBNQN without a NUL terminator.
  static Result<IdentifyController> Decode(std::span<const uint8_t> in);

  friend bool operator==(const IdentifyController&, const IdentifyController&) = default;
};

// ---- Identify Namespace ----
inline constexpr size_t kIdNsOffsetNsze = 0;
inline constexpr size_t kIdNsOffsetNcap = 8;
inline constexpr size_t kIdNsOffsetNuse = 16;
inline constexpr size_t kIdNsOffsetNsfeat = 24;
inline constexpr size_t kIdNsOffsetNlbaf = 25;
inline constexpr size_t kIdNsOffsetFlbas = 26;
inline constexpr size_t kIdNsOffsetNmic = 30;
inline constexpr size_t kIdNsOffsetRescap = 31;
inline constexpr size_t kIdNsOffsetAnagrpid = 92;
inline constexpr size_t kIdNsOffsetNsattr = 99;
inline constexpr size_t kIdNsOffsetNvmsetid = 100;
inline constexpr size_t kIdNsOffsetEndgid = 102;
inline constexpr size_t kIdNsOffsetNguid = 104;  // 16 B
inline constexpr size_t kIdNsOffsetEui64 = 120;  // 8 B
inline constexpr size_t kIdNsOffsetLbaf = 128;   // 64 x 4 B
inline constexpr size_t kIdNsLbafCount = 64;
static_assert(kIdNsOffsetNsze == 0 && kIdNsOffsetNcap == 8 && kIdNsOffsetNuse == 16 &&
              kIdNsOffsetNsfeat == 24 && kIdNsOffsetNlbaf == 25 && kIdNsOffsetFlbas == 26 &&
              kIdNsOffsetNmic == 30 && kIdNsOffsetRescap == 31);
static_assert(kIdNsOffsetAnagrpid == 92 && kIdNsOffsetNsattr == 99 && kIdNsOffsetNvmsetid == 100 &&
              kIdNsOffsetEndgid == 102 && kIdNsOffsetNguid == 104 && kIdNsOffsetEui64 == 120 &&
              kIdNsOffsetLbaf == 128);
static_assert(kIdNsOffsetNguid + 16 == kIdNsOffsetEui64 && kIdNsOffsetEui64 + 8 == kIdNsOffsetLbaf &&
              kIdNsOffsetLbaf + 4 * kIdNsLbafCount <= kIdentifySize);

inline constexpr uint8_t kNmicShared = 1u << 0;

// LBA Format: MS 15:0 (metadata bytes), LBADS 23:16 (log2 of block size), RP 25:24.
struct LbaFormat {
  uint16_t ms = 0;
  uint8_t lbads = 0;
  uint8_t rp = 0;
  friend bool operator==(const LbaFormat&, const LbaFormat&) = default;
};

struct IdentifyNamespace {
  uint64_t nsze = 0;
  uint64_t ncap = 0;
  uint64_t nuse = 0;
  uint8_t nsfeat = 0;
  uint8_t nlbaf = 0;  // 0's based count of valid lbaf entries
  uint8_t flbas = 0;  // bits 3:0 format index (low), 6:5 format index (high), 4 extended LBA
  uint8_t nmic = 0;
  uint8_t rescap = 0;
  uint32_t anagrpid = 0;
  uint8_t nsattr = 0;
  uint16_t nvmsetid = 0;
  uint16_t endgid = 0;
  std::array<uint8_t, 16> nguid{};
  std::array<uint8_t, 8> eui64{};
  std::array<LbaFormat, kIdNsLbafCount> lbaf{};

  // The LBA format in use (FLBAS bits 3:0 and 6:5).
  uint8_t format_index() const { return (flbas & 0xF) | ((flbas >> 1) & 0x30); }
  // Block size in bytes of the format in use. Errors: the format index is beyond NLBAF, or
  // LBADS is outside 9..16 (512 B .. 64 KiB), naming the field.
  Result<uint32_t> BlockSize() const;

  void Encode(std::span<uint8_t, kIdentifySize> out) const;
  // Errors: buffer shorter than 4096 B. A zero-filled buffer (an inactive NSID) decodes fine.
  static Result<IdentifyNamespace> Decode(std::span<const uint8_t> in);

  friend bool operator==(const IdentifyNamespace&, const IdentifyNamespace&) = default;
};

// ---- Active Namespace ID list (CNS 02h): up to 1024 u32 NSIDs, increasing, 0-terminated ----
inline constexpr size_t kActiveNsListMax = kIdentifySize / 4;
// REQUIRES: nsids.size() <= 1024, increasing, no 0.
void EncodeActiveNsList(std::span<const uint32_t> nsids, std::span<uint8_t, kIdentifySize> out);
// Errors: buffer short; an NSID not greater than the one before it; NSID FFFFFFFFh.
Result<std::vector<uint32_t>> DecodeActiveNsList(std::span<const uint8_t> in);

// ---- Namespace Identification Descriptor list (CNS 03h) ----
// Records: NIDT u8 @0, NIDL u8 @1, reserved @2..3, NID @4 (NIDL bytes). A record with NIDT 0
// ends the list.
inline constexpr size_t kNsDescHeaderSize = 4;
enum class NidType : uint8_t { kEui64 = 1, kNguid = 2, kUuid = 3, kCsi = 4 };
inline constexpr uint8_t kNidlEui64 = 8;
inline constexpr uint8_t kNidlNguid = 16;
inline constexpr uint8_t kNidlUuid = 16;
inline constexpr uint8_t kNidlCsi = 1;

struct NsIdentifiers {
  std::optional<std::array<uint8_t, 8>> eui64;
  std::optional<std::array<uint8_t, 16>> nguid;
  std::optional<std::array<uint8_t, 16>> uuid;
  std::optional<uint8_t> csi;

  void Encode(std::span<uint8_t, kIdentifySize> out) const;
  // Errors, naming the descriptor index: NIDL wrong for its NIDT (EUI64 8, NGUID 16, UUID 16,
  // CSI 1); a descriptor overrunning the buffer; the same NIDT twice. Unknown NIDTs are skipped,
  // as Linux does.
  static Result<NsIdentifiers> Decode(std::span<const uint8_t> in);

  friend bool operator==(const NsIdentifiers&, const NsIdentifiers&) = default;
};

}  // namespace nvmpath::nvme
