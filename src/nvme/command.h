// The 64-byte submission queue entry (SQE) and builders for the commands nvmpath sends and
// serves. One `Command` type covers admin, I/O and Fabrics commands: a Fabrics command's FCTYPE
// is SQE byte 4 (the low byte of NSID) and its fields live in the CDW10.. area, so the builders
// below place them there and the `*Fields` views read them back. Both the host (building) and
// the target (parsing) use this file.
//
// Layout (NVMe Base "Common Command Format"; offsets in bytes):
//   0 OPC | 1 FUSE (1:0), PSDT (7:6) | 2 CID u16 | 4 NSID u32 (Fabrics: 4 FCTYPE u8)
//   8 CDW2 | 12 CDW3 | 16 MPTR u64 | 24 DPTR (16 B, SGL1) | 40 CDW10 ... 60 CDW15
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "nvme/opcodes.h"
#include "nvme/sgl.h"
#include "nvmpath/status.h"

namespace nvmpath::nvme {

inline constexpr size_t kSqeSize = 64;
inline constexpr size_t kSqeOffsetOpcode = 0;
inline constexpr size_t kSqeOffsetFlags = 1;
inline constexpr size_t kSqeOffsetCid = 2;
inline constexpr size_t kSqeOffsetNsid = 4;
inline constexpr size_t kSqeOffsetFctype = 4;
inline constexpr size_t kSqeOffsetCdw2 = 8;
inline constexpr size_t kSqeOffsetCdw3 = 12;
inline constexpr size_t kSqeOffsetMptr = 16;
inline constexpr size_t kSqeOffsetDptr = 24;
inline constexpr size_t kSqeOffsetCdw10 = 40;
inline constexpr size_t kSqeOffsetCdw15 = 60;
static_assert(kSqeOffsetDptr + kSglDescriptorSize == kSqeOffsetCdw10);
static_assert(kSqeOffsetCdw10 + 5 * 4 == kSqeOffsetCdw15);
static_assert(kSqeOffsetCdw15 + 4 == kSqeSize);

// Fabrics command fields (NVMe over Fabrics; byte offsets in the SQE).
inline constexpr size_t kConnectOffsetRecfmt = 40;
inline constexpr size_t kConnectOffsetQid = 42;
inline constexpr size_t kConnectOffsetSqsize = 44;
inline constexpr size_t kConnectOffsetCattr = 46;
inline constexpr size_t kConnectOffsetKato = 48;
inline constexpr size_t kPropertyOffsetAttrib = 40;
inline constexpr size_t kPropertyOffsetOfst = 44;
inline constexpr size_t kPropertyOffsetValue = 48;
inline constexpr size_t kDisconnectOffsetRecfmt = 40;
static_assert(kConnectOffsetRecfmt == kSqeOffsetCdw10 && kConnectOffsetKato == kSqeOffsetCdw10 + 8);
static_assert(kPropertyOffsetOfst == kSqeOffsetCdw10 + 4 && kPropertyOffsetValue + 8 <= kSqeOffsetCdw15);

// PSDT values (SQE byte 1 bits 7:6). NVMe/TCP always uses SGLs.
inline constexpr uint8_t kPsdtPrp = 0;
inline constexpr uint8_t kPsdtSgl = 1;

struct Command {
  uint8_t opcode = 0;
  uint8_t flags = 0;  // FUSE in bits 1:0, PSDT in bits 7:6
  uint16_t cid = 0;
  uint32_t nsid = 0;
  uint32_t cdw2 = 0;
  uint32_t cdw3 = 0;
  uint64_t mptr = 0;
  std::array<uint8_t, kSglDescriptorSize> dptr{};
  uint32_t cdw10 = 0;
  uint32_t cdw11 = 0;
  uint32_t cdw12 = 0;
  uint32_t cdw13 = 0;
  uint32_t cdw14 = 0;
  uint32_t cdw15 = 0;

