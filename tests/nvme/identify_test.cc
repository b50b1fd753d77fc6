// Goal: Identify Controller / Namespace, Active NS list and NS descriptor list layouts.
// Method: fill every field with a distinct value, round-trip, and check a few fields at byte
// offsets written out by hand; then feed the decoders malformed lists and check the errors.
#include "nvme/identify.h"

#include <gtest/gtest.h>

namespace nvmpath::nvme {
namespace {

IdentifyController SampleController() {
  IdentifyController c;
  c.vid = 0x1B36;
  c.ssvid = 0x1AF4;
  c.sn = "SN123";
  c.mn = "nvmpath target";
  c.fr = "1.0";
  c.rab = 6;
  c.ieee = {1, 2, 3};
  c.cmic = kCmicMultiPort | kCmicMultiController | kCmicAnaReporting;
  c.mdts = 5;
  c.cntlid = 0x42;
  c.ver = 0x00010400;
  c.oaes = kOaesNsAttribute | kOaesAnaChange;
  c.ctratt = kCtrattHostId128 | kCtrattTbkas;
  c.cntrltype = kCntrltypeIo;
  c.fguid[3] = 9;
  c.crdt = {1, 2, 3};
  c.oacs = 0x4;
  c.acl = 3;
  c.aerl = 3;
  c.lpa = 0x2;
  c.kas = 10;
  c.anatt = 10;
  c.anacap = 0x5F;
  c.anagrpmax = 32;
  c.nanagrpid = 32;
  c.cqt = 0x01F4;  // 500 ms
  c.maxcmd = 128;
  c.nn = 1024;
  c.oncs = 0x0C;
  c.vwc = 1;
  c.sgls = 0x100005;
  c.mnan = 1024;
  c.subnqn = "nqn.2024-01.io.nvmpath:sub1";
  c.ioccsz = 260;
  c.iorcsz = 1;
  c.icdoff = 0;
  c.ctrattr = 0;
  c.msdbd = 1;
  c.ofcs = 0;
  return c;
}

TEST(IdentifyController, RoundTripAndOffsets) {
  IdentifyController c = SampleController();
  std::array<uint8_t, 4096> raw;
  raw.fill(0xEE);
  c.Encode(raw);
  EXPECT_EQ(raw[76], 0x0B);   // CMIC
  EXPECT_EQ(raw[77], 5);      // MDTS
  EXPECT_EQ(raw[78], 0x42);   // CNTLID
  EXPECT_EQ(raw[320], 10);    // KAS
  EXPECT_EQ(raw[342], 10);    // ANATT
  EXPECT_EQ(raw[344], 32);    // ANAGRPMAX
  EXPECT_EQ(raw[386], 0xF4);  // CQT, little endian
  EXPECT_EQ(raw[387], 0x01);
  EXPECT_EQ(raw[540] | raw[541] << 8, 1024);  // MNAN
  EXPECT_EQ(raw[768], 'n');   // SUBNQN
  EXPECT_EQ(raw[1792] | raw[1793] << 8, 260);  // IOCCSZ
  EXPECT_EQ(raw[4] , 'S');
  EXPECT_EQ(raw[23], ' ');    // SN is space padded
  EXPECT_EQ(raw[4000], 0);    // reserved areas zeroed
  auto back = IdentifyController::Decode(raw);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);
}

TEST(IdentifyController, RejectsShortBufferAndUnterminatedNqn) {
  std::array<uint8_t, 4096> raw{};
  SampleController().Encode(raw);
  EXPECT_FALSE(IdentifyController::Decode(std::span<const uint8_t>(raw).first(4095)).ok());
  std::fill(raw.begin() + 768, raw.begin() + 1024, 'q');
  auto r = IdentifyController::Decode(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("SUBNQN"), std::string::npos);
}

TEST(IdentifyNamespace, RoundTripAndOffsets) {
  IdentifyNamespace n;
  n.nsze = 0x100000;
  n.ncap = 0x100000;
  n.nuse = 0x800;
  n.nsfeat = 0x1;
  n.nlbaf = 1;
  n.flbas = 1;
  n.nmic = kNmicShared;
  n.rescap = 0;
  n.anagrpid = 2;
  n.nsattr = 0;
  n.nvmsetid = 1;
  n.endgid = 1;
  n.nguid[0] = 0xAA;
  n.eui64[7] = 0xBB;
  n.lbaf[0] = {0, 9, 0};
  n.lbaf[1] = {8, 12, 2};
  std::array<uint8_t, 4096> raw{};
  n.Encode(raw);
  EXPECT_EQ(raw[30], 1);     // NMIC
  EXPECT_EQ(raw[92], 2);     // ANAGRPID
  EXPECT_EQ(raw[104], 0xAA); // NGUID
  EXPECT_EQ(raw[127], 0xBB); // EUI64
  EXPECT_EQ(raw[128 + 4 + 2], 12);  // LBAF1.LBADS
  EXPECT_EQ(raw[128 + 4 + 3], 2);   // LBAF1.RP
  auto back = IdentifyNamespace::Decode(raw);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, n);
  ASSERT_TRUE(back->BlockSize().ok());
  EXPECT_EQ(*back->BlockSize(), 4096u);
}

