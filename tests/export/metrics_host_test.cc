// What `nvmpath host --metrics` writes, rendered from a synthetic snapshot: the state gauges
// carry every state (1 for the current one), counters keep their values and labels (subsystem,
// head, path; a hostile NQN escaped), the head's capacity and time without a usable path, the
// controllers' reconnects; the histogram families appear only with data, and then pass
// `promtool check metrics` (Debian's prometheus package; that check is skipped, saying so, where
// promtool is not installed).
#include "export/metrics_host.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace nvmpath::exports {
namespace {

HostSnapshot Synthetic(std::string subnqn = "nqn.2026-12.io.nvmpath:m") {
  HostSnapshot snap;
  SubsystemSnapshot s;
  s.index = 0;
  s.subnqn = std::move(subnqn);
  ControllerInfo c1{.name = "127.0.0.1:4420",
                    .state = "live",
                    .io_queues = 2,
                    .reconnect_attempts = 0,
                    .connect_attempts = 4};
  ControllerInfo c2{
      .name = "[::1]:4421", .state = "connecting", .reconnect_attempts = 3, .connect_attempts = 7,
      .keep_alive_timeouts = 2};
  s.controllers = {c1, c2};
  HeadSnapshot h;
  h.name = "nvmpath0n1";
  h.info.nsid = 1;
  h.info.capacity_blocks = 2048;
  h.info.block_size = 512;
  h.info.time_without_usable_path = std::chrono::milliseconds(1500);
  h.info.paths = {
      PathInfo{.name = "127.0.0.1:4420",
               .controller_state = "live",
               .ana_state = "optimized",
               .ready = true,
               .usable = true},
      PathInfo{
          .name = "[::1]:4421", .controller_state = "connecting", .ana_state = "inaccessible"}};
  h.counters.submitted = 100;
  h.counters.completed = 97;
  h.counters.errors = 1;
  h.counters.no_path = 1;
  h.counters.failovers = 6;
  h.counters.requeues = 4;
  h.counters.outstanding = 2;
  h.counters.queued = 1;
  h.counters.paths = {
      {"127.0.0.1:4420",
       PathCounters{.ios = 90, .bytes = 368640, .errors = 0, .failovers = 0, .in_flight = 2}},
      {"[::1]:4421", PathCounters{.ios = 16, .bytes = 65536, .errors = 6, .failovers = 6}}};
  PathCounters& p1 = h.counters.paths[0].second;
  p1.failovers_in = 5;
  p1.ops = {.read = {60, 245760}, .write = {29, 118784}, .other = {1, 4096}};
  PathCounters& p2 = h.counters.paths[1].second;
  p2.errors_by_class = {.ana = 4, .host_aborted = 2};
  h.counters.ops = {.read = {70, 286720}, .write = {29, 118784}, .other = {1, 0}};
  h.counters.errors_by_class = {.no_path = 1};
  s.heads.push_back(std::move(h));
  snap.subsystems.push_back(std::move(s));
  return snap;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsHost, PathStatesAreEnumGaugesWithEveryState) {
  const std::string t = RenderHostMetrics(Synthetic());
  const std::string p1 =
      R"(subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1",path="127.0.0.1:4420")";
  const std::string p2 =
      R"(subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1",path="[::1]:4421")";
  EXPECT_TRUE(Has(t, "# TYPE nvmpath_path_ana_state gauge"));
  EXPECT_TRUE(Has(t, "nvmpath_path_ana_state{" + p1 + R"(,state="optimized"} 1)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_ana_state{" + p1 + R"(,state="inaccessible"} 0)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_ana_state{" + p2 + R"(,state="inaccessible"} 1)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_ana_state{" + p2 + R"(,state="optimized"} 0)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_controller_state{" + p2 + R"(,state="connecting"} 1)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_controller_state{" + p2 + R"(,state="live"} 0)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_usable{" + p1 + "} 1"));
  EXPECT_TRUE(Has(t, "nvmpath_path_usable{" + p2 + "} 0"));
  EXPECT_TRUE(Has(t, "# TYPE nvmpath_path_failovers_total counter"));
  EXPECT_TRUE(Has(t, "nvmpath_path_failovers_total{" + p2 + "} 6"));
  EXPECT_TRUE(Has(t, "nvmpath_path_io_bytes_total{" + p1 + "} 368640"));
  EXPECT_TRUE(Has(t, "nvmpath_path_in_flight{" + p1 + "} 2"));
}