  uint8_t fuse() const { return flags & 0x3; }
  uint8_t psdt() const { return flags >> 6; }
  // Fabrics commands only (opcode 0x7F): FCTYPE shares byte 4 with the low byte of NSID.
  bool is_fabrics() const { return opcode == kFabricsOpcode; }
  uint8_t fctype() const { return static_cast<uint8_t>(nsid & 0xFF); }

  SglDescriptor sgl1() const { return SglDescriptor::Decode(std::span<const uint8_t, 16>(dptr)); }
  // Stores `sgl` in DPTR and sets PSDT to SGL.
  void set_sgl1(const SglDescriptor& sgl);

  void Encode(std::span<uint8_t, kSqeSize> out) const;
  std::array<uint8_t, kSqeSize> Encode() const;
  // Every bit pattern is a syntactically valid SQE; semantic checks are the receiver's job.
  static Command Decode(std::span<const uint8_t, kSqeSize> in);

  friend bool operator==(const Command&, const Command&) = default;
};

// ---- NVM I/O commands ----
// `nlb` is the number of logical blocks (1..65536), not the 0's based field.

Command MakeRead(uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb, const SglDescriptor& sgl);
Command MakeWrite(uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb,
                  const SglDescriptor& sgl, bool fua = false);
Command MakeFlush(uint16_t cid, uint32_t nsid);
Command MakeWriteZeroes(uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb, bool deallocate);
// Dataset Management with the Deallocate attribute over `nr_ranges` (1..256) ranges carried by
// `sgl` (16 B each, see DsmRange).
Command MakeDsmDeallocate(uint16_t cid, uint32_t nsid, uint32_t nr_ranges, const SglDescriptor& sgl);

// Read / Write / Write Zeroes fields.
struct RwFields {
  uint64_t slba = 0;
  uint32_t nlb = 0;  // blocks, 1..65536
  bool fua = false;
  bool deallocate = false;  // Write Zeroes DEAC
  static RwFields From(const Command& cmd);
};

// One Dataset Management range (16 B): context attributes @0, length in blocks @4, SLBA @8.
inline constexpr size_t kDsmRangeSize = 16;
struct DsmRange {
  uint32_t attributes = 0;
  uint32_t nlb = 0;
  uint64_t slba = 0;
  void Encode(std::span<uint8_t, kDsmRangeSize> out) const;
  static DsmRange Decode(std::span<const uint8_t, kDsmRangeSize> in);
  friend bool operator==(const DsmRange&, const DsmRange&) = default;
};
struct DsmFields {
  uint32_t nr_ranges = 0;  // 1..256
  bool deallocate = false;
  static DsmFields From(const Command& cmd);
};

// ---- Admin commands ----

Command MakeIdentify(uint16_t cid, Cns cns, uint32_t nsid, const SglDescriptor& sgl,
                     uint16_t cntid = 0, uint8_t csi = 0);
struct IdentifyFields {
  uint8_t cns = 0;
  uint16_t cntid = 0;
  uint8_t csi = 0;
  static IdentifyFields From(const Command& cmd);
};

// Get Log Page for `length_bytes` (a multiple of 4, >= 4) starting at byte `offset`.
// NUMD (0's based dword count) is split into NUMDL (CDW10 31:16) and NUMDU (CDW11 15:0).
struct GetLogPageArgs {
  LogId lid = LogId::kErrorInfo;
  uint32_t nsid = 0;
  uint64_t length_bytes = 4;
  uint64_t offset = 0;
  uint8_t lsp = 0;
  bool rae = false;
  uint16_t lsi = 0;
  uint8_t csi = 0;
};
Command MakeGetLogPage(uint16_t cid, const GetLogPageArgs& args, const SglDescriptor& sgl);
struct GetLogPageFields {
  uint8_t lid = 0;
  uint8_t lsp = 0;
  bool rae = false;
  uint32_t numd = 0;  // the 0's based dword count as sent
  uint16_t lsi = 0;
  uint64_t offset = 0;
  uint8_t csi = 0;
  uint64_t length_bytes() const { return (uint64_t{numd} + 1) * 4; }
  static GetLogPageFields From(const Command& cmd);
};

Command MakeSetFeatures(uint16_t cid, FeatureId fid, uint32_t cdw11, bool save = false);
Command MakeGetFeatures(uint16_t cid, FeatureId fid, uint8_t select = 0);
// Number of Queues: counts of I/O SQs/CQs wanted (1-based here; 0's based on the wire).
Command MakeSetNumberOfQueues(uint16_t cid, uint16_t nsq, uint16_t ncq);
struct FeatureFields {
  uint8_t fid = 0;
  bool save = false;   // Set Features SV
  uint8_t select = 0;  // Get Features SEL
  static FeatureFields From(const Command& cmd);
};
Command MakeAsyncEventRequest(uint16_t cid);
Command MakeKeepAlive(uint16_t cid);

// ---- Fabrics commands ----

// Connect. `sqsize` is 0's based (queue entries - 1); `kato_ms` matters on the admin queue only.
// CATTR bit 2 disables SQ flow control. The 1024-byte ConnectData goes in the capsule.
struct ConnectArgs {
  uint16_t qid = 0;
  uint16_t sqsize = 31;
  uint8_t cattr = 0;
  uint32_t kato_ms = 0;
  uint16_t recfmt = 0;
};
inline constexpr uint8_t kCattrDisableSqFlowControl = 1u << 2;
Command MakeConnect(uint16_t cid, const ConnectArgs& args);  // SGL: in-capsule, 1024 B
ConnectArgs ConnectFieldsFrom(const Command& cmd);

// Property Get/Set of a controller register at `offset`; `eight_bytes` selects an 8-byte access.
Command MakePropertyGet(uint16_t cid, uint32_t offset, bool eight_bytes);
Command MakePropertySet(uint16_t cid, uint32_t offset, bool eight_bytes, uint64_t value);
struct PropertyFields {
  bool eight_bytes = false;  // ATTRIB bits 2:0 == 1
  uint8_t attrib = 0;        // raw, so a target can reject reserved sizes
  uint32_t offset = 0;
  uint64_t value = 0;  // Property Set only
  static PropertyFields From(const Command& cmd);
};
Command MakeDisconnect(uint16_t cid, uint16_t recfmt = 0);

// The 1024-byte Connect command data: HOSTID @0 (16 B), CNTLID u16 @16, SUBNQN @256 (256 B),
// HOSTNQN @512 (256 B). NQNs are NUL-terminated UTF-8 of at most 223 bytes; HOSTNQN may be
// empty (SPDK's initiator sends it so by default).
inline constexpr size_t kConnectDataSize = 1024;
inline constexpr size_t kConnectDataOffsetHostId = 0;
inline constexpr size_t kConnectDataOffsetCntlid = 16;
inline constexpr size_t kConnectDataOffsetSubnqn = 256;
inline constexpr size_t kConnectDataOffsetHostnqn = 512;
inline constexpr size_t kNqnFieldSize = 256;
inline constexpr size_t kNqnMaxLength = 223;
inline constexpr uint16_t kCntlidDynamic = 0xFFFF;
static_assert(kConnectDataOffsetHostnqn + kNqnFieldSize <= kConnectDataSize);

struct ConnectData {
  std::array<uint8_t, 16> hostid{};
  uint16_t cntlid = kCntlidDynamic;
  std::string subnqn;
  std::string hostnqn;

  // REQUIRES: subnqn and hostnqn at most kNqnMaxLength bytes.
  void Encode(std::span<uint8_t, kConnectDataSize> out) const;
  // Errors: kInvalidArgument naming SUBNQN / HOSTNQN when the field has no NUL terminator
  // within its 256 bytes or is longer than 223 bytes, or SUBNQN is empty. An empty HOSTNQN
  // decodes as "".
  static Result<ConnectData> Decode(std::span<const uint8_t> in);

  friend bool operator==(const ConnectData&, const ConnectData&) = default;
};

}  // namespace nvmpath::nvme
