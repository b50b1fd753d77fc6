// Status and Result: the messages users see, errno mapping, and NVMP_ASSERT firing.
#include "nvmpath/status.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "base/assert.h"

namespace nvmpath {
namespace {

TEST(Status, OkIsCheapAndPrintsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_EQ(s.ToErrno(), 0);
}

TEST(Status, ErrorCarriesCodeMessageAndContext) {
  Status s = Status(Code::kNoPath, "no usable path").WithContext("nqn.x:ns1");
  EXPECT_EQ(s.code(), Code::kNoPath);
  EXPECT_EQ(s.ToString(), "no path: nqn.x:ns1: no usable path");
  EXPECT_EQ(s.ToErrno(), EIO);
}

TEST(Status, ErrnoStatusNamesTheCallAndMapsTheCode) {
  EXPECT_EQ(ErrnoStatus("connect 127.0.0.1:1", ECONNREFUSED).code(), Code::kUnavailable);
  EXPECT_EQ(ErrnoStatus("bind", EADDRINUSE).code(), Code::kAlreadyExists);
  EXPECT_EQ(ErrnoStatus("open /x", ENOENT).ToString(), "not found: open /x: No such file or directory");
}

TEST(Result, HoldsAValueOrAStatus) {
  Result<int> good = 7;
  Result<int> bad = InvalidArgument("bad");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().ok());
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
}

TEST(AssertDeathTest, FiresWithTheMessageInEveryBuild) {
  EXPECT_DEATH(NVMP_ASSERT(1 + 1 == 3, "arithmetic broke"), "assertion failed: .*arithmetic broke");
}

}  // namespace
}  // namespace nvmpath
