// mpath::Head over in-process paths on reactor::Sim: policies, ANA preference, failover and
// requeue, waiting for a path and the "no path" error, capacity changes, removal, shutdown and
// quiescence (no message of the head left in flight before it may be destroyed) — and the two
// seed scenarios (shared/seeds/): per-path QoS state never travels back to the head on failover,
// and a path removed while I/O is dispatched to it never turns into an application error while
// another path is usable.
#include "mpath/head.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "head_rig.h"

namespace nvmpath::blk {
// Breaks a Bio's head bookkeeping on purpose, to show the head's checks firing.
class BioTestPeer {
 public:
  static void SetState(Bio& bio, BioState state) { bio.state_ = state; }
};
}  // namespace nvmpath::blk

namespace nvmpath::mpath {
namespace {

TEST_F(HeadTest, RoundRobinSpreadsOverOptimizedPathsOnly) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin});
  AddPath(Opts("a"));
  AddPath(Opts("b"));
  AddPath(Opts("c", AnaState::kNonOptimized));
  Submit(100);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(errors_.empty());
  EXPECT_EQ(PathIos("a"), 50u);
  EXPECT_EQ(PathIos("b"), 50u);
  EXPECT_EQ(PathIos("c"), 0u);
}

TEST_F(HeadTest, NumaStaysOnOnePath) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kNuma});
  AddPath(Opts("a"));
  AddPath(Opts("b"));
  Submit(40);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(PathIos("a") + PathIos("b"), 40u);
  EXPECT_TRUE(PathIos("a") == 40 || PathIos("b") == 40);
}

TEST_F(HeadTest, QueueDepthPrefersTheLessBusyPath) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kQueueDepth});
  MemPathOptions slow = Opts("slow");
  slow.latency = std::chrono::microseconds(400);
  AddPath(slow);
  AddPath(Opts("fast"));
  // Keep 8 in flight for a while: the slow path holds its I/Os longer, so it gets fewer.
  for (int round = 0; round < 50; ++round) {
    Submit(8);
    world_.RunFor(std::chrono::microseconds(50));
  }
  ASSERT_TRUE(RunUntilDone());
  EXPECT_GT(PathIos("fast"), 3 * PathIos("slow"));
}

TEST_F(HeadTest, NonOptimizedCarriesIoOnlyWithoutAnOptimizedPath) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin});
  MemPath* a = AddPath(Opts("a"));
  AddPath(Opts("b", AnaState::kNonOptimized));
  OnHome([a] { a->SetAnaState(AnaState::kInaccessible); });
  world_.RunFor(std::chrono::milliseconds(1));
  Submit(20);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(errors_.empty());
  EXPECT_EQ(PathIos("b"), 20u);
}

TEST_F(HeadTest, AnaErrorFailsOverAndMarksThePathPending) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kNuma});
  MemPath* a = AddPath(Opts("a"));
  AddPath(Opts("b", AnaState::kNonOptimized));
  // The target flips a; the host hears of it only later, so in-flight and new I/O meet ANA
  // statuses first.
  OnHome([a] { a->SetAnaState(AnaState::kInaccessible); });
  Submit(30);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(errors_.empty()) << errors_[0];
  EXPECT_GT(Stats().head.failovers, 0u);
  EXPECT_EQ(Stats().head.completed, 30u);
}

TEST_F(HeadTest, WaitsWhileAControllerReconnectsThenCompletes) {
  SetUpRig(HeadOptions{.name = "h"});
  MemPath* a = AddPath(Opts("a"));
  OnHome([a] { a->LoseController(); });
  Submit(10);
  world_.RunFor(std::chrono::milliseconds(5));
  EXPECT_EQ(done_, 0u) << "I/O waits while the only path may come back";
  OnHome([a] { a->RestoreController(); });
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(errors_.empty());
}