TEST(MetricsHost, HeadAndControllerValues) {
  const std::string t = RenderHostMetrics(Synthetic());
  const std::string h = R"(subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1")";
  EXPECT_TRUE(Has(t, "nvmpath_head_capacity_bytes{" + h + "} 1048576"));
  EXPECT_TRUE(Has(t, "nvmpath_head_usable_paths{" + h + "} 1"));
  EXPECT_TRUE(Has(t, "nvmpath_head_no_usable_path_seconds_total{" + h + "} 1.5"));
  EXPECT_TRUE(Has(t, "nvmpath_head_errors_total{" + h + "} 1"));
  EXPECT_TRUE(Has(t, "nvmpath_head_requeues_total{" + h + "} 4"));
  EXPECT_TRUE(Has(t, "nvmpath_head_in_flight{" + h + "} 2"));
  EXPECT_TRUE(Has(t, "nvmpath_head_queued_ios{" + h + "} 1"));
  const std::string c = R"(subsystem="nqn.2026-12.io.nvmpath:m",path="[::1]:4421")";
  EXPECT_TRUE(Has(t, "nvmpath_controller_reconnects_total{" + c + "} 6"));
  EXPECT_TRUE(Has(t, "nvmpath_controller_keep_alive_timeouts_total{" + c + "} 2"));
  EXPECT_TRUE(Has(t, "nvmpath_controller_failed_attempts{" + c + "} 3"));
  EXPECT_TRUE(Has(t, "nvmpath_controller_state{" + c + R"(,state="connecting"} 1)"));
  // Every family has exactly one HELP and one TYPE line.
  size_t helps = 0, types = 0;
  for (size_t at = 0; (at = t.find("# HELP ", at)) != std::string::npos; ++at) ++helps;
  for (size_t at = 0; (at = t.find("# TYPE ", at)) != std::string::npos; ++at) ++types;
  EXPECT_EQ(helps, types);
  EXPECT_GT(helps, 20u);
}

TEST(MetricsHost, AnUnexpectedStateStillShows) {
  HostSnapshot s = Synthetic();
  s.subsystems[0].heads[0].info.paths[0].ana_state = "reserved";
  const std::string t = RenderHostMetrics(s);
  EXPECT_NE(t.find(R"(path="127.0.0.1:4420",state="reserved"} 1)"), std::string::npos);
}

