// The end-of-device check: what it accepts and the errors it gives. It runs only at the head
// (tests/mpath/head_test.cc shows a path's capacity is never consulted).
#include "blk/capacity.h"

#include <gtest/gtest.h>

#include <vector>

namespace nvmpath::blk {
namespace {

Bio Make(Op op, uint64_t lba, uint32_t n, std::vector<uint8_t>& buf) {
  Bio b;
  b.op = op;
  b.lba = lba;
  b.nblocks = n;
  b.data = buf;
  return b;
}

TEST(Capacity, RangeInsideIsOk) {
  std::vector<uint8_t> buf(8 * 512);
  EXPECT_TRUE(CheckRange(Make(Op::kRead, 0, 8, buf), 64, 512).ok());
  EXPECT_TRUE(CheckRange(Make(Op::kWrite, 56, 8, buf), 64, 512).ok());
}

TEST(Capacity, RangeCrossingTheEndIsOutOfRange) {
  std::vector<uint8_t> buf(8 * 512);
  Status st = CheckRange(Make(Op::kRead, 60, 8, buf), 64, 512);
  EXPECT_EQ(st.code(), Code::kOutOfRange);
  EXPECT_NE(st.message().find("LBA 60+8 beyond capacity 64"), std::string::npos) << st.ToString();
  EXPECT_EQ(CheckRange(Make(Op::kWrite, 64, 1, buf), 64, 512).code(), Code::kOutOfRange);
}

TEST(Capacity, HugeLbaDoesNotWrapAround) {
  std::vector<uint8_t> buf(8 * 512);
  EXPECT_EQ(CheckRange(Make(Op::kRead, ~0ull - 2, 8, buf), 64, 512).code(), Code::kOutOfRange);
}

TEST(Capacity, ZeroBlocksAndShortBufferAreInvalid) {
  std::vector<uint8_t> buf(512);
  EXPECT_EQ(CheckRange(Make(Op::kRead, 0, 0, buf), 64, 512).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckRange(Make(Op::kWrite, 0, 2, buf), 64, 512).code(), Code::kInvalidArgument);
}

TEST(Capacity, FlushHasNoRange) {
  std::vector<uint8_t> buf;
  EXPECT_TRUE(CheckRange(Make(Op::kFlush, 0, 0, buf), 0, 512).ok());
  // Write zeroes and deallocate need no buffer.
  EXPECT_TRUE(CheckRange(Make(Op::kWriteZeroes, 0, 8, buf), 64, 512).ok());
}

}  // namespace
}  // namespace nvmpath::blk
