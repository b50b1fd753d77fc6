// `nvmpath demo` (cli::RunTcpDemo): the multipath host against the embedded target over NVMe/TCP
// on 127.0.0.1 with the fault schedule played in a short run.
//
// Goal: the demo passes on a healthy build (zero application errors, zero mismatches, I/O on both
// paths, every event played), and its two checks fire when what they
// check really happens: a namespace re-added empty (data lost: mismatches, exit 1) and a head that
// fails I/O while the namespace is away (application errors, exit 1).
#include <gtest/gtest.h>

#include "cli/demo_report.h"
#include "cli/demo_tcp.h"

namespace nvmpath::cli {
namespace {

TcpDemoOptions Short() {
  TcpDemoOptions o;
  o.run = std::chrono::seconds(4);
  return o;
}

TEST(DemoTest, ShortRunPassesWithIoOnBothPaths) {
  std::string timeline;
  TcpDemoResult r = RunTcpDemo(Short(), [&](const std::string& t) { timeline += t; });
  ASSERT_TRUE(r.setup.ok()) << r.setup.ToString();
  const std::string table = FormatSummary(r);
  EXPECT_EQ(r.exit_code(), 0) << timeline << table;
  EXPECT_TRUE(r.failures.empty()) << table;
  EXPECT_GT(r.ios, 1000u);
  EXPECT_EQ(r.app_errors, 0u);
  EXPECT_EQ(r.head_errors, 0u);
  EXPECT_EQ(r.mismatches, 0u);
  EXPECT_GT(r.path_ios[0], 0u);
  EXPECT_GT(r.path_ios[1], 0u);
  EXPECT_GT(r.failovers, 0u) << "no fault moved any I/O: " << timeline;
  // Every I/O that failed over completed (no errors), so each has its failover gap; the summary
  // shows them, and the windows hold the run's gaps.
  EXPECT_GT(r.failover_gap.count(), 0u);
  EXPECT_LE(r.failover_gap.count(), r.failovers);
  EXPECT_NE(table.find("failover gap"), std::string::npos) << table;
  uint64_t window_gaps = 0;
  for (const DemoEvent& e : r.events) window_gaps += e.failover_gap.count();
  EXPECT_LE(window_gaps, r.failover_gap.count()) << timeline;  // the read-back may add some
  EXPECT_GT(window_gaps, 0u) << timeline;
  EXPECT_EQ(DemoResultJson(r).at("failover_gap").at("count"), r.failover_gap.count());
  EXPECT_GE(r.readback_blocks, 8192u);
  // The workload start, then twelve faults, each with its window.
  ASSERT_EQ(r.events.size(), 13u) << timeline;
  for (const DemoEvent& e : r.events) {
    EXPECT_TRUE(e.status.ok()) << e.what << ": " << e.status.ToString();
    EXPECT_EQ(e.errors, 0u) << e.what;
  }
  // Port 1 disabled: path 1 takes at most what was sent around the instant of the event — the
  // queue depth (16), and as much again dispatched before the first failure comes back, which on
  // a loaded machine (ctest -j2, sanitizers) takes long enough for one more round — the rest goes
  // to path 2 (unless a busy machine delayed the loop past the window).
  constexpr uint64_t kAroundTheEvent = 2 * 16;
  const DemoEvent& down = r.events[1];
  EXPECT_EQ(down.what, "port 1 disabled");
  EXPECT_LE(down.path_ios[0], kAroundTheEvent) << timeline;
  if (r.slow_turns == 0) {
    EXPECT_GT(down.path_ios[1], 100u) << timeline;
  }
  // Namespace detached behind port 2: path 2 leaves, port 1 carries the I/O.
  const DemoEvent& detached = r.events[6];
  EXPECT_EQ(detached.what.rfind("namespace 1 detached behind port 2", 0), 0u) << detached.what;
  EXPECT_LE(detached.path_ios[1], kAroundTheEvent) << timeline;
  if (r.slow_turns == 0) {
    EXPECT_GT(detached.path_ios[0], 100u) << timeline;
  }
  // What a user reads: the table's rows and the verdict.
  EXPECT_NE(table.find("errors seen by the application                          0"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("verify mismatches                                       0"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("PASS"), std::string::npos) << table;
  EXPECT_NE(timeline.find("port 1 disabled"), std::string::npos);
  EXPECT_EQ(DemoResultJson(r)["mismatches"], 0u);
  EXPECT_EQ(DemoResultJson(r)["app_errors"], 0u);
}

// The namespace comes back as an empty memory namespace: the workload reads zeros where it wrote
// data, and the demo says so and fails.
TEST(DemoTest, DataLostOnReaddIsReportedAsMismatches) {
  TcpDemoOptions o = Short();
  o.TEST_lose_data_on_readd = true;
  TcpDemoResult r = RunTcpDemo(o, {});
  ASSERT_TRUE(r.setup.ok()) << r.setup.ToString();
  EXPECT_GT(r.mismatches, 0u);
  EXPECT_EQ(r.exit_code(), 1);
  const std::string table = FormatSummary(r);
  EXPECT_NE(table.find("FAIL"), std::string::npos) << table;
  EXPECT_NE(table.find("blocks read back wrong data"), std::string::npos) << table;
}

// Without queue_if_no_path the head fails I/O while the namespace is gone behind both ports: the
// application sees errors, and the demo fails.
TEST(DemoTest, ErrorsWithoutAPathAreReportedAsApplicationErrors) {
  TcpDemoOptions o = Short();
  o.TEST_fail_without_path = true;
  TcpDemoResult r = RunTcpDemo(o, {});
  ASSERT_TRUE(r.setup.ok()) << r.setup.ToString();
  EXPECT_GT(r.app_errors, 0u);
  EXPECT_EQ(r.exit_code(), 1);
  EXPECT_NE(FormatSummary(r).find("I/Os failed in the application"), std::string::npos);
}

}  // namespace
}  // namespace nvmpath::cli