// The metrics' nvmpath_head_no_usable_path_seconds_total: only stretches after the head first
// had a usable path count, and the current stretch counts while it lasts.
TEST_F(HeadTest, TimeWithoutUsablePathAddsUpTheOutages) {
  SetUpRig(HeadOptions{.name = "h"});
  world_.RunFor(std::chrono::seconds(3));  // start-up without a path: not an outage
  MemPath* a = AddPath(Opts("a"));
  Duration t{-1};
  OnHome([&] { t = head_->time_without_usable_path(); });
  EXPECT_EQ(t, Duration::zero());
  OnHome([a] { a->LoseController(); });
  world_.RunFor(std::chrono::seconds(2));
  OnHome([&] { t = head_->time_without_usable_path(); });
  EXPECT_GE(t, std::chrono::seconds(2)) << "the current stretch counts";
  EXPECT_LT(t, std::chrono::milliseconds(2010));
  OnHome([a] { a->RestoreController(); });
  world_.RunFor(std::chrono::seconds(5));
  OnHome([a] { a->LoseController(); });
  world_.RunFor(std::chrono::seconds(1));
  OnHome([a] { a->RestoreController(); });
  OnHome([&] { t = head_->time_without_usable_path(); });
  EXPECT_GE(t, std::chrono::seconds(3));
  EXPECT_LT(t, std::chrono::milliseconds(3010)) << "time with a usable path is not counted";
}

TEST_F(HeadTest, ControllerLossFailsOverInFlightIoAtOnce) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kNuma});
  MemPathOptions slow = Opts("a");
  slow.latency = std::chrono::milliseconds(10);
  MemPath* a = AddPath(slow);
  AddPath(Opts("b"));
  Submit(16);
  world_.RunFor(std::chrono::microseconds(100));
  OnHome([a] { a->LoseController(); });
  // Far less than a's 10 ms latency: the abort, not the command, ended the attempts.
  ASSERT_TRUE(RunUntilDone(std::chrono::milliseconds(2)));
  EXPECT_TRUE(errors_.empty());
  EXPECT_GT(Stats().head.failovers, 0u);
  EXPECT_EQ(Stats().head.completed, 16u);
}

TEST_F(HeadTest, NoPathLeftFailsWithAMessageNamingEveryPath) {
  SetUpRig(HeadOptions{.name = "nqn.test:ns1"});
  MemPath* a = AddPath(Opts("127.0.0.1:4420"));
  MemPath* b = AddPath(Opts("127.0.0.1:4421"));
  OnHome([a, b] {
    a->LoseController();
    a->ExpireFastFail();
    b->LoseController();
    b->ExpireFastFail();
  });
  Submit(1);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("no usable path to nqn.test:ns1"), std::string::npos) << errors_[0];
  EXPECT_NE(errors_[0].find("path 127.0.0.1:4420 connecting (fast-fail expired)"),
            std::string::npos) << errors_[0];
  EXPECT_EQ(bios_[0]->status.code(), Code::kNoPath);
}

TEST_F(HeadTest, QueueTimeoutBoundsTheWait) {
  SetUpRig(HeadOptions{.name = "nqn.test:ns1", .queue_timeout = std::chrono::seconds(1)});
  MemPath* a = AddPath(Opts("p1"));
  OnHome([a] { a->SetAnaState(AnaState::kInaccessible); });
  world_.RunFor(std::chrono::milliseconds(1));
  Submit(3);
  world_.RunFor(std::chrono::milliseconds(900));
  EXPECT_EQ(done_, 0u);
  ASSERT_TRUE(RunUntilDone(std::chrono::milliseconds(200)));
  ASSERT_EQ(errors_.size(), 3u);
  EXPECT_NE(errors_[0].find("for 1s: path p1 live, ANA inaccessible"), std::string::npos)
      << errors_[0];
}

// Regression (found by the e2e fault tests): one plain path error, with no state change to follow,
// must not keep other I/O off the optimized path. Only the failed Bio avoids it.
TEST_F(HeadTest, OnePathErrorDoesNotSteerOtherIoAway) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kNuma});
  MemPath* a = AddPath(Opts("a"));
  AddPath(Opts("b", AnaState::kNonOptimized));
  OnHome([a] { a->FailNext(1, nvme::NvmeStatus::Of(nvme::sc::kInternalPathError)); });
  Submit(1);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(PathIos("b"), 1u) << "the failed Bio went to the other path";
  Submit(20);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(errors_.empty());
  EXPECT_EQ(PathIos("a"), 21u) << "everything else stays on the optimized path";
  EXPECT_EQ(PathIos("b"), 1u);
}

TEST_F(HeadTest, TransientErrorRetriesOnTheSamePath) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin});
  MemPath* a = AddPath(Opts("a"));
  OnHome([a] { a->FailNext(2, nvme::NvmeStatus::Of(nvme::sc::kInternalError)); });
  Submit(1);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(errors_.empty());
  EXPECT_EQ(Stats().head.retries, 2u);
  EXPECT_EQ(Stats().head.failovers, 0u);
}

