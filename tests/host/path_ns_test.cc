// host::PathNs against the project's target on reactor::Sim.
//
// Goal: every operation a head can send (read, write, flush, write zeroes, deallocate) becomes
// the right NVMe command for this NSID and block size and completes exactly once, later, through
// the sink, with no attempt left in flight; an oversized Bio fails with Invalid Field (DNR); a
// dead controller fails attempts with a path error; OnPathError marks the path and recovers.
// Stale-write fencing: a data-modifying attempt whose connection was lost (0x371) goes back to
// the sink only after the controller's write fence (CQT from Identify, or fence_delay), while
// reads, flushes and never-sent commands (0x370) go back at once; the test option turns it off.
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
      p->Channel(0).Submit(&bio_, &sink_);
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

// ---- stale-write fencing ----

// Records when each attempt came back, in virtual time.
struct TimedSink : blk::AttemptSink {
  reactor::Reactor* clock = nullptr;
  std::vector<nvme::NvmeStatus> done;
  std::vector<TimePoint> at;
  void OnAttemptDone(blk::Bio*, nvme::NvmeStatus st) override {
    done.push_back(st);
    at.push_back(clock->now());
  }
};

class PathNsFenceTest : public ScanFixture {
 protected:
  // ScanFixture::Start with the target's CQT and the controller options adjusted.
  void StartFenced(Duration cqt, std::function<void(ControllerOptions&)> adjust = {}) {
    target::TargetConfig c = Config();
    c.cqt = cqt;
    auto t = target::Target::Create(c, {t_});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    ASSERT_TRUE(target_->Start().ok());
    ControllerOptions o;
    o.name = "c1";
    o.address = "127.0.0.1";
    o.port = 4420;
    o.subnqn = kScanSubnqn;
    o.hostnqn = kScanHostnqn;
    o.reconnect_delay = 200ms;
    o.ctrl_loss_tmo = 5s;
    if (adjust) adjust(o);
    ctrl_ = std::make_unique<Controller>(o, std::vector<reactor::Reactor*>{h0_}, 0);
    scanner_ = std::make_unique<NamespaceScanner>(ctrl_.get(), &listener_,
                                                  std::vector<reactor::Reactor*>{h0_}, 0);
    std::optional<Status> st;
    ctrl_->Start([&](Status s) { st = s; });
    ASSERT_TRUE(world_.RunUntil([&] { return st.has_value(); }, 10s));
    ASSERT_TRUE(st->ok()) << st->ToString();
    ASSERT_TRUE(world_.RunUntil([&] { return listener_.scans_done > 0 && Settled(); }, 2s));
    path_ = scanner_->path(1);
    ASSERT_NE(path_, nullptr);
    sink_.clock = h0_;
  }

  // Submits one attempt on nsid 1 (512 B blocks) without waiting for it.
  void Submit(blk::Op op, uint64_t lba) {
    auto bio = std::make_unique<blk::Bio>();
    bio->op = op;
    bio->lba = lba;
    bio->nblocks = blk::HasRange(op) ? 1 : 0;
    if (op == blk::Op::kRead || op == blk::Op::kWrite) bio->data = buf_;
    blk::Bio* raw = bio.get();
    bios_.push_back(std::move(bio));
    h0_->Post([this, raw] { path_->Channel(0).Submit(raw, &sink_); });
  }

  // Breaks the association with commands outstanding (as a command timeout or a socket error
  // would); returns when the host lost them.
  TimePoint LoseConnection() {
    TimePoint lost{};
    h0_->Post([&] {
      lost = h0_->now();
      ctrl_->Reset(Status(Code::kUnavailable, "test: connection lost"));
    });
    world_.RunUntil([&] { return lost != TimePoint{}; }, 1s);
    return lost;
  }

  // Parks the next write on the target, submits it, loses the connection; returns the time the
  // host lost it and waits until the attempt came back.
  Duration LostWriteHeldFor() {
    OnTarget([&] { ASSERT_TRUE(target_->SetLateWrites(1, 1, 10ms).ok()); });
    const size_t before = sink_.done.size();
    Submit(blk::Op::kWrite, 7);
    world_.RunFor(20ms);
    EXPECT_EQ(sink_.done.size(), before) << "the late write was answered";
    const TimePoint lost = LoseConnection();
    EXPECT_TRUE(world_.RunUntil([&] { return sink_.done.size() > before; }, 5s));
    if (sink_.done.size() <= before) return Duration(-1);
    EXPECT_EQ(sink_.done.back().code(), nvme::sc::kAbortedByHost);
    EXPECT_EQ(path_->TEST_InFlight(), 0u);
    return sink_.at.back() - lost;
  }

  PathNs* path_ = nullptr;
  TimedSink sink_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(512, 0x5A);
  std::vector<std::unique_ptr<blk::Bio>> bios_;
};

TEST_F(PathNsFenceTest, CqtIsDecodedFromIdentify) {
  StartFenced(300ms);
  EXPECT_EQ(ctrl_->identify().cqt, 300);
  EXPECT_EQ(ctrl_->write_fence(), 300ms);
}

TEST_F(PathNsFenceTest, LostWriteIsHeldForCqt) {
  StartFenced(300ms);
  OnTarget([&] { ASSERT_TRUE(target_->SetLateWrites(1, 1, 10ms).ok()); });
  Submit(blk::Op::kWrite, 7);
  world_.RunFor(20ms);
  ASSERT_TRUE(sink_.done.empty());
  const TimePoint lost = LoseConnection();
  world_.RunFor(250ms);
  EXPECT_TRUE(sink_.done.empty()) << "handed back before the fence expired";
  EXPECT_EQ(path_->TEST_InFlight(), 1u) << "a fenced attempt must stay on the path";
  ASSERT_TRUE(world_.RunUntil([&] { return !sink_.done.empty(); }, 1s));
  EXPECT_EQ(sink_.done[0].code(), nvme::sc::kAbortedByHost);
  EXPECT_GE(sink_.at[0] - lost, 300ms);
  EXPECT_LT(sink_.at[0] - lost, 310ms);
  EXPECT_EQ(path_->TEST_InFlight(), 0u);
  EXPECT_EQ(path_->TEST_Counters().fenced_writes, 1u);
}