TEST(IdentifyNamespace, BlockSizeNamesBadFields) {
  IdentifyNamespace n;  // zero-filled, as for an inactive NSID
  auto bs = n.BlockSize();
  ASSERT_FALSE(bs.ok());
  EXPECT_NE(bs.status().message().find("LBADS"), std::string::npos);
  n.flbas = 3;
  bs = n.BlockSize();
  ASSERT_FALSE(bs.ok());
  EXPECT_NE(bs.status().message().find("NLBAF"), std::string::npos);
}

TEST(ActiveNsList, RoundTripAndErrors) {
  std::array<uint8_t, 4096> raw{};
  std::vector<uint32_t> ids = {1, 2, 7, 100};
  EncodeActiveNsList(ids, raw);
  auto back = DecodeActiveNsList(raw);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, ids);

  std::vector<uint32_t> full(1024);
  for (uint32_t i = 0; i < 1024; ++i) full[i] = i + 1;
  EncodeActiveNsList(full, raw);
  EXPECT_EQ(DecodeActiveNsList(raw)->size(), 1024u);

  std::vector<uint32_t> unordered = {3, 2};
  EncodeActiveNsList(unordered, raw);
  auto r = DecodeActiveNsList(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("entry 1"), std::string::npos);
  std::vector<uint32_t> broadcast = {0xFFFFFFFF};
  EncodeActiveNsList(broadcast, raw);
  EXPECT_FALSE(DecodeActiveNsList(raw).ok());
}

TEST(NsIdentifiers, RoundTrip) {
  NsIdentifiers ids;
  ids.eui64 = std::array<uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8};
  ids.nguid = std::array<uint8_t, 16>{9};
  ids.uuid = std::array<uint8_t, 16>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
  ids.csi = 0;
  std::array<uint8_t, 4096> raw{};
  ids.Encode(raw);
  EXPECT_EQ(raw[0], 1);
  EXPECT_EQ(raw[1], 8);
  EXPECT_EQ(raw[12], 2);   // second record: 4 + 8
  EXPECT_EQ(raw[13], 16);
  auto back = NsIdentifiers::Decode(raw);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, ids);
}

TEST(NsIdentifiers, RejectsWrongNidlPerType) {
  struct Case { uint8_t nidt, nidl; const char* name; };
  for (Case c : {Case{1, 16, "EUI64"}, Case{2, 8, "NGUID"}, Case{3, 15, "UUID"}, Case{4, 2, "CSI"}}) {
    std::array<uint8_t, 4096> raw{};
    raw[0] = c.nidt;
    raw[1] = c.nidl;
    auto r = NsIdentifiers::Decode(raw);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.status().message().find(c.name), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("descriptor 0"), std::string::npos);
  }
}

TEST(NsIdentifiers, RejectsOverrunAndDuplicatesSkipsUnknown) {
  std::array<uint8_t, 24> small{};
  small[0] = 2;
  small[1] = 16;  // needs 20 bytes from offset 0 -> fits; place a second one that overruns
  small[20] = 2;
  small[21] = 16;
  auto r = NsIdentifiers::Decode(small);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("descriptor 1"), std::string::npos);

  std::array<uint8_t, 4096> raw{};
  raw[0] = 0x7E;  // unknown type, skipped
  raw[1] = 3;
  raw[7] = 4;     // CSI
  raw[8] = 1;
  raw[11] = 2;
  auto ok = NsIdentifiers::Decode(raw);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->csi, 2);
  raw[12] = 4;
  raw[13] = 1;
  EXPECT_FALSE(NsIdentifiers::Decode(raw).ok());  // second CSI
}

}  // namespace
}  // namespace nvmpath::nvme