TEST_F(HeadTest, DnrAndExhaustedRetriesFailToTheApplication) {
  SetUpRig(HeadOptions{.name = "h"});
  MemPath* a = AddPath(Opts("a"));
  AddPath(Opts("b"));
  OnHome([a] {
    a->FailNext(1, nvme::NvmeStatus::Of(nvme::sc::kInvalidField, /*dnr=*/true));
  });
  Submit(1);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("Invalid Field in Command"), std::string::npos);

  OnHome([this] { paths_[1]->FailNext(100, nvme::NvmeStatus::Of(nvme::sc::kInternalError)); });
  OnHome([this] { paths_[0]->FailNext(100, nvme::NvmeStatus::Of(nvme::sc::kInternalError)); });
  Submit(1);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_EQ(errors_.size(), 2u);
  EXPECT_EQ(Stats().head.retries, nvme::kMaxRetries);
}

TEST_F(HeadTest, RangeIsCheckedOnceAgainstTheHeadCapacity) {
  SetUpRig(HeadOptions{.name = "h"});
  AddPath(Opts("a"));
  auto b = std::make_unique<Bio>();
  std::vector<uint8_t> buf(512 * 4);
  b->op = blk::Op::kRead;
  b->lba = 1022;
  b->nblocks = 4;
  b->data = buf;
  b->on_done = [this](Bio&) { ++done_; };
  Bio* bp = b.get();
  bios_.push_back(std::move(b));
  reactors_[0]->Post([this, bp] { head_->Channel(0).Submit(bp); });
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(bp->status.code(), Code::kOutOfRange);
  EXPECT_EQ(PathIos("a"), 0u) << "an out-of-range Bio never reaches a path";
}

TEST_F(HeadTest, PathWithADifferentCapacityIsNotUsableUntilItCatchesUp) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin});
  MemPathOptions slow_notice = Opts("late");
  slow_notice.notice_delay = std::chrono::milliseconds(5);
  AddPath(Opts("early"));
  MemPath* l = AddPath(slow_notice);
  OnHome([this, l] {
    ns_->Resize(2048);
    paths_[0]->NoticeResize();
    l->NoticeResize();
  });
  world_.RunFor(std::chrono::milliseconds(1));
  EXPECT_EQ(head_->capacity_blocks(), 2048u);
  Submit(10);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(PathIos("late"), 0u);
  world_.RunFor(std::chrono::milliseconds(10));
  Submit(10);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(PathIos("late"), 5u);
}

// Seed 000_e7fa2f9d4a0f70e0: a Bio admitted by path A's QoS limiter fails over to path B (the head
// has no limiter). A's limiter gets every ticket back exactly once, B's accounting counts only
// B's own attempts, and nothing is in flight anywhere at quiesce.
TEST_F(HeadTest, Seed000QosTicketStaysWithThePathOnFailover) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin}, /*reactors=*/2);
  MemPathOptions ao = Opts("a");
  ao.qos.max_in_flight = 2;
  MemPathOptions bo = Opts("b");
  bo.qos.max_in_flight = 64;
  MemPath* a = AddPath(ao);
  MemPath* b = AddPath(bo);
  OnHome([a] { a->FailNext(1000, nvme::NvmeStatus::Of(nvme::sc::kInternalPathError)); });
  Submit(100, blk::Op::kWrite, 0);
  Submit(100, blk::Op::kWrite, 1);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(errors_.empty());
  HeadStats st = Stats();
  EXPECT_GT(st.head.failovers, 0u);
  uint64_t a_ios = PathIos("a"), b_ios = PathIos("b");
  uint64_t a_issued = 0, a_released = 0, b_issued = 0, b_released = 0;
  for (unsigned r = 0; r < 2; ++r) {
    a_issued += a->TEST_Limiter(r)->issued();
    a_released += a->TEST_Limiter(r)->released();
    b_issued += b->TEST_Limiter(r)->issued();
    b_released += b->TEST_Limiter(r)->released();
    EXPECT_EQ(a->TEST_Limiter(r)->in_flight(), 0u);
    EXPECT_EQ(b->TEST_Limiter(r)->in_flight(), 0u);
  }
  EXPECT_EQ(a_issued, a_ios);
  EXPECT_EQ(a_released, a_ios);
  EXPECT_EQ(b_issued, b_ios) << "B's limiter saw exactly B's attempts";
  EXPECT_EQ(b_released, b_ios);
  EXPECT_EQ(a->TEST_InFlight() + b->TEST_InFlight(), 0u);
  for (auto& p : st.paths) EXPECT_EQ(p.counters.in_flight, 0u) << p.name;
  EXPECT_EQ(st.head.outstanding, 0u);
  EXPECT_EQ(st.head.completed, 200u);
}