TEST_F(PathNsFenceTest, LostReadAndFlushComeBackAtOnce) {
  StartFenced(300ms);
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(1, true).ok()); });
  Submit(blk::Op::kRead, 3);
  Submit(blk::Op::kFlush, 0);
  world_.RunFor(20ms);
  ASSERT_TRUE(sink_.done.empty());
  const TimePoint lost = LoseConnection();
  ASSERT_TRUE(world_.RunUntil([&] { return sink_.done.size() == 2; }, 1s));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(sink_.done[i].code(), nvme::sc::kAbortedByHost);
    EXPECT_LT(sink_.at[i] - lost, 5ms);
  }
  EXPECT_EQ(path_->TEST_Counters().fenced_writes, 0u);
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(1, false).ok()); });
}

// Write Zeroes and Deallocate change data too (the target's stall holds any response).
TEST_F(PathNsFenceTest, LostWriteZeroesAndDeallocateAreHeld) {
  StartFenced(300ms);
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(1, true).ok()); });
  Submit(blk::Op::kWriteZeroes, 3);
  Submit(blk::Op::kDeallocate, 4);
  world_.RunFor(20ms);
  const TimePoint lost = LoseConnection();
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(1, false).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return sink_.done.size() == 2; }, 1s));
  for (size_t i = 0; i < 2; ++i) EXPECT_GE(sink_.at[i] - lost, 300ms);
  EXPECT_EQ(path_->TEST_Counters().fenced_writes, 2u);
}

TEST_F(PathNsFenceTest, NeverSentWriteComesBackAtOnce) {
  StartFenced(300ms);
  OnTarget([&] { ASSERT_TRUE(target_->SetPortEnabled(1, false).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return !ctrl_->live(); }, 2s));
  world_.RunFor(10ms);
  TimePoint sent{};
  h0_->Post([&] { sent = h0_->now(); });
  Submit(blk::Op::kWrite, 7);
  ASSERT_TRUE(world_.RunUntil([&] { return !sink_.done.empty(); }, 1s));
  EXPECT_EQ(sink_.done[0].code(), nvme::sc::kHostPathError);
  EXPECT_LT(sink_.at[0] - sent, 5ms);
  EXPECT_EQ(path_->TEST_Counters().fenced_writes, 0u);
  OnTarget([&] { ASSERT_TRUE(target_->SetPortEnabled(1, true).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->live() && Settled(); }, 2s));
}

TEST_F(PathNsFenceTest, FenceDelayOverridesCqt) {
  StartFenced(300ms, [](ControllerOptions& o) { o.fence_delay = 50ms; });
  EXPECT_EQ(ctrl_->write_fence(), 50ms);
  const Duration held = LostWriteHeldFor();
  EXPECT_GE(held, 50ms);
  EXPECT_LT(held, 60ms);
  EXPECT_EQ(path_->TEST_Counters().fenced_writes, 1u);
}

TEST_F(PathNsFenceTest, FenceDelayCoversATargetWithoutCqt) {
  StartFenced(0ms, [](ControllerOptions& o) { o.fence_delay = 80ms; });
  EXPECT_EQ(ctrl_->identify().cqt, 0);
  const Duration held = LostWriteHeldFor();
  EXPECT_GE(held, 80ms);
  EXPECT_LT(held, 90ms);
}

TEST_F(PathNsFenceTest, NoCqtAndNoFenceDelayMeansNoFence) {
  StartFenced(0ms);
  EXPECT_EQ(ctrl_->write_fence(), Duration::zero());
  const Duration held = LostWriteHeldFor();
  EXPECT_GE(held, Duration::zero());
  EXPECT_LT(held, 5ms);
  EXPECT_EQ(path_->TEST_Counters().fenced_writes, 0u);
}

TEST_F(PathNsFenceTest, TestOptionTurnsTheFenceOff) {
  StartFenced(300ms, [](ControllerOptions& o) { o.TEST_disable_write_fence = true; });
  EXPECT_EQ(ctrl_->identify().cqt, 300);
  EXPECT_EQ(ctrl_->write_fence(), Duration::zero());
  const Duration held = LostWriteHeldFor();
  EXPECT_GE(held, Duration::zero());
  EXPECT_LT(held, 5ms);
  EXPECT_EQ(path_->TEST_Counters().fenced_writes, 0u);
}

// A fenced attempt is still in flight on its path: destroying the path then must fire the
// path's invariant (its owner has to drain first, as the head's removal does).
TEST_F(PathNsFenceTest, DestroyingAPathWithAFencedWriteFires) {
  StartFenced(300ms);
  OnTarget([&] { ASSERT_TRUE(target_->SetLateWrites(1, 1, 10ms).ok()); });
  Submit(blk::Op::kWrite, 7);
  world_.RunFor(20ms);
  LoseConnection();
  world_.RunFor(50ms);
  ASSERT_EQ(path_->TEST_InFlight(), 1u);
  // The recording listener finishes a removal at once, so RemoveAll destroys the path.
  EXPECT_DEATH(scanner_->RemoveAll(nullptr), "attempts in flight");
  ASSERT_TRUE(world_.RunUntil([&] { return !sink_.done.empty(); }, 1s));
}

}  // namespace
}  // namespace nvmpath::host::testing
