// mpath::Head's statistics over in-process paths on reactor::Sim (virtual time, so latencies and
// gaps are known): I/Os and bytes by operation, errors by class and the last error with its time,
// attempt and application latency histograms, failovers out and in, the failover gap (recorded
// when I/O fails over and completes elsewhere, never otherwise), and the per-reactor copies
// merged on read.
#include <gtest/gtest.h>

#include "head_rig.h"

namespace nvmpath::mpath {
namespace {

using blk::ErrorClass;
using blk::OpClass;
using nvme::NvmeStatus;

const PathStats& PathNamed(const HeadStats& st, const std::string& name) {
  for (const PathStats& p : st.paths) {
    if (p.name == name) return p;
  }
  ADD_FAILURE() << "no path " << name;
  static const PathStats kNone;
  return kNone;
}

uint64_t Errors(const ErrorCounts& e, ErrorClass c) { return e[static_cast<int>(c)]; }
const OpCount& Op(const OpCounts& o, OpClass c) { return o[static_cast<int>(c)]; }

TEST_F(HeadTest, CountsIosAndBytesByOperation) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin});
  AddPath(Opts("a"));
  AddPath(Opts("b"));
  Submit(6, blk::Op::kRead);
  Submit(4, blk::Op::kWrite);
  Submit(2, blk::Op::kFlush);
  Submit(2, blk::Op::kWriteZeroes);
  Submit(2, blk::Op::kDeallocate);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(errors_.empty()) << errors_[0];
  const HeadStats st = Stats();
  EXPECT_EQ(Op(st.head.by_op, OpClass::kRead).ios, 6u);
  EXPECT_EQ(Op(st.head.by_op, OpClass::kRead).bytes, 6u * 512);
  EXPECT_EQ(Op(st.head.by_op, OpClass::kWrite).ios, 4u);
  EXPECT_EQ(Op(st.head.by_op, OpClass::kWrite).bytes, 4u * 512);
  // Flushes have no range; write zeroes and deallocate count the range they cover.
  EXPECT_EQ(Op(st.head.by_op, OpClass::kOther).ios, 6u);
  EXPECT_EQ(Op(st.head.by_op, OpClass::kOther).bytes, 4u * 512);
  // The paths' counts by operation add up to their totals and to the head's.
  OpCounts sum{};
  for (const PathStats& p : st.paths) {
    uint64_t ios = 0, bytes = 0;
    for (const OpCount& o : p.counters.by_op) {
      ios += o.ios;
      bytes += o.bytes;
    }
    EXPECT_EQ(ios, p.counters.ios) << p.name;
    EXPECT_EQ(bytes, p.counters.bytes) << p.name;
    EXPECT_GT(p.counters.ios, 0u) << p.name;
    AddOps(sum, p.counters.by_op);
  }
  for (int c = 0; c < blk::kOpClassCount; ++c) {
    EXPECT_EQ(sum[c].ios, st.head.by_op[c].ios) << c;
    EXPECT_EQ(sum[c].bytes, st.head.by_op[c].bytes) << c;
  }
  EXPECT_FALSE(st.last_error.set);
  EXPECT_EQ(st.failover_gap.count(), 0u) << "nothing failed over";
}

