// host::PathNs against the project's target on reactor::Sim.
//
// Goal: every operation a head can send (read, write, flush, write zeroes, deallocate) becomes
// the right NVMe command for this NSID and block size and completes exactly once, later, through
// the sink, with no attempt left in flight; an oversized Bio fails with Invalid Field (DNR); a
// dead controller fails attempts with a path error; OnPathError marks the path and recovers.
// Method: ScanFixture (controller + scanner + recording listener); Bios are submitted on the
// host reactor and the clock advanced.
#include "host/path_ns.h"

#include <gtest/gtest.h>

#include "scan_fixture.h"

namespace nvmpath::host::testing {
namespace {

struct Sink : blk::AttemptSink {
  std::vector<nvme::NvmeStatus> done;
  bool inside_submit = false;
  bool completed_inside_submit = false;
  void OnAttemptDone(blk::Bio*, nvme::NvmeStatus st) override {
    completed_inside_submit |= inside_submit;
    done.push_back(st);
  }
};

class PathNsTest : public ScanFixture {
 protected:
  nvme::NvmeStatus Run(PathNs* p, blk::Op op, uint64_t lba, uint32_t n, std::span<uint8_t> data) {
    bio_ = blk::Bio{};
    bio_.op = op;
    bio_.lba = lba;
    bio_.nblocks = n;
    bio_.data = data;
    const size_t before = sink_.done.size();
    h0_->Post([&] {
      sink_.inside_submit = true;
      p->Submit(&bio_, &sink_);
      sink_.inside_submit = false;
    });
    EXPECT_TRUE(world_.RunUntil([&] { return sink_.done.size() > before; }, 5s));
    EXPECT_FALSE(sink_.completed_inside_submit);
    EXPECT_EQ(p->TEST_InFlight(), 0u);
    return sink_.done.size() > before ? sink_.done.back() : nvme::NvmeStatus::Of(nvme::sc::kInternalError);
  }
  blk::Bio bio_;
  Sink sink_;
};

TEST_F(PathNsTest, EveryOperationRoundTrips) {
  Start();
  PathNs* p = scanner_->path(3);  // 4 KiB blocks
  ASSERT_NE(p, nullptr);
  std::vector<uint8_t> w(8192), r(8192);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<uint8_t>(i * 7 + 1);
  EXPECT_TRUE(Run(p, blk::Op::kWrite, 10, 2, w).ok());
  EXPECT_TRUE(Run(p, blk::Op::kRead, 10, 2, r).ok());
  EXPECT_EQ(r, w);
  EXPECT_TRUE(Run(p, blk::Op::kFlush, 0, 0, {}).ok());
  EXPECT_TRUE(Run(p, blk::Op::kWriteZeroes, 11, 1, {}).ok());
  EXPECT_TRUE(Run(p, blk::Op::kRead, 10, 2, r).ok());
  EXPECT_TRUE(std::equal(r.begin(), r.begin() + 4096, w.begin()));
  EXPECT_TRUE(std::all_of(r.begin() + 4096, r.end(), [](uint8_t b) { return b == 0; }));
  EXPECT_TRUE(Run(p, blk::Op::kDeallocate, 10, 1, {}).ok());
  EXPECT_EQ(p->TEST_Counters().submitted, 6u);
  EXPECT_EQ(p->TEST_Counters().completed_error, 0u);
}

TEST_F(PathNsTest, NoCapacityCheckOnThePath) {
  Start();
  PathNs* p = scanner_->path(1);
  std::vector<uint8_t> buf(512);
  // Beyond the namespace: the controller answers (LBA out of range), the path does not judge.
  nvme::NvmeStatus st = Run(p, blk::Op::kRead, (1 << 20) / 512, 1, buf);
  EXPECT_EQ(st.code(), nvme::sc::kLbaOutOfRange);
}

TEST_F(PathNsTest, OversizedBioFailsWithInvalidField) {
  Start();
  PathNs* p = scanner_->path(1);
  const uint32_t blocks = ctrl_->max_transfer_bytes() / 512 + 1;
  std::vector<uint8_t> buf(size_t{blocks} * 512);
  nvme::NvmeStatus st = Run(p, blk::Op::kWrite, 0, blocks, buf);
  EXPECT_EQ(st.code(), nvme::sc::kInvalidField);
  EXPECT_TRUE(st.dnr());
  EXPECT_EQ(p->TEST_Counters().too_large, 1u);
}

TEST_F(PathNsTest, ControllerDownIsAPathError) {
  Start();
  PathNs* p = scanner_->path(1);
  OnTarget([&] { ASSERT_TRUE(target_->SetPortEnabled(1, false).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return !ctrl_->live(); }, 2s));
  EXPECT_NE(p->state().ctrl, CtrlState::kLive) << "the path did not follow its controller";
  std::vector<uint8_t> buf(512);
  nvme::NvmeStatus st = Run(p, blk::Op::kRead, 0, 1, buf);
  EXPECT_EQ(st.code(), nvme::sc::kHostPathError);
  OnTarget([&] { ASSERT_TRUE(target_->SetPortEnabled(1, true).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->live() && Settled(); }, 2s));
  EXPECT_EQ(p->state().ctrl, CtrlState::kLive);
  EXPECT_TRUE(Run(p, blk::Op::kRead, 0, 1, buf).ok());
}

TEST_F(PathNsTest, AnaPendingIsClearedByTheLogRead) {
  Start();
  PathNs* p = scanner_->path(3);
  EXPECT_EQ(p->state().ana, nvme::AnaState::kNonOptimized);
  const uint64_t reads = scanner_->counters().ana_reads;
  h0_->Post([&] { p->OnPathError(nvme::PathAction::kAnaPending); });
  world_.RunUntil([&] { return p->state().ana_pending; }, 1s);
  EXPECT_TRUE(p->state().ana_pending);
  ASSERT_TRUE(world_.RunUntil([&] { return !p->state().ana_pending; }, 1s));
  EXPECT_EQ(scanner_->counters().ana_reads, reads + 1);
  EXPECT_EQ(p->state().ana, nvme::AnaState::kNonOptimized);
}

TEST_F(PathNsTest, NamespaceGoneRescansAndComesBackReady) {
  Start();
  PathNs* p = scanner_->path(1);
  const uint64_t scans = scanner_->counters().scans;
  h0_->Post([&] { p->OnPathError(nvme::PathAction::kNamespaceGone); });
  world_.RunUntil([&] { return !p->state().ready; }, 1s);
  ASSERT_TRUE(world_.RunUntil([&] { return p->state().ready; }, 1s));
  EXPECT_EQ(scanner_->counters().scans, scans + 1);
  EXPECT_EQ(scanner_->path(1), p) << "the same namespace must keep its path";
}

}  // namespace
}  // namespace nvmpath::host::testing
