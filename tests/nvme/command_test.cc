// Goal: the SQE codec and the command builders put every field at the byte the specification
// names. Method: round-trip Command through Encode/Decode, and check builders' output against
// byte offsets written out by hand here (not through the library's constants), so a wrong
// constant cannot make encoder and decoder agree on a wrong layout.
#include "nvme/command.h"

#include <gtest/gtest.h>

#include <random>

namespace nvmpath::nvme {
namespace {

uint32_t Le32(const std::array<uint8_t, 64>& b, size_t off) {
  return b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (uint32_t(b[off + 3]) << 24);
}
uint16_t Le16(const std::array<uint8_t, 64>& b, size_t off) { return b[off] | (b[off + 1] << 8); }

TEST(Command, RoundTripRandom) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200; ++i) {
    std::array<uint8_t, 64> raw;
    for (auto& b : raw) b = static_cast<uint8_t>(rng());
    Command c = Command::Decode(raw);
    EXPECT_EQ(c.Encode(), raw);
    EXPECT_EQ(Command::Decode(c.Encode()), c);
  }
}

TEST(Command, ReadFieldsAtSpecOffsets) {
  Command c = MakeRead(0x1234, 7, 0x1122334455667788ull, 8, SglDescriptor::Transport(4096));
  auto b = c.Encode();
  EXPECT_EQ(b[0], 0x02);
  EXPECT_EQ(b[1] >> 6, 1);  // PSDT = SGL
  EXPECT_EQ(Le16(b, 2), 0x1234);
  EXPECT_EQ(Le32(b, 4), 7u);
  EXPECT_EQ(Le32(b, 40), 0x55667788u);
  EXPECT_EQ(Le32(b, 44), 0x11223344u);
  EXPECT_EQ(Le32(b, 48) & 0xFFFF, 7u);  // NLB 0's based
  // SGL at 24: address 0, length @32, type/subtype byte @39 = 0x5A.
  EXPECT_EQ(Le32(b, 32), 4096u);
  EXPECT_EQ(b[39], 0x5A);
  RwFields f = RwFields::From(c);
  EXPECT_EQ(f.slba, 0x1122334455667788ull);
  EXPECT_EQ(f.nlb, 8u);
}

TEST(Command, WriteInCapsuleSglAndFua) {
  Command c = MakeWrite(1, 1, 0, 65536, SglDescriptor::InCapsule(512), /*fua=*/true);
  auto b = c.Encode();
  EXPECT_EQ(b[0], 0x01);
  EXPECT_EQ(b[39], 0x01);  // Data Block, subtype Offset
  EXPECT_EQ(Le32(b, 48), 0xFFFFu | (1u << 30));
  EXPECT_TRUE(c.sgl1().IsInCapsule());
  EXPECT_EQ(RwFields::From(c).nlb, 65536u);
  EXPECT_TRUE(RwFields::From(c).fua);
}

TEST(Command, NoDataCommandsCarryZeroLengthTransportSgl) {
  for (Command c : {MakeFlush(1, 1), MakeKeepAlive(2), MakeAsyncEventRequest(3)}) {
    EXPECT_TRUE(c.sgl1().IsTransport());
    EXPECT_EQ(c.sgl1().length, 0u);
  }
  Command wz = MakeWriteZeroes(4, 1, 10, 16, /*deallocate=*/true);
  EXPECT_EQ(wz.opcode, 0x08);
  EXPECT_TRUE(RwFields::From(wz).deallocate);
}

TEST(Command, DsmDeallocate) {
  Command c = MakeDsmDeallocate(9, 1, 3, SglDescriptor::InCapsule(48));
  EXPECT_EQ(c.opcode, 0x09);
  EXPECT_EQ(c.cdw10, 2u);
  EXPECT_EQ(c.cdw11, 4u);
  EXPECT_EQ(DsmFields::From(c).nr_ranges, 3u);
  EXPECT_TRUE(DsmFields::From(c).deallocate);
  std::array<uint8_t, 16> raw{};
  DsmRange r{1, 8, 0x123456789ull};
  r.Encode(raw);
  EXPECT_EQ(raw[4], 8);
  EXPECT_EQ(raw[8], 0x89);
  EXPECT_EQ(DsmRange::Decode(raw), r);
}

TEST(Command, IdentifyFields) {
  Command c = MakeIdentify(5, Cns::kNsDescriptors, 3, SglDescriptor::Transport(4096), 0x77, 2);
  auto b = c.Encode();
  EXPECT_EQ(b[0], 0x06);
  EXPECT_EQ(b[40], 0x03);
  EXPECT_EQ(Le16(b, 42), 0x77);
  EXPECT_EQ(b[47], 2);  // CSI CDW11 31:24
  auto f = IdentifyFields::From(c);
  EXPECT_EQ(f.cns, 3);
  EXPECT_EQ(f.cntid, 0x77);
  EXPECT_EQ(f.csi, 2);
}

TEST(Command, GetLogPageSplitsNumd) {
  // 1 MiB + 4 bytes: NUMD = 0x40000 (0's based) -> NUMDL 0, NUMDU 4.
  GetLogPageArgs a{LogId::kAna, 0xFFFFFFFF, (1u << 20) + 4, 0x100000002ull, 1, true, 0, 0};
  Command c = MakeGetLogPage(1, a, SglDescriptor::Transport(4096));
  auto b = c.Encode();
  EXPECT_EQ(b[40], 0x0C);
  EXPECT_EQ(b[41], 0x01 | 0x80);  // LSP 1, RAE
  EXPECT_EQ(Le16(b, 42), 0x0000);
  EXPECT_EQ(Le16(b, 44), 0x0004);
  EXPECT_EQ(Le32(b, 48), 2u);
  EXPECT_EQ(Le32(b, 52), 1u);
  auto f = GetLogPageFields::From(c);
  EXPECT_EQ(f.lid, 0x0C);
  EXPECT_EQ(f.lsp, 1);
  EXPECT_TRUE(f.rae);
  EXPECT_EQ(f.length_bytes(), (1u << 20) + 4);
  EXPECT_EQ(f.offset, 0x100000002ull);
}