TEST_F(HeadTest, ErrorsAreCountedByClassWithTheLastOneAndItsTime) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kNuma});
  MemPath* a = AddPath(Opts("a"));
  AddPath(Opts("b", AnaState::kNonOptimized));
  // An ANA error on a: the path counts it, the I/O fails over to b, the application sees none.
  OnHome([a] { a->FailNext(1, NvmeStatus::Of(nvme::sc::kAnaInaccessible)); });
  Submit(1);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(errors_.empty()) << errors_[0];
  HeadStats st = Stats();
  const PathStats& pa = PathNamed(st, "a");
  EXPECT_EQ(pa.counters.errors, 1u);
  EXPECT_EQ(Errors(pa.counters.errors_by_class, ErrorClass::kAna), 1u);
  ASSERT_TRUE(pa.last_error.set);
  EXPECT_EQ(pa.last_error.error_class, ErrorClass::kAna);
  EXPECT_NE(pa.last_error.what.find("Asymmetric Access Inaccessible"), std::string::npos) << pa.last_error.what;
  EXPECT_GT(pa.last_error.at.count(), 0);
  EXPECT_LE(pa.last_error.at, st.collected_at);
  EXPECT_EQ(st.head.errors, 0u);
  EXPECT_FALSE(st.last_error.set) << "the application saw no error";

  // A media error with DNR fails to the application: the head counts it as media, at its time.
  world_.RunFor(std::chrono::milliseconds(5));  // a's ANA state is read again: usable
  OnHome([a] { a->FailNext(1, NvmeStatus::Of(nvme::sc::kUnrecoveredReadError, /*dnr=*/true)); });
  const TimePoint before = reactors_[0]->now();
  Submit(1);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_EQ(errors_.size(), 1u);
  st = Stats();
  EXPECT_EQ(st.head.errors, 1u);
  EXPECT_EQ(Errors(st.head.errors_by_class, ErrorClass::kMedia), 1u);
  ASSERT_TRUE(st.last_error.set);
  EXPECT_EQ(st.last_error.error_class, ErrorClass::kMedia);
  EXPECT_NE(st.last_error.what.find("Unrecovered Read Error"), std::string::npos)
      << st.last_error.what;
  EXPECT_GE(st.last_error.at, before);
  uint64_t media = 0;
  for (const PathStats& p : st.paths) media += Errors(p.counters.errors_by_class, ErrorClass::kMedia);
  EXPECT_EQ(media, 1u);

  // A range past the end is refused before any path sees it.
  auto b = std::make_unique<Bio>();
  b->op = blk::Op::kRead;
  b->lba = 5000;
  b->nblocks = 1;
  bufs_.emplace_back(512);
  b->data = bufs_.back();
  b->on_done = [this](Bio&) { ++done_; };
  Bio* bp = b.get();
  bios_.push_back(std::move(b));
  reactors_[0]->Post([this, bp] { head_->Channel(0).Submit(bp); });
  ASSERT_TRUE(RunUntilDone());
  st = Stats();
  EXPECT_EQ(Errors(st.head.errors_by_class, ErrorClass::kRejected), 1u);
  EXPECT_EQ(st.last_error.error_class, ErrorClass::kRejected);
  uint64_t head_sum = 0;
  for (uint64_t n : st.head.errors_by_class) head_sum += n;
  EXPECT_EQ(head_sum, st.head.errors);
}

TEST_F(HeadTest, NoPathErrorsAreTheirOwnClass) {
  SetUpRig(HeadOptions{.name = "h"});
  MemPath* a = AddPath(Opts("a"));
  OnHome([a] {
    a->LoseController();
    a->ExpireFastFail();
  });
  Submit(2);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_EQ(errors_.size(), 2u);
  const HeadStats st = Stats();
  EXPECT_EQ(Errors(st.head.errors_by_class, ErrorClass::kNoPath), 2u);
  EXPECT_EQ(st.head.no_path, 2u);
  EXPECT_EQ(st.last_error.error_class, ErrorClass::kNoPath);
  EXPECT_NE(st.last_error.what.find("no usable path to h"), std::string::npos);
}

// I/O waiting for a path is counted as queued while it waits, and no longer once it is served.
TEST_F(HeadTest, QueuedIsTheIoWaitingForAPathNow) {
  SetUpRig(HeadOptions{.name = "h"});
  MemPath* a = AddPath(Opts("a"));
  OnHome([a] { a->LoseController(); });
  Submit(3);
  world_.RunFor(std::chrono::milliseconds(5));
  EXPECT_EQ(Stats().head.queued, 3u);
  EXPECT_EQ(Stats().head.outstanding, 3u);
  OnHome([a] { a->RestoreController(); });
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(errors_.size(), 0u);
  EXPECT_EQ(Stats().head.queued, 0u);
}

