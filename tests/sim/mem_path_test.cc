// sim::MemPath on its own, with a recording sink: each fault control produces the status and the
// host-visible state a real controller would, and every attempt ends exactly once.
#include "sim/mem_path.h"

#include <gtest/gtest.h>

#include <map>

#include "reactor/sim.h"

namespace nvmpath::sim {
namespace {

class RecordingSink : public blk::AttemptSink, public blk::PathObserver {
 public:
  void OnAttemptDone(blk::Bio* bio, nvme::NvmeStatus status) override {
    ++ends[bio];
    last = status;
  }
  void OnPathStateChanged(blk::Path*) override { ++changes; }
  std::map<blk::Bio*, int> ends;
  nvme::NvmeStatus last;
  int changes = 0;
};

class MemPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    r_ = world_.AddReactor();
    path_ = std::make_unique<MemPath>(MemPathOptions{.name = "p"}, &ns_,
                                      std::vector<reactor::Reactor*>{r_}, 0);
    path_->SetObserver(&sink_);
    bio_.op = blk::Op::kWrite;
    bio_.lba = 3;
    bio_.nblocks = 1;
    buf_.assign(512, 0x5A);
    bio_.data = buf_;
  }
  nvme::NvmeStatus RunOne() {
    r_->Post([this] { path_->Channel(0).Submit(&bio_, &sink_); });
    world_.RunFor(std::chrono::milliseconds(1));
    EXPECT_EQ(sink_.ends[&bio_], ++expected_ends_);
    return sink_.last;
  }
  void OnHome(std::function<void()> fn) {
    r_->Post(std::move(fn));
    world_.RunFor(std::chrono::milliseconds(1));
  }
  void TearDown() override { world_.RunUntilIdle(); }

  reactor::SimWorld world_{3};
  reactor::Reactor* r_ = nullptr;
  MemNamespace ns_{64, 512};
  std::unique_ptr<MemPath> path_;
  RecordingSink sink_;
  blk::Bio bio_;
  std::vector<uint8_t> buf_;
  int expected_ends_ = 0;
};

TEST_F(MemPathTest, WriteLandsInTheNamespace) {
  EXPECT_TRUE(RunOne().ok());
  std::vector<uint8_t> out(512);
  ns_.Execute(blk::Op::kRead, 3, 1, out);
  EXPECT_EQ(out, buf_);
}

TEST_F(MemPathTest, TargetAnaStateAnswersAtOnceHostLearnsLater) {
  OnHome([this] { path_->SetAnaState(blk::AnaState::kInaccessible); });
  EXPECT_EQ(path_->state().ana, blk::AnaState::kInaccessible);
  EXPECT_EQ(RunOne().code(), nvme::sc::kAnaInaccessible);
  OnHome([this] { path_->SetAnaState(blk::AnaState::kChange); });
  EXPECT_EQ(RunOne().code(), nvme::sc::kAnaTransition);
}

TEST_F(MemPathTest, DetachedNamespaceAnswersInvalidNamespaceAndRescanClearsReady) {
  OnHome([this] { path_->Detach(); });
  EXPECT_EQ(RunOne().code(), nvme::sc::kInvalidNamespace);
  EXPECT_FALSE(path_->state().ready);
  EXPECT_EQ(path_->state().capacity_blocks, 0u);
  OnHome([this] { path_->Attach(); });
  EXPECT_TRUE(path_->state().ready);
  EXPECT_TRUE(RunOne().ok());
}

TEST_F(MemPathTest, ControllerLossAbortsInFlightAndNeverExecutesThem) {
  path_->SetLatency(std::chrono::milliseconds(5));
  uint64_t writes_before = ns_.writes_executed();
  r_->Post([this] { path_->Channel(0).Submit(&bio_, &sink_); });
  world_.RunFor(std::chrono::microseconds(10));
  r_->Post([this] { path_->LoseController(); });
  world_.RunFor(std::chrono::microseconds(10));
  EXPECT_EQ(sink_.ends[&bio_], 1);
  EXPECT_EQ(sink_.last.code(), nvme::sc::kAbortedByHost);
  world_.RunFor(std::chrono::milliseconds(20));
  EXPECT_EQ(sink_.ends[&bio_], 1) << "the aborted attempt never ends twice";
  EXPECT_EQ(ns_.writes_executed(), writes_before) << "nor executes late";
  EXPECT_EQ(path_->state().ctrl, blk::CtrlState::kConnecting);
  ++expected_ends_;
  path_->SetLatency(std::chrono::microseconds(20));
  EXPECT_EQ(RunOne().code(), nvme::sc::kHostPathError);
  OnHome([this] { path_->RestoreController(); });
  EXPECT_TRUE(RunOne().ok());
}

TEST_F(MemPathTest, FailNextCountsAndFiltersByOpcode) {
  OnHome([this] { path_->FailNext(1, nvme::NvmeStatus::Of(nvme::sc::kInternalError), blk::Op::kRead); });
  EXPECT_TRUE(RunOne().ok()) << "a write is not a read";
  bio_.op = blk::Op::kRead;
  EXPECT_EQ(RunOne().code(), nvme::sc::kInternalError);
  EXPECT_TRUE(RunOne().ok());
}

TEST_F(MemPathTest, StallParksUntilReleased) {
  OnHome([this] { path_->Stall(true); });
  r_->Post([this] { path_->Channel(0).Submit(&bio_, &sink_); });
  world_.RunFor(std::chrono::milliseconds(5));
  EXPECT_EQ(sink_.ends[&bio_], 0);
  OnHome([this] { path_->Stall(false); });
  EXPECT_EQ(sink_.ends[&bio_], 1);
}

TEST_F(MemPathTest, OutOfRangeIsTheNamespacesOwnCheck) {
  bio_.lba = 64;
  EXPECT_EQ(RunOne().code(), nvme::sc::kLbaOutOfRange);
}

}  // namespace
}  // namespace nvmpath::sim
