// Paths added and removed while the host runs (MultipathHost::AddController / RemoveController,
// what `host-ctl connect` / `disconnect` and persistent discovery drive), on the real target over
// the simulated network with the verify workload running:
//   - a removed path is drained, not failed over: what was in flight on it finishes there, the
//     application sees no error, and its data verifies;
//   - a path that does not drain within the drain timeout is deleted anyway and its I/O fails
//     over, still without an application error;
//   - a path added back carries I/O again; duplicates, unknown paths and dead addresses are
//     refused, naming what is wrong, and leave nothing behind.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "mpath/multipath_host.h"
#include "sim/fault.h"
#include "sim/tcp_fabric.h"
#include "sim/verify_workload.h"
#include "sim_e2e_fabric.h"

namespace nvmpath {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kBs = 512;

class RuntimePathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fabric_ = std::make_unique<sim::TcpFabric>(e2e::SimE2eFabric(
        7, 1, 1 << 20, kBs, 0ms, [](mpath::MultipathHostOptions& o) {
          o.head.policy = mpath::Policy::kRoundRobin;  // both paths carry I/O
        }));
    ASSERT_TRUE(fabric_->Start().ok());
    host_ = fabric_->host();
    home_ = fabric_->host_reactors()[0];
    sim::VerifyWorkloadOptions w;
    w.head_id = 1;
    w.blocks = 256;
    w.block_size = kBs;
    w.queue_depth = 8;
    w.error_backoff = 1ms;
    workload_ = std::make_unique<sim::VerifyWorkload>(*host_->head(1), *home_, w, nullptr,
                                                      &next_id_);
    home_->Post([this] { workload_->Start(); });
    Run(20ms);
  }

  void TearDown() override {
    if (workload_) {
      bool verified = false;
      home_->Post([&] { workload_->Stop([&] { workload_->VerifyAll([&] { verified = true; }); }); });
      EXPECT_TRUE(fabric_->RunUntil([&] { return verified; }, 30s));
      EXPECT_EQ(workload_->stats().mismatches, 0u);
      EXPECT_EQ(workload_->stats().errors, 0u) << "the application saw an error";
      workload_.reset();
    }
    EXPECT_TRUE(fabric_->Stop().ok());
  }

  void Run(Duration d) {
    const TimePoint until = fabric_->now() + d;
    fabric_->RunUntil([&] { return fabric_->now() >= until; }, d + 1s);
  }

  // Runs `op` on home with a completion and waits for its status.
  Status Await(const std::function<void(std::function<void(Status)>)>& op, Duration limit = 10s) {
    std::optional<Status> result;
    home_->Post([&] { op([&](Status st) { result = std::move(st); }); });
    if (!fabric_->RunUntil([&] { return result.has_value(); }, limit)) {
      return Status(Code::kTimedOut, "no completion");
    }
    return *result;
  }

  mpath::PathCounters PathCounters(const std::string& name) {
    for (const auto& p : host_->head(1)->TEST_Stats().paths) {
      if (p.name == name) return p.counters;
    }
    return {};
  }

  std::unique_ptr<sim::TcpFabric> fabric_;
  mpath::MultipathHost* host_ = nullptr;
  reactor::Reactor* home_ = nullptr;
  std::unique_ptr<sim::VerifyWorkload> workload_;
  uint64_t next_id_ = 1;
};

TEST_F(RuntimePathsTest, RemovedPathDrainsWithoutFailoverAndComesBack) {
  const mpath::PathAddress a0 = host_->path_address(0);
  const std::string name = a0.ToString();
  ASSERT_GT(PathCounters(name).ios, 0u) << "round-robin sent nothing to path 0";
  // Every response on port 0 takes 2 ms: the removal finds I/O in flight there.
  ASSERT_TRUE(fabric_->Apply(sim::fault::DelayResponses{0, 2ms}).ok());
  Run(5ms);
  const mpath::PathCounters before = PathCounters(name);
  ASSERT_GT(before.in_flight, 0u) << "nothing in flight on path 0 to drain";
  Status st = Await([&](auto done) { host_->RemoveController(a0, 1s, done); });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(host_->controller_count(), 1u);
  EXPECT_EQ(host_->FindPath(a0), -1);
  EXPECT_EQ(host_->counters().controllers_removed, 1u);
  // Drained: what was in flight finished on path 0 itself, nothing failed over from it.
  const mpath::HeadStats stats = host_->head(1)->TEST_Stats();
  EXPECT_EQ(stats.head.failovers, 0u);
  EXPECT_EQ(stats.head.errors, 0u);
  ASSERT_TRUE(fabric_->Apply(sim::fault::DelayResponses{0, 0ms}).ok());

  st = Await([&](auto done) { host_->AddController(a0, done); });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(host_->controller_count(), 2u);
  Run(5ms);  // a reused slot's counters are reset on every reactor first
  const uint64_t ios = PathCounters(name).ios;
  Run(20ms);
  EXPECT_GT(PathCounters(name).ios, ios) << "the path added back carries no I/O";
}

TEST_F(RuntimePathsTest, PathThatDoesNotDrainInTimeFailsItsIoOver) {
  const mpath::PathAddress a0 = host_->path_address(0);
  // Port 0 holds its responses: nothing in flight there can finish.
  ASSERT_TRUE(fabric_->Apply(sim::fault::StallResponses{0, true}).ok());
  Run(5ms);
  ASSERT_GT(PathCounters(a0.ToString()).in_flight, 0u);
  const TimePoint start = fabric_->now();
  Status st = Await([&](auto done) { host_->RemoveController(a0, 50ms, done); });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GE(fabric_->now() - start, 50ms) << "deleted before the drain timeout";
  EXPECT_LT(fabric_->now() - start, 1s) << "the drain timeout did not bound the removal";
  // The stalled I/O failed over to path 1 (and completed there: TearDown verifies no error).
  EXPECT_GT(host_->head(1)->TEST_Stats().head.failovers, 0u);
  ASSERT_TRUE(fabric_->Apply(sim::fault::StallResponses{0, false}).ok());
}

TEST_F(RuntimePathsTest, BadChangesAreRefusedAndLeaveNothingBehind) {
  const mpath::PathAddress a1 = host_->path_address(1);
  Status st = Await([&](auto done) { host_->AddController(a1, done); });
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.ToString();
  EXPECT_NE(st.message().find(a1.ToString()), std::string::npos) << st.message();

  const mpath::PathAddress nowhere{"127.0.0.1", 9};
  st = Await([&](auto done) { host_->RemoveController(nowhere, 1s, done); });
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find(a1.ToString()), std::string::npos) << "names the paths: "
                                                                 << st.message();

  // A port that refuses connections: the error, and the path is not kept.
  ASSERT_TRUE(fabric_->Apply(sim::fault::PortEnabled{0, false}).ok());
  const mpath::PathAddress a0 = host_->path_address(0);
  st = Await([&](auto done) { host_->RemoveController(a0, 0ms, done); });
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = Await([&](auto done) { host_->AddController(a0, done); }, 30s);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(host_->controller_count(), 1u) << "a failed add left its path behind";
  EXPECT_EQ(host_->FindPath(a0), -1);
  ASSERT_TRUE(fabric_->Apply(sim::fault::PortEnabled{0, true}).ok());
  st = Await([&](auto done) { host_->AddController(a0, done); });
  EXPECT_TRUE(st.ok()) << st.ToString();
}

}  // namespace
}  // namespace nvmpath
