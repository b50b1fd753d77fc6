// Each invariant the simulator checks, shown firing on a broken history (so none of them is a
// check that cannot fail), and staying quiet on a correct one.
#include "sim/invariants.h"

#include <gtest/gtest.h>

#include "reactor/sim.h"
#include "sim/verify_block.h"

namespace nvmpath::sim {
namespace {

TEST(Invariants, CorrectHistoryHasNoViolation) {
  InvariantChecker c;
  c.OnSubmit(1);
  c.OnSubmit(2);
  c.OnComplete(1, Status::Ok());
  c.OnFailure(2, Status(Code::kNoPath, "no usable path"), /*usable_path=*/false, "h");
  c.OnComplete(2, Status(Code::kNoPath, "no usable path"));
  c.CheckQuiesced();
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.app_errors(), 1u);
}

TEST(Invariants, DoubleCompletionFires) {
  InvariantChecker c;
  c.OnSubmit(1);
  c.OnComplete(1, Status::Ok());
  c.OnComplete(1, Status::Ok());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.violations()[0].find("Bio 1 completed 2 times"), std::string::npos);
}

TEST(Invariants, MissingCompletionFires) {
  InvariantChecker c;
  c.OnSubmit(7);
  c.CheckQuiesced();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.violations()[0].find("Bio 7 never completed"), std::string::npos);
}

TEST(Invariants, ErrorWhileAPathIsUsableFires) {
  InvariantChecker c;
  c.OnSubmit(1);
  c.OnFailure(1, Status(Code::kIoError, "EIO"), /*usable_path=*/true, "nqn:ns1");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.violations()[0].find("while nqn:ns1 had a usable path"), std::string::npos);
}

TEST(Invariants, LeakedTicketFires) {
  reactor::SimWorld world(1);
  reactor::Reactor* r = world.AddReactor();
  blk::Limiter l(*r, "path a", blk::QosLimits{.max_in_flight = 4});
  auto t = l.TryAcquire(1);
  InvariantChecker c;
  c.CheckTickets(l, /*holders=*/1);
  EXPECT_TRUE(c.ok());
  c.CheckTickets(l, /*holders=*/0);  // the attempt is gone but its ticket is still out
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.violations()[0].find("path a: 1 tickets outstanding but 0 attempts hold one"),
            std::string::npos);
}

TEST(Invariants, DataErrorIsAViolation) {
  InvariantChecker c;
  c.OnDataError("LBA 3: read generation 1, expected 2");
  EXPECT_FALSE(c.ok());
}

TEST(VerifyBlock, RoundTripAndEveryCorruptionIsNamed) {
  std::vector<uint8_t> b(512);
  EXPECT_EQ(*ReadVerifyBlock(b, 0, 5), 0u) << "an all-zero block is generation 0";
  FillVerifyBlock(b, 3, 5, 42);
  EXPECT_EQ(*ReadVerifyBlock(b, 3, 5), 42u);
  EXPECT_NE(ReadVerifyBlock(b, 3, 6).status().message().find("misdirected"), std::string::npos);
  EXPECT_NE(ReadVerifyBlock(b, 4, 5).status().message().find("block of head 3"), std::string::npos);
  b[300] ^= 1;
  EXPECT_NE(ReadVerifyBlock(b, 3, 5).status().message().find("checksum mismatch"), std::string::npos);
  b[0] ^= 0xFF;
  EXPECT_EQ(ReadVerifyBlock(b, 3, 5).status().code(), Code::kDataLoss);
}

}  // namespace
}  // namespace nvmpath::sim