TEST(Command, Features) {
  Command s = MakeSetNumberOfQueues(1, 4, 8);
  EXPECT_EQ(s.opcode, 0x09);
  EXPECT_EQ(s.cdw10, 0x07u);
  EXPECT_EQ(s.cdw11, 3u | (7u << 16));
  Command sv = MakeSetFeatures(2, FeatureId::kKeepAliveTimer, 5000, /*save=*/true);
  EXPECT_TRUE(FeatureFields::From(sv).save);
  Command g = MakeGetFeatures(3, FeatureId::kAsyncEventConfig, 1);
  EXPECT_EQ(g.opcode, 0x0A);
  EXPECT_EQ(FeatureFields::From(g).fid, 0x0B);
  EXPECT_EQ(FeatureFields::From(g).select, 1);
}

TEST(Command, ConnectAtFabricsOffsets) {
  Command c = MakeConnect(0, {.qid = 3, .sqsize = 127, .cattr = kCattrDisableSqFlowControl,
                              .kato_ms = 5000, .recfmt = 0});
  auto b = c.Encode();
  EXPECT_EQ(b[0], 0x7F);
  EXPECT_EQ(b[4], 0x01);  // FCTYPE
  EXPECT_EQ(c.fctype(), 0x01);
  EXPECT_EQ(Le16(b, 40), 0);
  EXPECT_EQ(Le16(b, 42), 3);
  EXPECT_EQ(Le16(b, 44), 127);
  EXPECT_EQ(b[46], 4);
  EXPECT_EQ(Le32(b, 48), 5000u);
  EXPECT_EQ(Le32(b, 32), 1024u);  // SGL length
  EXPECT_EQ(b[39], 0x01);
  auto a = ConnectFieldsFrom(c);
  EXPECT_EQ(a.qid, 3);
  EXPECT_EQ(a.sqsize, 127);
  EXPECT_EQ(a.kato_ms, 5000u);
}

TEST(Command, PropertyGetSetDisconnect) {
  Command g = MakePropertyGet(1, 0x00, /*eight_bytes=*/true);
  auto gb = g.Encode();
  EXPECT_EQ(gb[4], 0x04);
  EXPECT_EQ(gb[40], 1);
  EXPECT_EQ(Le32(gb, 44), 0u);
  Command s = MakePropertySet(2, 0x14, false, 0x460001);
  auto sb = s.Encode();
  EXPECT_EQ(sb[4], 0x00);
  EXPECT_EQ(Le32(sb, 44), 0x14u);
  EXPECT_EQ(Le32(sb, 48), 0x460001u);
  auto f = PropertyFields::From(s);
  EXPECT_FALSE(f.eight_bytes);
  EXPECT_EQ(f.offset, 0x14u);
  EXPECT_EQ(f.value, 0x460001u);
  Command d = MakeDisconnect(3);
  EXPECT_EQ(d.fctype(), 0x08);
}

TEST(ConnectData, RoundTripAndOffsets) {
  ConnectData d;
  d.hostid[0] = 0xAB;
  d.hostid[15] = 0xCD;
  d.cntlid = 0xFFFF;
  d.subnqn = "nqn.2014-08.org.nvmexpress:uuid:1";
  d.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:host";
  std::array<uint8_t, 1024> raw{};
  d.Encode(raw);
  EXPECT_EQ(raw[0], 0xAB);
  EXPECT_EQ(raw[16], 0xFF);
  EXPECT_EQ(raw[17], 0xFF);
  EXPECT_EQ(raw[256], 'n');
  EXPECT_EQ(raw[512], 'n');
  auto back = ConnectData::Decode(raw);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
}

TEST(ConnectData, RejectsBadNqns) {
  std::array<uint8_t, 1024> raw{};
  ConnectData{{}, 1, "a", "b"}.Encode(raw);
  auto unterminated = raw;
  std::fill(unterminated.begin() + 256, unterminated.begin() + 512, 'x');
  auto r = ConnectData::Decode(unterminated);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("SUBNQN"), std::string::npos);
  auto empty_sub = raw;
  empty_sub[256] = 0;
  r = ConnectData::Decode(empty_sub);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("SUBNQN"), std::string::npos);
  auto long_host = raw;
  std::fill(long_host.begin() + 512, long_host.begin() + 512 + 224, 'h');
  r = ConnectData::Decode(long_host);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("HOSTNQN"), std::string::npos);
  EXPECT_FALSE(ConnectData::Decode(std::span<const uint8_t>(raw).first(1000)).ok());
}

// SPDK's initiator leaves HOSTNQN empty unless told one; the target's allow-list decides.
TEST(ConnectData, EmptyHostNqnDecodesAsEmpty) {
  std::array<uint8_t, 1024> raw{};
  ConnectData{{}, 0xFFFF, "nqn.2024-01.io.nvmpath:s", ""}.Encode(raw);
  auto r = ConnectData::Decode(raw);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->hostnqn, "");
  EXPECT_EQ(r->subnqn, "nqn.2024-01.io.nvmpath:s");
}

}  // namespace
}  // namespace nvmpath::nvme