TEST(MetricsHost, HostileSubsystemNameIsEscaped) {
  const std::string t = RenderHostMetrics(Synthetic("nqn.x:\"}\nevil 1"));
  EXPECT_EQ(t.find("\nevil 1"), std::string::npos);
  EXPECT_NE(t.find(R"(subsystem="nqn.x:\"}\nevil 1")"), std::string::npos);
}

TEST(MetricsHost, OpsErrorClassesAndFailoversInAreLabelledCounters) {
  const std::string t = RenderHostMetrics(Synthetic());
  const std::string p1 =
      R"(subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1",path="127.0.0.1:4420")";
  const std::string p2 =
      R"(subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1",path="[::1]:4421")";
  const std::string h = R"(subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1")";
  EXPECT_TRUE(Has(t, "# TYPE nvmpath_path_failovers_in_total counter"));
  EXPECT_TRUE(Has(t, "nvmpath_path_failovers_in_total{" + p1 + "} 5"));
  EXPECT_TRUE(Has(t, "nvmpath_path_failovers_in_total{" + p2 + "} 0"));
  EXPECT_TRUE(Has(t, "# TYPE nvmpath_path_ios_by_op_total counter"));
  EXPECT_TRUE(Has(t, "nvmpath_path_ios_by_op_total{" + p1 + R"(,op="read"} 60)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_ios_by_op_total{" + p1 + R"(,op="write"} 29)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_ios_by_op_total{" + p1 + R"(,op="other"} 1)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_io_bytes_by_op_total{" + p1 + R"(,op="write"} 118784)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_ios_by_op_total{" + p2 + R"(,op="read"} 0)"));
  EXPECT_TRUE(Has(t, "nvmpath_head_ios_by_op_total{" + h + R"(,op="read"} 70)"));
  EXPECT_TRUE(Has(t, "nvmpath_head_io_bytes_by_op_total{" + h + R"(,op="read"} 286720)"));
  // Every class shows, 0 included; a path has no no_path or rejected class (a head's own).
  EXPECT_TRUE(Has(t, "nvmpath_path_errors_by_class_total{" + p2 + R"(,class="ana"} 4)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_errors_by_class_total{" + p2 + R"(,class="host_aborted"} 2)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_errors_by_class_total{" + p2 + R"(,class="generic"} 0)"));
  EXPECT_TRUE(Has(t, "nvmpath_path_errors_by_class_total{" + p1 + R"(,class="media"} 0)"));
  EXPECT_EQ(t.find(R"(path="127.0.0.1:4420",class="no_path")"), std::string::npos);
  EXPECT_TRUE(Has(t, "nvmpath_head_errors_by_class_total{" + h + R"(,class="no_path"} 1)"));
  EXPECT_TRUE(Has(t, "nvmpath_head_errors_by_class_total{" + h + R"(,class="rejected"} 0)"));
  EXPECT_TRUE(Has(t, "nvmpath_head_errors_by_class_total{" + h + R"(,class="ana"} 0)"));
}

// 3 values below 2^10 ns, 4 more below 2^11, none more until 2^36 (68.7 s), 2 above it.
LatencySummary PowerOfTwoSummary() {
  LatencySummary l;
  l.count = 9;
  l.sum_ns = 2'500'000'000;
  for (int bits = LatencySummary::kFirstBucketBits; bits <= LatencySummary::kLastBucketBits;
       ++bits) {
    l.buckets.push_back(LatencyBucket{uint64_t{1} << bits, bits == 10 ? 3u : 7u});
  }
  return l;
}

TEST(MetricsHost, PowerOfTwoBucketsAreWrittenExactlyWithLeOneNanosecondBelow) {
  const HistogramData h = PowerOfTwoHistogram(PowerOfTwoSummary());
  ASSERT_EQ(h.buckets.size(), size_t{LatencySummary::kLatencyBuckets});
  // "below 1024 ns" is "at most 1023 ns" in whole nanoseconds.
  EXPECT_DOUBLE_EQ(h.buckets[0].upper_bound, 1023e-9);
  EXPECT_EQ(h.buckets[0].count, 3u);
  EXPECT_DOUBLE_EQ(h.buckets[1].upper_bound, 2047e-9);
  EXPECT_EQ(h.buckets[1].count, 4u) << "per bucket, not cumulative";
  EXPECT_EQ(h.buckets.back().count, 0u);
  EXPECT_DOUBLE_EQ(h.buckets.back().upper_bound, ((uint64_t{1} << 36) - 1) * 1e-9);
  EXPECT_EQ(h.count, 9u) << "the 2 above 2^36 ns show in +Inf only";
  EXPECT_DOUBLE_EQ(h.sum, 2.5);
  MetricsText t;
  t.Family("x_seconds", MetricType::kHistogram, "x");
  t.Histogram({}, h);
  EXPECT_NE(t.text().find("\nx_seconds_bucket{le=\"1.023e-06\"} 3\n"), std::string::npos)
      << t.text();
  EXPECT_NE(t.text().find("\nx_seconds_bucket{le=\"2.047e-06\"} 7\n"), std::string::npos);
  EXPECT_NE(t.text().find("\nx_seconds_bucket{le=\"68.719476735\"} 7\n"), std::string::npos);
  // Every bound is written as its exact decimal (no 4.095000000000001e-06).
  for (const HistogramBucket& b : h.buckets) {
    const std::string le = FormatMetricValue(b.upper_bound);
    EXPECT_LE(le.size(), 14u) << le;
  }
  EXPECT_NE(t.text().find("\nx_seconds_bucket{le=\"+Inf\"} 9\n"), std::string::npos);
  // An empty summary: buckets of 0, count 0.
  const HistogramData empty = PowerOfTwoHistogram(LatencySummary{});
  EXPECT_EQ(empty.count, 0u);
}

