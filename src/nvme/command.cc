#include "nvme/command.h"

#include <cstring>

#include "base/assert.h"
#include "nvme/byte_order.h"

namespace nvmpath::nvme {

void Command::set_sgl1(const SglDescriptor& sgl) {
  sgl.Encode(std::span<uint8_t, kSglDescriptorSize>(dptr));
  flags = static_cast<uint8_t>((flags & 0x3F) | (kPsdtSgl << 6));
}

void Command::Encode(std::span<uint8_t, kSqeSize> out) const {
  Put8(out, kSqeOffsetOpcode, opcode);
  Put8(out, kSqeOffsetFlags, flags);
  PutLe16(out, kSqeOffsetCid, cid);
  PutLe32(out, kSqeOffsetNsid, nsid);
  PutLe32(out, kSqeOffsetCdw2, cdw2);
  PutLe32(out, kSqeOffsetCdw3, cdw3);
  PutLe64(out, kSqeOffsetMptr, mptr);
  PutBytes(out, kSqeOffsetDptr, dptr);
  const uint32_t cdws[6] = {cdw10, cdw11, cdw12, cdw13, cdw14, cdw15};
  for (size_t i = 0; i < 6; ++i) PutLe32(out, kSqeOffsetCdw10 + 4 * i, cdws[i]);
}

std::array<uint8_t, kSqeSize> Command::Encode() const {
  std::array<uint8_t, kSqeSize> out{};
  Encode(std::span<uint8_t, kSqeSize>(out));
  return out;
}

Command Command::Decode(std::span<const uint8_t, kSqeSize> in) {
  Command c;
  c.opcode = Get8(in, kSqeOffsetOpcode);
  c.flags = Get8(in, kSqeOffsetFlags);
  c.cid = GetLe16(in, kSqeOffsetCid);
  c.nsid = GetLe32(in, kSqeOffsetNsid);
  c.cdw2 = GetLe32(in, kSqeOffsetCdw2);
  c.cdw3 = GetLe32(in, kSqeOffsetCdw3);
  c.mptr = GetLe64(in, kSqeOffsetMptr);
  GetBytes(in, kSqeOffsetDptr, c.dptr);
  uint32_t* cdws[6] = {&c.cdw10, &c.cdw11, &c.cdw12, &c.cdw13, &c.cdw14, &c.cdw15};
  for (size_t i = 0; i < 6; ++i) *cdws[i] = GetLe32(in, kSqeOffsetCdw10 + 4 * i);
  return c;
}

namespace {

Command Base(uint8_t opcode, uint16_t cid, uint32_t nsid) {
  Command c;
  c.opcode = opcode;
  c.cid = cid;
  c.nsid = nsid;
  // A command without data still carries a zero-length Transport Data Block descriptor, as the
  // Linux host sends it; strict targets check the descriptor type on every command.
  c.set_sgl1(SglDescriptor::Transport(0));
  return c;
}

Command ReadWrite(uint8_t opcode, uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb,
                  const SglDescriptor& sgl) {
  NVMP_ASSERT(nlb >= 1 && nlb <= 65536, "NLB is a 16-bit 0's based field");
  Command c = Base(opcode, cid, nsid);
  c.set_sgl1(sgl);
  c.cdw10 = static_cast<uint32_t>(slba);
  c.cdw11 = static_cast<uint32_t>(slba >> 32);
  c.cdw12 = nlb - 1;
  return c;
}

// Fabrics commands have no NSID: byte 4 carries FCTYPE, bytes 5..23 are reserved.
Command Fabrics(FabricsType type, uint16_t cid) {
  Command c = Base(kFabricsOpcode, cid, static_cast<uint8_t>(type));
  return c;
}

}  // namespace

Command MakeRead(uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb, const SglDescriptor& sgl) {
  return ReadWrite(static_cast<uint8_t>(IoOpcode::kRead), cid, nsid, slba, nlb, sgl);
}

Command MakeWrite(uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb,
                  const SglDescriptor& sgl, bool fua) {
  Command c = ReadWrite(static_cast<uint8_t>(IoOpcode::kWrite), cid, nsid, slba, nlb, sgl);
  if (fua) c.cdw12 |= 1u << 30;
  return c;
}

Command MakeFlush(uint16_t cid, uint32_t nsid) {
  return Base(static_cast<uint8_t>(IoOpcode::kFlush), cid, nsid);
}

Command MakeWriteZeroes(uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb, bool deallocate) {
  Command c = ReadWrite(static_cast<uint8_t>(IoOpcode::kWriteZeroes), cid, nsid, slba, nlb,
                        SglDescriptor::Transport(0));
  if (deallocate) c.cdw12 |= 1u << 25;
  return c;
}

Command MakeDsmDeallocate(uint16_t cid, uint32_t nsid, uint32_t nr_ranges,
                          const SglDescriptor& sgl) {
  NVMP_ASSERT(nr_ranges >= 1 && nr_ranges <= 256);
  Command c = Base(static_cast<uint8_t>(IoOpcode::kDatasetManagement), cid, nsid);
  c.set_sgl1(sgl);
  c.cdw10 = nr_ranges - 1;
  c.cdw11 = 1u << 2;  // AD: deallocate
  return c;
}

RwFields RwFields::From(const Command& cmd) {
  RwFields f;
  f.slba = (uint64_t{cmd.cdw11} << 32) | cmd.cdw10;
  f.nlb = (cmd.cdw12 & 0xFFFF) + 1;
  f.fua = cmd.cdw12 & (1u << 30);
  f.deallocate = cmd.cdw12 & (1u << 25);
  return f;
}

void DsmRange::Encode(std::span<uint8_t, kDsmRangeSize> out) const {
  PutLe32(out, 0, attributes);
  PutLe32(out, 4, nlb);
  PutLe64(out, 8, slba);
}

DsmRange DsmRange::Decode(std::span<const uint8_t, kDsmRangeSize> in) {
  return {GetLe32(in, 0), GetLe32(in, 4), GetLe64(in, 8)};
}

DsmFields DsmFields::From(const Command& cmd) {
  return {(cmd.cdw10 & 0xFF) + 1, (cmd.cdw11 & (1u << 2)) != 0};
}

Command MakeIdentify(uint16_t cid, Cns cns, uint32_t nsid, const SglDescriptor& sgl,
                     uint16_t cntid, uint8_t csi) {
  Command c = Base(static_cast<uint8_t>(AdminOpcode::kIdentify), cid, nsid);
  c.set_sgl1(sgl);
  c.cdw10 = static_cast<uint8_t>(cns) | (uint32_t{cntid} << 16);
  c.cdw11 = uint32_t{csi} << 24;
  return c;
}

IdentifyFields IdentifyFields::From(const Command& cmd) {
  return {static_cast<uint8_t>(cmd.cdw10 & 0xFF), static_cast<uint16_t>(cmd.cdw10 >> 16),
          static_cast<uint8_t>(cmd.cdw11 >> 24)};
}

Command MakeGetLogPage(uint16_t cid, const GetLogPageArgs& a, const SglDescriptor& sgl) {
  NVMP_ASSERT(a.length_bytes >= 4 && a.length_bytes % 4 == 0 &&
              a.length_bytes / 4 <= (uint64_t{1} << 32));
  Command c = Base(static_cast<uint8_t>(AdminOpcode::kGetLogPage), cid, a.nsid);
  c.set_sgl1(sgl);
  const uint32_t numd = static_cast<uint32_t>(a.length_bytes / 4 - 1);
  c.cdw10 = static_cast<uint8_t>(a.lid) | (uint32_t{a.lsp & 0x7Fu} << 8) | (a.rae ? 1u << 15 : 0) |
            ((numd & 0xFFFF) << 16);
  c.cdw11 = (numd >> 16) | (uint32_t{a.lsi} << 16);
  c.cdw12 = static_cast<uint32_t>(a.offset);
  c.cdw13 = static_cast<uint32_t>(a.offset >> 32);
  c.cdw14 = uint32_t{a.csi} << 24;
  return c;
}

GetLogPageFields GetLogPageFields::From(const Command& cmd) {
  GetLogPageFields f;
  f.lid = cmd.cdw10 & 0xFF;
  f.lsp = (cmd.cdw10 >> 8) & 0x7F;
  f.rae = cmd.cdw10 & (1u << 15);
  f.numd = (cmd.cdw10 >> 16) | ((cmd.cdw11 & 0xFFFF) << 16);
  f.lsi = static_cast<uint16_t>(cmd.cdw11 >> 16);
  f.offset = (uint64_t{cmd.cdw13} << 32) | cmd.cdw12;
  f.csi = static_cast<uint8_t>(cmd.cdw14 >> 24);
  return f;
}

Command MakeSetFeatures(uint16_t cid, FeatureId fid, uint32_t cdw11, bool save) {
  Command c = Base(static_cast<uint8_t>(AdminOpcode::kSetFeatures), cid, 0);
  c.cdw10 = static_cast<uint8_t>(fid) | (save ? 1u << 31 : 0);
  c.cdw11 = cdw11;
  return c;
}

Command MakeGetFeatures(uint16_t cid, FeatureId fid, uint8_t select) {
  Command c = Base(static_cast<uint8_t>(AdminOpcode::kGetFeatures), cid, 0);
  c.cdw10 = static_cast<uint8_t>(fid) | (uint32_t{select & 0x7u} << 8);
  return c;
}

Command MakeSetNumberOfQueues(uint16_t cid, uint16_t nsq, uint16_t ncq) {
  NVMP_ASSERT(nsq >= 1 && ncq >= 1);
  return MakeSetFeatures(cid, FeatureId::kNumberOfQueues,
                         uint32_t(nsq - 1) | (uint32_t(ncq - 1) << 16));
}

FeatureFields FeatureFields::From(const Command& cmd) {
  return {static_cast<uint8_t>(cmd.cdw10 & 0xFF), (cmd.cdw10 & (1u << 31)) != 0,
          static_cast<uint8_t>((cmd.cdw10 >> 8) & 0x7)};
}

Command MakeAsyncEventRequest(uint16_t cid) {
  return Base(static_cast<uint8_t>(AdminOpcode::kAsyncEventRequest), cid, 0);
}

Command MakeKeepAlive(uint16_t cid) {
  return Base(static_cast<uint8_t>(AdminOpcode::kKeepAlive), cid, 0);
}

// The Fabrics fields are written through the SQE byte image so that the field offset constants
// (kConnectOffset*, kPropertyOffset*) are what places them, then the image is decoded back.
namespace {
template <typename F>
Command PatchFabrics(Command c, F&& patch) {
  auto img = c.Encode();
  patch(std::span<uint8_t, kSqeSize>(img));
  return Command::Decode(img);
}
}  // namespace

Command MakeConnect(uint16_t cid, const ConnectArgs& a) {
  Command c = Fabrics(FabricsType::kConnect, cid);
  c.set_sgl1(SglDescriptor::InCapsule(kConnectDataSize));
  return PatchFabrics(c, [&](std::span<uint8_t, kSqeSize> b) {
    PutLe16(b, kConnectOffsetRecfmt, a.recfmt);
    PutLe16(b, kConnectOffsetQid, a.qid);
    PutLe16(b, kConnectOffsetSqsize, a.sqsize);
    Put8(b, kConnectOffsetCattr, a.cattr);
    PutLe32(b, kConnectOffsetKato, a.kato_ms);
  });
}

ConnectArgs ConnectFieldsFrom(const Command& cmd) {
  auto b = cmd.Encode();
  ConnectArgs a;
  a.recfmt = GetLe16(b, kConnectOffsetRecfmt);
  a.qid = GetLe16(b, kConnectOffsetQid);
  a.sqsize = GetLe16(b, kConnectOffsetSqsize);
  a.cattr = Get8(b, kConnectOffsetCattr);
  a.kato_ms = GetLe32(b, kConnectOffsetKato);
  return a;
}

Command MakePropertyGet(uint16_t cid, uint32_t offset, bool eight_bytes) {
  return PatchFabrics(Fabrics(FabricsType::kPropertyGet, cid), [&](std::span<uint8_t, kSqeSize> b) {
    Put8(b, kPropertyOffsetAttrib, eight_bytes ? 1 : 0);
    PutLe32(b, kPropertyOffsetOfst, offset);
  });
}

Command MakePropertySet(uint16_t cid, uint32_t offset, bool eight_bytes, uint64_t value) {
  return PatchFabrics(Fabrics(FabricsType::kPropertySet, cid), [&](std::span<uint8_t, kSqeSize> b) {
    Put8(b, kPropertyOffsetAttrib, eight_bytes ? 1 : 0);
    PutLe32(b, kPropertyOffsetOfst, offset);
    PutLe64(b, kPropertyOffsetValue, eight_bytes ? value : (value & 0xFFFFFFFFu));
  });
}

PropertyFields PropertyFields::From(const Command& cmd) {
  auto b = cmd.Encode();
  PropertyFields f;
  f.attrib = Get8(b, kPropertyOffsetAttrib) & 0x7;
  f.eight_bytes = f.attrib == 1;
  f.offset = GetLe32(b, kPropertyOffsetOfst);
  f.value = GetLe64(b, kPropertyOffsetValue);
  if (!f.eight_bytes) f.value &= 0xFFFFFFFFu;
  return f;
}

Command MakeDisconnect(uint16_t cid, uint16_t recfmt) {
  return PatchFabrics(Fabrics(FabricsType::kDisconnect, cid),
                      [&](std::span<uint8_t, kSqeSize> b) { PutLe16(b, kDisconnectOffsetRecfmt, recfmt); });
}

void ConnectData::Encode(std::span<uint8_t, kConnectDataSize> out) const {
  NVMP_ASSERT(subnqn.size() <= kNqnMaxLength && hostnqn.size() <= kNqnMaxLength);
  std::memset(out.data(), 0, out.size());
  PutBytes(out, kConnectDataOffsetHostId, hostid);
  PutLe16(out, kConnectDataOffsetCntlid, cntlid);
  PutNulString(out, kConnectDataOffsetSubnqn, kNqnFieldSize, subnqn);
  PutNulString(out, kConnectDataOffsetHostnqn, kNqnFieldSize, hostnqn);
}

namespace {
enum class EmptyNqn { kRefused, kAllowed };

Result<std::string> DecodeNqn(std::span<const uint8_t> in, size_t offset, const char* name,
                              EmptyNqn empty) {
  std::string s = GetNulString(in, offset, kNqnFieldSize);
  if (s.size() == kNqnFieldSize) {
    return InvalidArgument(std::string("Connect data: ") + name + " is not NUL-terminated");
  }
  if (s.empty() && empty == EmptyNqn::kRefused) {
    return InvalidArgument(std::string("Connect data: ") + name + " is empty");
  }
  if (s.size() > kNqnMaxLength) {
    return InvalidArgument(std::string("Connect data: ") + name + " is longer than 223 bytes");
  }
  return s;
}
}  // namespace

Result<ConnectData> ConnectData::Decode(std::span<const uint8_t> in) {
  if (in.size() < kConnectDataSize) {
    return InvalidArgument("Connect data: " + std::to_string(in.size()) +
                           " bytes, expected 1024");
  }
  ConnectData d;
  GetBytes(in, kConnectDataOffsetHostId, d.hostid);
  d.cntlid = GetLe16(in, kConnectDataOffsetCntlid);
  auto sub = DecodeNqn(in, kConnectDataOffsetSubnqn, "SUBNQN", EmptyNqn::kRefused);
  if (!sub.ok()) return sub.status();
  // SPDK's initiator sends an empty HOSTNQN unless told one; whether that host may connect is
  // the subsystem's allow-list's call, not the decoder's.
  auto host = DecodeNqn(in, kConnectDataOffsetHostnqn, "HOSTNQN", EmptyNqn::kAllowed);
  if (!host.ok()) return host.status();
  d.subnqn = std::move(*sub);
  d.hostnqn = std::move(*host);
  return d;
}

}  // namespace nvmpath::nvme