// Seed 001_aba0d76cf883c16f: path A is removed (its namespace goes away, capacity 0, it leaves the
// path set) while Bios are being dispatched to it. With B usable, no error reaches the
// application and every Bio completes exactly once.
TEST_F(HeadTest, Seed001RemovalWhileDispatchingNeverFailsIo) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin}, /*reactors=*/2);
  MemPath* a = AddPath(Opts("a"));
  AddPath(Opts("b"));
  std::vector<int> completions;
  bool removed = false;
  for (int round = 0; round < 40; ++round) {
    Submit(4, blk::Op::kRead, round % 2);
    if (round == 10) {
      OnHome([this, a, &removed] {
        a->Detach();  // the namespace is gone behind A: capacity 0 when the host notices
        head_->RemovePath(a, [&removed] { removed = true; });
      });
    }
    world_.RunFor(std::chrono::microseconds(7));
  }
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(removed);
  EXPECT_TRUE(errors_.empty()) << errors_.front();
  EXPECT_EQ(Stats().head.completed, bios_.size());
  EXPECT_EQ(head_->path_count(), 1u);
  for (auto& b : bios_) EXPECT_EQ(b->state(), blk::BioState::kDone);
}

// A path that completes one attempt twice: the head's exactly-once check fires.
class DoubleCompletingPath final : public blk::Path, private blk::PathChannel {
 public:
  explicit DoubleCompletingPath(reactor::Reactor* r) : r_(r) {
    state_.ctrl = blk::CtrlState::kLive;
    state_.ready = true;
    state_.capacity_blocks = 1024;
  }
  const std::string& name() const override { return name_; }
  blk::PathChannel& Channel(unsigned) override { return *this; }
  unsigned channel_count() const override { return 1; }
  reactor::Reactor* reactor() const override { return r_; }
  void Submit(Bio* bio, blk::AttemptSink* sink) override {
    r_->Post([bio, sink] {
      sink->OnAttemptDone(bio, nvme::NvmeStatus());
      sink->OnAttemptDone(bio, nvme::NvmeStatus());
    });
  }
  blk::PathState state() const override { return state_; }
  void OnPathError(nvme::PathAction) override {}
  void SetObserver(blk::PathObserver*) override {}

 private:
  reactor::Reactor* r_;
  std::string name_ = "double";
  blk::PathState state_;
};

// ---- lifecycle: Shutdown and WhenQuiet end by completion ----

// Shutdown's `done` runs only once no message the head posted is on its way. It used to run
// inside the install acknowledgement that ended the grace period — with that message, and
// others of the chain, still counted — so its caller had to turn every reactor until
// messages_in_flight() was 0 before it could destroy the head.
TEST_F(HeadTest, ShutdownReportsOnlyOnceNoHeadMessageIsInFlight) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin}, 3);
  AddPath(Opts("a"));
  AddPath(Opts("b"));
  Submit(30, blk::Op::kRead, 1);
  Submit(30, blk::Op::kRead, 2);
  ASSERT_TRUE(RunUntilDone());
  bool done = false;
  int in_flight_at_done = -1;
  reactors_[0]->Post([&] {
    head_->Shutdown([&] {
      done = true;
      in_flight_at_done = head_->messages_in_flight();
    });
  });
  ASSERT_TRUE(world_.RunUntil([&] { return done; }, std::chrono::seconds(1)));
  EXPECT_EQ(in_flight_at_done, 0);
  if (in_flight_at_done != 0) return;
  head_.reset();  // at once: nothing of the head may be left to run
  world_.RunUntilIdle(1'000'000);
}