TEST_F(HeadTest, LatencyHistogramsMeasureAttemptsAndApplicationIo) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin});
  MemPathOptions slow = Opts("slow");
  slow.latency = std::chrono::microseconds(800);
  AddPath(slow);
  MemPathOptions fast = Opts("fast");
  fast.latency = std::chrono::microseconds(100);
  AddPath(fast);
  Submit(200);
  ASSERT_TRUE(RunUntilDone());
  const HeadStats st = Stats();
  const PathStats& ps = PathNamed(st, "slow");
  const PathStats& pf = PathNamed(st, "fast");
  EXPECT_EQ(ps.latency.count(), ps.counters.ios);
  EXPECT_EQ(pf.latency.count(), pf.counters.ios);
  // Within the histogram's precision (12.5%) of the path's latency, plus the simulator's hops.
  EXPECT_NEAR(static_cast<double>(ps.latency.Percentile(0.5)), 800e3, 800e3 * 0.15);
  EXPECT_NEAR(static_cast<double>(pf.latency.Percentile(0.5)), 100e3, 100e3 * 0.15);
  EXPECT_GE(ps.latency.min_ns(), 800'000u);
  EXPECT_GE(pf.latency.min_ns(), 100'000u);
  // The application's view: every Bio once, at least as long as its attempt.
  EXPECT_EQ(st.latency.count(), 200u);
  EXPECT_GE(st.latency.max_ns(), ps.latency.max_ns());
  EXPECT_GE(st.latency.min_ns(), pf.latency.min_ns());
}

TEST_F(HeadTest, FailoverGapRunsFromTheFailedAttemptToCompletionElsewhere) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kNuma});
  MemPathOptions slow = Opts("a");
  slow.latency = std::chrono::milliseconds(10);
  MemPath* a = AddPath(slow);
  MemPathOptions other = Opts("b", AnaState::kNonOptimized);
  other.latency = std::chrono::microseconds(300);
  AddPath(other);
  Submit(16);
  world_.RunFor(std::chrono::microseconds(100));
  OnHome([a] { a->LoseController(); });
  ASSERT_TRUE(RunUntilDone(std::chrono::milliseconds(5)));
  ASSERT_TRUE(errors_.empty()) << errors_[0];
  const HeadStats st = Stats();
  const PathStats& pa = PathNamed(st, "a");
  const PathStats& pb = PathNamed(st, "b");
  EXPECT_EQ(st.head.failovers, 16u);
  EXPECT_EQ(pa.counters.failovers, 16u);
  EXPECT_EQ(pb.counters.failovers_in, 16u);
  EXPECT_EQ(pa.counters.failovers_in, 0u);
  EXPECT_EQ(Errors(pa.counters.errors_by_class, ErrorClass::kHostAborted), 16u);
  // One gap per Bio that failed over, attributed to the path it failed on: b's 300 us (the
  // histogram's precision), never a's 10 ms.
  EXPECT_EQ(st.failover_gap.count(), 16u);
  EXPECT_EQ(pa.failover_gap.count(), 16u);
  EXPECT_EQ(pb.failover_gap.count(), 0u);
  EXPECT_GE(st.failover_gap.min_ns(), 300'000u);
  EXPECT_LT(st.failover_gap.max_ns(), 1'000'000u);
  EXPECT_NEAR(static_cast<double>(st.failover_gap.Percentile(0.99)), 300e3, 300e3 * 0.15);
}

TEST_F(HeadTest, RetriesOnTheSamePathRecordNoFailoverGap) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kNuma});
  MemPath* a = AddPath(Opts("a"));
  AddPath(Opts("b", AnaState::kNonOptimized));
  OnHome([a] { a->FailNext(2, NvmeStatus::Of(nvme::sc::kInternalError)); });
  Submit(4);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(errors_.empty()) << errors_[0];
  const HeadStats st = Stats();
  EXPECT_GT(st.head.retries, 0u);
  EXPECT_EQ(st.head.failovers, 0u);
  EXPECT_EQ(st.failover_gap.count(), 0u);
  EXPECT_EQ(Errors(PathNamed(st, "a").counters.errors_by_class, ErrorClass::kGeneric),
            PathNamed(st, "a").counters.errors);
}

TEST_F(HeadTest, EveryReactorsStatisticsAreMergedOnRead) {
  SetUpRig(HeadOptions{.name = "h", .policy = Policy::kRoundRobin}, /*reactors=*/3);
  AddPath(Opts("a"));
  AddPath(Opts("b"));
  for (unsigned r = 0; r < 3; ++r) Submit(10 * static_cast<int>(r + 1), blk::Op::kWrite, r);
  ASSERT_TRUE(RunUntilDone());
  HeadStats direct = Stats();
  EXPECT_EQ(direct.head.submitted, 60u);
  EXPECT_EQ(direct.latency.count(), 60u);
  uint64_t attempts = 0;
  for (const PathStats& p : direct.paths) attempts += p.latency.count();
  EXPECT_EQ(attempts, 60u);
  // CollectStats, across reactors by message, agrees with the direct read.
  std::optional<HeadStats> collected;
  reactors_[0]->Post([this, &collected] {
    head_->CollectStats([&collected](HeadStats s) { collected = std::move(s); });
  });
  ASSERT_TRUE(world_.RunUntil([&] { return collected.has_value(); }, std::chrono::seconds(1)));
  EXPECT_EQ(collected->head.submitted, 60u);
  EXPECT_EQ(collected->latency.count(), 60u);
  EXPECT_EQ(Op(collected->head.by_op, OpClass::kWrite).ios, 60u);
  ASSERT_EQ(collected->paths.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(collected->paths[i].counters.ios, direct.paths[i].counters.ios);
    EXPECT_EQ(collected->paths[i].latency.count(), direct.paths[i].latency.count());
  }
}

}  // namespace
}  // namespace nvmpath::mpath
