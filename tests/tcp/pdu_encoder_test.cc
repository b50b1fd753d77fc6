// Goal: the encoder writes the bytes the NVMe/TCP specification prescribes. Method: golden
// byte strings built by hand from the spec's offsets (not from the library's constants), so an
// error shared by encoder and decoder still fails here; and layout arithmetic (PDO, PLEN,
// padding) for each digest/PDA combination.
#include "tcp/pdu_encoder.h"

#include <gtest/gtest.h>

#include "tcp/crc32c.h"

namespace nvmpath::tcp {
namespace {

void Put32(std::vector<uint8_t>& v, size_t off, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[off + i] = static_cast<uint8_t>(x >> (8 * i));
}

TEST(PduEncoder, IcReqGolden) {
  std::vector<uint8_t> want(128, 0);
  want[0] = 0x00;  // type
  want[2] = 128;   // hlen
  want[4] = 128;   // plen
  want[10] = 0;    // hpda
  want[11] = 0x3;  // hdgst | ddgst
  want[12] = 0;    // maxr2t
  std::vector<uint8_t> got;
  AppendIcReq(got, {0, 0, true, true, 0});
  EXPECT_EQ(got, want);
}

TEST(PduEncoder, IcRespGolden) {
  std::vector<uint8_t> want(128, 0);
  want[0] = 0x01;
  want[2] = 128;
  want[4] = 128;
  want[10] = 0;
  want[11] = 0x1;
  Put32(want, 12, 0x400000);
  std::vector<uint8_t> got;
  AppendIcResp(got, {0, 0, true, false, 0x400000});
  EXPECT_EQ(got, want);
}

TEST(PduEncoder, C2HDataWithDigestsGolden) {
  // C2HData, hdgst+ddgst, PDA 0: header 24, HDGST 4 -> PDO 28, 8 data bytes, DDGST -> PLEN 40.
  const std::vector<uint8_t> data = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<uint8_t> want(40, 0);
  want[0] = 0x07;
  want[1] = 0x01 | 0x02 | 0x04 | 0x08;  // HDGSTF DDGSTF LAST SUCCESS
  want[2] = 24;
  want[3] = 28;
  Put32(want, 4, 40);
  want[8] = 0x34;  // CCCID 0x1234
  want[9] = 0x12;
  Put32(want, 12, 512);  // DATAO
  Put32(want, 16, 8);    // DATAL
  Put32(want, 24, Crc32c(std::span<const uint8_t>(want).first(24)));
  std::copy(data.begin(), data.end(), want.begin() + 28);
  Put32(want, 36, Crc32c(data));
  std::vector<uint8_t> got;
  AppendC2HData(got, {0x1234, 512, true, true}, data, {true, true, 0});
  EXPECT_EQ(got, want);
}

TEST(PduEncoder, CapsuleCmdInCapsuleDataWithPadding) {
  // CapsuleCmd with HDGST and HPDA/CPDA 3 (16-byte alignment): header ends at 76 -> PDO 80.
  const std::vector<uint8_t> data(16, 0xAB);
  nvme::Command cmd = nvme::MakeWrite(7, 1, 0, 1, nvme::SglDescriptor::InCapsule(16));
  std::vector<uint8_t> got;
  AppendCapsuleCmd(got, cmd, data, {true, false, 3});
  ASSERT_EQ(got.size(), 96u);
  EXPECT_EQ(got[0], 0x04);
  EXPECT_EQ(got[1], 0x01);
  EXPECT_EQ(got[2], 72);
  EXPECT_EQ(got[3], 80);
  EXPECT_EQ(got[4], 96);
  EXPECT_EQ(got[8], 0x01);   // SQE opcode at PDU byte 8
  EXPECT_EQ(got[10], 7);     // CID
  for (int i = 76; i < 80; ++i) EXPECT_EQ(got[i], 0) << "padding byte " << i;
  EXPECT_EQ(got[80], 0xAB);
}

TEST(PduEncoder, CapsuleRespAndR2TGolden) {
  std::vector<uint8_t> got;
  nvme::Completion cqe;
  cqe.cid = 0x55;
  AppendCapsuleResp(got, cqe, {});
  std::vector<uint8_t> want(24, 0);
  want[0] = 0x05;
  want[2] = 24;
  want[4] = 24;
  want[8 + 12] = 0x55;
  EXPECT_EQ(got, want);

  got.clear();
  AppendR2T(got, {3, 9, 4096, 8192}, {});
  want.assign(24, 0);
  want[0] = 0x09;
  want[2] = 24;
  want[4] = 24;
  want[8] = 3;
  want[10] = 9;
  Put32(want, 12, 4096);
  Put32(want, 16, 8192);
  EXPECT_EQ(got, want);
}

TEST(PduEncoder, TermReqTruncatesOffendingHeader) {
  std::vector<uint8_t> hdr(200, 0x5A);
  std::vector<uint8_t> got;
  AppendTermReq(got, PduType::kC2HTermReq, {Fes::kInvalidHeaderField, 3}, hdr);
  ASSERT_EQ(got.size(), 152u);
  EXPECT_EQ(got[0], 0x03);
  EXPECT_EQ(got[1], 0);
  EXPECT_EQ(got[3], 0);  // PDO
  EXPECT_EQ(got[4], 152);
  EXPECT_EQ(got[8], 1);
  EXPECT_EQ(got[10], 3);
  EXPECT_EQ(got[24], 0x5A);
}

TEST(PduEncoder, LayoutArithmetic) {
  EXPECT_EQ(DataOffset(24, false, 0), 24u);
  EXPECT_EQ(DataOffset(24, true, 0), 28u);
  EXPECT_EQ(DataOffset(72, true, 1), 80u);
  EXPECT_EQ(DataOffset(72, false, 31), 128u);
  PduLayout l = ComputeLayout(24, 100, {true, true, 7});
  EXPECT_EQ(l.pdo, 32);
  EXPECT_EQ(l.pad, 4u);
  EXPECT_EQ(l.plen, 32u + 100 + 4);
  PduLayout none = ComputeLayout(72, 0, {true, true, 7});
  EXPECT_EQ(none.pdo, 0);
  EXPECT_EQ(none.plen, 76u);
  EXPECT_FALSE(none.ddgst);
}

TEST(PduEncoder, ZeroCopyPrefixMatchesWholePdu) {
  std::vector<uint8_t> data(1000, 7);
  EncodeOptions opts{true, true, 0};
  std::vector<uint8_t> whole, parts;
  AppendH2CData(whole, {1, 2, 3, true}, data, opts);
  AppendH2CDataPrefix(parts, {1, 2, 3, true}, 1000, opts);
  parts.insert(parts.end(), data.begin(), data.end());
  AppendDataDigest(parts, data);
  EXPECT_EQ(whole, parts);
}

}  // namespace
}  // namespace nvmpath::tcp