TEST(MetricsHostDeathTest, BucketsThatAreNotCumulativeFire) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  LatencySummary l = PowerOfTwoSummary();
  l.buckets[1].count = 2;  // below the bucket before it
  EXPECT_DEATH(PowerOfTwoHistogram(l), "not cumulative");
}

TEST(MetricsHost, HistogramFamiliesOnlyWithData) {
  HostSnapshot s = Synthetic();
  EXPECT_EQ(RenderHostMetrics(s).find("_seconds_bucket"), std::string::npos);
  HeadSnapshot& h = s.subsystems[0].heads[0];
  h.path_latency = {{"127.0.0.1:4420", HistogramData{{{0.0001, 50}, {0.001, 40}}, 90, 0.02}}};
  h.failover_gap = HistogramData{{{0.001, 5}}, 6, 0.009};
  const std::string t = RenderHostMetrics(s);
  EXPECT_TRUE(Has(t, "# TYPE nvmpath_path_latency_seconds histogram"));
  EXPECT_TRUE(Has(
      t,
      R"(nvmpath_path_latency_seconds_bucket{subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1",path="127.0.0.1:4420",le="0.001"} 90)"));
  EXPECT_TRUE(Has(
      t,
      R"(nvmpath_head_failover_gap_seconds_bucket{subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1",le="+Inf"} 6)"));
  EXPECT_TRUE(Has(
      t,
      R"(nvmpath_head_failover_gap_seconds_count{subsystem="nqn.2026-12.io.nvmpath:m",head="nvmpath0n1"} 6)"));
}

// Runs `promtool check metrics` on `text`; returns its exit code and output, or -1 without it.
int Promtool(const std::string& text, std::string* output) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) return -1;
  char path[] = "/tmp/nvmpath-metrics-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return -1;
  close(fd);
  std::ofstream(path) << text;
  const std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  const int rc = pclose(p);
  std::remove(path);
  return WEXITSTATUS(rc);
}

TEST(MetricsHost, PromtoolAcceptsTheTextWithHistograms) {
  HostSnapshot s = Synthetic("nqn.x:\"quoted\"\nand\\more\xFF");
  HeadSnapshot& h = s.subsystems[0].heads[0];
  h.path_latency = {{"127.0.0.1:4420", PowerOfTwoHistogram(PowerOfTwoSummary())}};
  h.failover_gap = PowerOfTwoHistogram(LatencySummary{});
  std::string out;
  const int rc = Promtool(RenderHostMetrics(s), &out);
  if (rc < 0) GTEST_SKIP() << "promtool not installed (scripts/setup installs Debian's prometheus)";
  EXPECT_EQ(rc, 0) << out;
}

TEST(MetricsHost, PromtoolCatchesABrokenText) {
  // The check above can fail: a counter without _total and a label left unescaped are refused.
  std::string out;
  const int rc = Promtool("# HELP m x\n# TYPE m counter\nm{a=\"b\nc\"} 1\n", &out);
  if (rc < 0) GTEST_SKIP() << "promtool not installed (scripts/setup installs Debian's prometheus)";
  EXPECT_NE(rc, 0) << out;
}

}  // namespace
}  // namespace nvmpath::exports
