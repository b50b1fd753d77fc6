// Goal: the ANA log codec, and that its decoder rejects exactly what Linux nvme_parse_ana_log
// rejects (grpid 0, grpid > ANAGRPMAX, state 0 or > 0Fh, descriptor or NSID list overrun) with
// an error naming the descriptor. Method: encode a valid log, corrupt one field at its spec
// offset (written out by hand here), decode.
#include "nvme/ana_log.h"

#include <gtest/gtest.h>

namespace nvmpath::nvme {
namespace {

AnaLog Sample() {
  AnaLog log;
  log.chgcnt = 77;
  log.groups.push_back({1, 5, AnaState::kOptimized, {1, 2, 3}});
  log.groups.push_back({2, 6, AnaState::kInaccessible, {}});
  log.groups.push_back({32, 7, AnaState::kChange, {9}});
  return log;
}

// Byte offset of descriptor `i` in Sample()'s encoding.
size_t DescOffset(int i) { return i == 0 ? 16 : i == 1 ? 16 + 32 + 12 : 16 + 32 + 12 + 32; }

TEST(AnaLog, RoundTripAndOffsets) {
  AnaLog log = Sample();
  auto raw = log.Encode();
  ASSERT_EQ(raw.size(), 16u + 3 * 32 + 4 * 4);
  EXPECT_EQ(raw[8], 3);                   // NGRPS
  EXPECT_EQ(raw[16], 1);                  // ANAGRPID
  EXPECT_EQ(raw[16 + 4], 3);              // NNSIDS
  EXPECT_EQ(raw[16 + 16], 1);             // STATE
  EXPECT_EQ(raw[16 + 32 + 8], 3);         // third NSID
  auto back = AnaLog::Decode(raw, 32);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, log);
}

TEST(AnaLog, GroupsOnlyOmitsNsids) {
  auto raw = Sample().Encode(/*groups_only=*/true);
  ASSERT_EQ(raw.size(), 16u + 3 * 32);
  auto back = AnaLog::Decode(raw, 32);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->groups[0].nsids.empty());
  EXPECT_EQ(back->groups[2].state, AnaState::kChange);
}

void ExpectError(const std::vector<uint8_t>& raw, uint32_t anagrpmax, const std::string& what) {
  auto r = AnaLog::Decode(raw, anagrpmax);
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
}

TEST(AnaLog, RejectsGrpidZero) {
  auto raw = Sample().Encode();
  raw[DescOffset(1)] = 0;
  ExpectError(raw, 32, "ANA log descriptor 1: ANAGRPID 0 is invalid");
}

TEST(AnaLog, RejectsGrpidOverAnagrpmax) {
  ExpectError(Sample().Encode(), 31, "ANA log descriptor 2: ANAGRPID 32 is greater than ANAGRPMAX 31");
}

TEST(AnaLog, RejectsStateZeroAndOverF) {
  auto raw = Sample().Encode();
  raw[DescOffset(0) + 16] = 0;
  ExpectError(raw, 32, "ANA log descriptor 0: ANA state 0 is invalid");
  raw[DescOffset(0) + 16] = 0x10;
  ExpectError(raw, 32, "ANA log descriptor 0: ANA state 16 is invalid");
}

TEST(AnaLog, AcceptsReservedStateBelowF) {
  // Linux only rejects 0 and > 0Fh; reserved values in between parse (and are not live).
  auto raw = Sample().Encode();
  raw[DescOffset(0) + 16] = 0x7;
  auto r = AnaLog::Decode(raw, 32);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(AnaStateIsLive(r->groups[0].state));
}

TEST(AnaLog, RejectsDescriptorOverrun) {
  auto raw = Sample().Encode();
  raw.resize(DescOffset(2) + 20);
  ExpectError(raw, 32, "ANA log descriptor 2: header");
}

TEST(AnaLog, RejectsNsidListOverrun) {
  auto raw = Sample().Encode();
  raw[DescOffset(2) + 4] = 2;  // NNSIDS 2, only one present
  ExpectError(raw, 32, "ANA log descriptor 2: NNSIDS 2 overruns");
  raw[DescOffset(2) + 7] = 0xFF;  // huge count must not overflow the bound check
  ExpectError(raw, 32, "ANA log descriptor 2: NNSIDS");
}

TEST(AnaLog, RejectsShortHeader) {
  std::vector<uint8_t> raw(15);
  EXPECT_FALSE(AnaLog::Decode(raw, 1).ok());
}

}  // namespace
}  // namespace nvmpath::nvme
