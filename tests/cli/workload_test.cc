// The bench workloads: LBAs stay inside the region and on chunk boundaries, sequential and verify
// regions of different threads never overlap, randrw follows --mix, the same seed replays the
// same sequence; and the verify pattern catches what it exists to catch — a flipped byte, a block
// from another LBA, an older generation, another run's seed.
#include "cli/workload.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace nvmpath::cli {
namespace {

TEST(Workload, NamesRoundTripAndUnknownListsValid) {
  for (Workload w : {Workload::kRandRead, Workload::kRandWrite, Workload::kRead, Workload::kWrite,
                     Workload::kRandRw, Workload::kVerify}) {
    auto parsed = ParseWorkload(WorkloadName(w));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, w);
  }
  auto bad = ParseWorkload("randomread");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'randomread'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("randrw"), std::string::npos);
}

TEST(Workload, RandomLbasAreAlignedInsideAndCoverTheRegion) {
  const WorkloadRegion region = ThreadRegion(Workload::kRandRead, 1000, 8, 0, 1);
  EXPECT_EQ(region.chunks, 125u);
  IoGenerator g(Workload::kRandRead, region, 50, 42);
  std::set<uint64_t> seen;
  for (int i = 0; i < 10000; ++i) {
    IoSpec s = g.Next();
    ASSERT_EQ(s.op, IoOp::kRead);
    ASSERT_EQ(s.lba % 8, 0u);
    ASSERT_LE(s.lba + 8, 1000u);
    seen.insert(s.lba);
  }
  EXPECT_EQ(seen.size(), 125u);  // every chunk drawn at least once in 10000 draws
}

TEST(Workload, SameSeedSameSequenceOtherSeedOther) {
  const WorkloadRegion region{0, 1u << 20, 1};
  IoGenerator a(Workload::kRandWrite, region, 50, 9), b(Workload::kRandWrite, region, 50, 9),
      c(Workload::kRandWrite, region, 50, 10);
  int same_as_c = 0;
  for (int i = 0; i < 100; ++i) {
    IoSpec x = a.Next(), y = b.Next(), z = c.Next();
    ASSERT_EQ(x.lba, y.lba);
    EXPECT_EQ(x.op, IoOp::kWrite);
    same_as_c += x.lba == z.lba;
  }
  EXPECT_LT(same_as_c, 5);
}

TEST(Workload, RandRwFollowsTheMix) {
  IoGenerator g(Workload::kRandRw, {0, 1000, 1}, 70, 3);
  int reads = 0;
  for (int i = 0; i < 20000; ++i) reads += g.Next().op == IoOp::kRead;
  EXPECT_NEAR(reads / 20000.0, 0.70, 0.02);
  IoGenerator all_writes(Workload::kRandRw, {0, 1000, 1}, 0, 3);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(all_writes.Next().op, IoOp::kWrite);
}

TEST(Workload, SequentialSlicesAreDisjointAndWrap) {
  // 10 chunks of 4 blocks over 3 threads: 3 + 3 + 4 chunks, back to back.
  uint64_t next_lba = 0;
  for (unsigned t = 0; t < 3; ++t) {
    WorkloadRegion r = ThreadRegion(Workload::kWrite, 40, 4, t, 3);
    EXPECT_EQ(r.first_lba, next_lba) << t;
    next_lba = r.first_lba + r.chunks * 4;
    IoGenerator g(Workload::kWrite, r, 0, 1);
    for (uint64_t i = 0; i < 2 * r.chunks; ++i) {
      IoSpec s = g.Next();
      ASSERT_EQ(s.op, IoOp::kWrite);
      ASSERT_EQ(s.lba, r.first_lba + (i % r.chunks) * 4);
    }
  }
  EXPECT_EQ(next_lba, 40u);
  // Random workloads share the whole region.
  EXPECT_EQ(ThreadRegion(Workload::kRandRead, 40, 4, 2, 3).chunks, 10u);
}

TEST(Workload, VerifyWalksTheSliceWithRisingGenerations) {
  IoGenerator g(Workload::kVerify, {100, 3, 2}, 0, 1);
  const uint64_t want_lba[] = {100, 102, 104, 100, 102, 104, 100};
  const uint64_t want_gen[] = {1, 1, 1, 2, 2, 2, 3};
  for (int i = 0; i < 7; ++i) {
    IoSpec s = g.Next();
    EXPECT_EQ(s.op, IoOp::kWrite);
    EXPECT_EQ(s.lba, want_lba[i]) << i;
    EXPECT_EQ(s.generation, want_gen[i]) << i;
  }
}

class VerifyPattern : public ::testing::Test {
 protected:
  static constexpr uint32_t kBlock = 512;
  std::vector<uint8_t> chunk = std::vector<uint8_t>(8 * kBlock);
  void SetUp() override { FillVerifyChunk(chunk, kBlock, 77, 1000, 5); }
};

TEST_F(VerifyPattern, WhatWasWrittenChecksClean) {
  VerifyOutcome v = CheckVerifyChunk(chunk, kBlock, 77, 1000, 5);
  EXPECT_EQ(v.blocks, 8u);
  EXPECT_EQ(v.mismatches, 0u);
  EXPECT_TRUE(v.first_error.empty());
}

TEST_F(VerifyPattern, AFlippedByteIsOneMismatch) {
  chunk[3 * kBlock + 300] ^= 0x01;
  VerifyOutcome v = CheckVerifyChunk(chunk, kBlock, 77, 1000, 5);
  EXPECT_EQ(v.blocks, 8u);
  EXPECT_EQ(v.mismatches, 1u);
  EXPECT_NE(v.first_error.find("LBA 1003"), std::string::npos) << v.first_error;
}

TEST_F(VerifyPattern, ABlockOfAnotherLbaIsAMismatch) {
  // The chunk written for LBA 1000 read back as if it were at LBA 2000 (a misdirected write).
  VerifyOutcome v = CheckVerifyChunk(chunk, kBlock, 77, 2000, 5);
  EXPECT_EQ(v.mismatches, 8u);
  EXPECT_NE(v.first_error.find("LBA 2000"), std::string::npos) << v.first_error;
  EXPECT_NE(v.first_error.find("1000"), std::string::npos) << v.first_error;
}

TEST_F(VerifyPattern, AnOlderGenerationIsAMismatch) {
  VerifyOutcome v = CheckVerifyChunk(chunk, kBlock, 77, 1000, 6);  // a lost write of pass 6
  EXPECT_EQ(v.mismatches, 8u);
  EXPECT_NE(v.first_error.find("generation 5, expected 6"), std::string::npos) << v.first_error;
}

TEST_F(VerifyPattern, AnotherRunsSeedOrZeroesAreMismatches) {
  EXPECT_EQ(CheckVerifyChunk(chunk, kBlock, 78, 1000, 5).mismatches, 8u);
  std::vector<uint8_t> zeroes(chunk.size());
  EXPECT_EQ(CheckVerifyChunk(zeroes, kBlock, 77, 1000, 5).mismatches, 8u);
}

}  // namespace
}  // namespace nvmpath::cli
