// The verify workload catches real data errors: a write lost, torn or redirected behind the
// head's back is reported as a mismatch — run against an in-process path whose namespace the test
// corrupts on purpose.
#include "sim/verify_workload.h"

#include <gtest/gtest.h>

#include "sim/mem_path.h"
#include "reactor/sim.h"
#include "sim/verify_block.h"

namespace nvmpath::sim {
namespace {

class VerifyWorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    r_ = world_.AddReactor();
    ns_ = std::make_unique<sim::MemNamespace>(64, 512);
    head_ = std::make_unique<mpath::Head>(mpath::HeadOptions{.name = "h"},
                                          std::vector<reactor::Reactor*>{r_}, 0);
    path_ = std::make_unique<sim::MemPath>(sim::MemPathOptions{.name = "p"}, ns_.get(),
                                            std::vector<reactor::Reactor*>{r_}, 0);
    r_->Post([this] { ASSERT_TRUE(head_->AddPath(path_.get()).ok()); });
    world_.RunFor(std::chrono::microseconds(1));
    wl_ = std::make_unique<VerifyWorkload>(
        *head_, *r_, VerifyWorkloadOptions{.blocks = 64, .seed = 3}, &checker_, nullptr);
  }
  void RunAndVerify(std::function<void()> between) {
    r_->Post([this] { wl_->Start(); });
    world_.RunFor(std::chrono::milliseconds(2));
    bool stopped = false, verified = false;
    r_->Post([&] { wl_->Stop([&] { stopped = true; }); });
    ASSERT_TRUE(world_.RunUntil([&] { return stopped; }, std::chrono::seconds(1)));
    between();
    r_->Post([&] { wl_->VerifyAll([&] { verified = true; }); });
    ASSERT_TRUE(world_.RunUntil([&] { return verified; }, std::chrono::seconds(1)));
  }
  void TearDown() override {
    r_->Post([this] { head_->RemovePath(path_.get(), [] {}); });
    world_.RunUntilIdle(1'000'000);
    wl_.reset();
    head_.reset();
    world_.RunUntilIdle(1'000'000);
  }

  reactor::SimWorld world_{11};
  reactor::Reactor* r_ = nullptr;
  std::unique_ptr<sim::MemNamespace> ns_;
  std::unique_ptr<mpath::Head> head_;
  std::unique_ptr<sim::MemPath> path_;
  InvariantChecker checker_;
  std::unique_ptr<VerifyWorkload> wl_;
};

TEST_F(VerifyWorkloadTest, CleanRunVerifiesEveryBlock) {
  RunAndVerify([] {});
  EXPECT_GT(wl_->stats().writes, 50u);
  EXPECT_EQ(wl_->stats().mismatches, 0u);
  EXPECT_TRUE(checker_.ok());
}

TEST_F(VerifyWorkloadTest, LostWriteIsCaught) {
  RunAndVerify([this] {
    // Roll one written block back to an older content: what a lost or stale write leaves.
    std::vector<uint8_t> old(512);
    for (uint64_t lba = 0; lba < 64; ++lba) {
      ns_->Execute(blk::Op::kRead, lba, 1, old);
      if (old[0] != 0) {
        FillVerifyBlock(old, 0, lba, 0xFFFFFF);  // a generation never written
        ns_->Execute(blk::Op::kWrite, lba, 1, old);
        break;
      }
    }
  });
  EXPECT_EQ(wl_->stats().mismatches, 1u);
  ASSERT_FALSE(checker_.ok());
  EXPECT_NE(checker_.violations()[0].find("write never acknowledged"), std::string::npos);
}

TEST_F(VerifyWorkloadTest, MisdirectedWriteIsCaught) {
  RunAndVerify([this] {
    std::vector<uint8_t> blk(512);
    FillVerifyBlock(blk, 0, 9, 1);
    ns_->Execute(blk::Op::kWrite, 10, 1, blk);
  });
  EXPECT_GE(wl_->stats().mismatches, 1u);
  EXPECT_NE(checker_.violations()[0].find("misdirected"), std::string::npos);
}

}  // namespace
}  // namespace nvmpath::sim