// CollectStats reports from inside its last hop (its own message still counted); WhenQuiet
// reports after it, never inside the call that asked. Destroying the head at the first point
// would fire (HeadDeathTest below); at the second it must not.
TEST_F(HeadTest, WhenQuietRunsOnceCollectStatsHopsAreOver) {
  SetUpRig(HeadOptions{.name = "h"}, 3);
  AddPath(Opts("a"));
  int at_stats = -1;
  int at_quiet = -1;
  bool inside_call = true;
  reactors_[0]->Post([&] {
    head_->CollectStats([&](HeadStats) { at_stats = head_->messages_in_flight(); });
    head_->WhenQuiet([&] {
      at_quiet = head_->messages_in_flight();
      EXPECT_FALSE(inside_call);
    });
    inside_call = false;
  });
  ASSERT_TRUE(world_.RunUntil([&] { return at_quiet >= 0; }, std::chrono::seconds(1)));
  EXPECT_GT(at_stats, 0);
  EXPECT_EQ(at_quiet, 0);
}

// A shard that ends the last message while home waits hands it to home, so the head is seen
// quiet only on home. Bios failed at submission on shards 1 and 2 (each completion is a message
// on its shard) race a WhenQuiet on home, over many interleavings of the seeded scheduler.
TEST_F(HeadTest, WhenQuietSeesMessagesEndingOnShards) {
  SetUpRig(HeadOptions{.name = "h"}, 3);
  AddPath(Opts("a"));
  for (int round = 0; round < 50; ++round) {
    for (unsigned r : {1u, 2u}) {
      auto b = std::make_unique<Bio>();
      b->lba = 5000;  // beyond the 1024-block namespace: fails inside Submit
      b->nblocks = 1;
      bufs_.emplace_back(512);
      b->data = bufs_.back();
      b->on_done = [this](Bio& bio) {
        ++done_;
        EXPECT_EQ(bio.status.code(), Code::kOutOfRange);
      };
      Bio* bp = b.get();
      bios_.push_back(std::move(b));
      reactors_[r]->Post([this, bp, r] { head_->Channel(r).Submit(bp); });
    }
    int at_quiet = -1;
    reactors_[0]->Post([&] { head_->WhenQuiet([&] { at_quiet = head_->messages_in_flight(); }); });
    ASSERT_TRUE(world_.RunUntil([&] { return at_quiet >= 0; }, std::chrono::seconds(1)));
    EXPECT_EQ(at_quiet, 0);
  }
  ASSERT_TRUE(RunUntilDone());
}

TEST(HeadDeathTest, DestroyedWithAMessageInFlightFires) {
  EXPECT_DEATH(
      {
        reactor::SimWorld world(1);
        reactor::Reactor* r0 = world.AddReactor();
        reactor::Reactor* r1 = world.AddReactor();
        auto head = std::make_unique<Head>(HeadOptions{}, std::vector<reactor::Reactor*>{r0, r1}, 0);
        // CollectStats' `done` runs inside its last hop: too early to destroy the head.
        r0->Post([&] { head->CollectStats([&](HeadStats) { head.reset(); }); });
        world.RunFor(std::chrono::microseconds(10));
      },
      "head destroyed with messages in flight");
}

TEST(HeadDeathTest, AnAttemptCompletedTwiceFires) {
  EXPECT_DEATH(
      {
        reactor::SimWorld world(1);
        reactor::Reactor* r = world.AddReactor();
        Head head(HeadOptions{}, {r}, 0);
        DoubleCompletingPath path(r);
        Bio bio;
        std::vector<uint8_t> buf(512);
        bio.nblocks = 1;
        bio.data = buf;
        bio.on_done = [](Bio&) {};
        r->Post([&] {
          (void)head.AddPath(&path);
        });
        world.RunFor(std::chrono::microseconds(10));
        r->Post([&] { head.Channel(0).Submit(&bio); });
        world.RunFor(std::chrono::microseconds(10));
      },
      "attempt completed for a Bio not in flight");
}

TEST(HeadDeathTest, SubmittingABioTheHeadStillOwnsFires) {
  EXPECT_DEATH(
      {
        reactor::SimWorld world(1);
        reactor::Reactor* r = world.AddReactor();
        Head head(HeadOptions{}, {r}, 0);
        Bio bio;
        blk::BioTestPeer::SetState(bio, blk::BioState::kInFlight);
        r->Post([&] { head.Channel(0).Submit(&bio); });
        world.RunFor(std::chrono::microseconds(10));
      },
      "Bio submitted while the head still owns it");
}

}  // namespace
}  // namespace nvmpath::mpath
