// What `nvmpath bench` shows: the final table has every row the issue lists, the JSON has the
// keys scripts read, and the progress line reports the interval's rate and path shares.
#include "cli/bench_report.h"

#include <gtest/gtest.h>

#include "base/latency_histogram.h"
#include "client/device.h"

namespace nvmpath::cli {
namespace {

BenchResult Sample() {
  BenchResult r;
  r.workload = "randread";
  r.device = "nqn.2026-11.io.nvmpath:t:ns1";
  r.bs_bytes = 4096;
  r.qd = 32;
  r.threads = 1;
  r.seconds = 2.0;
  r.ios = 100000;
  r.bytes = 100000ull * 4096;
  r.errors = 3;
  r.failovers = 2;
  r.requeues = 1;
  for (uint64_t v = 1000; v <= 100000; v += 1000) r.latency.Record(v);
  r.paths = {{"127.0.0.1:4420", 75000, {75000, 74999, 1}}, {"127.0.0.1:4421", 25000, {}}};
  // Path 1's attempts: 1..1000 us, each once.
  StatsHistogram h;
  for (uint64_t us = 1; us <= 1000; ++us) h.Record(us * 1000);
  r.paths[0].latency = client::ToLatencySummary(h);
  StatsHistogram gaps;
  gaps.Record(300'000);
  gaps.Record(2'000'000);
  r.failover_gap = client::ToLatencySummary(gaps);
  r.head_qos = {100000, 100000, 0};
  r.verify_blocks = 640;
  r.verify_mismatches = 4;
  r.first_mismatch = "LBA 8: checksum mismatch";
  return r;
}

TEST(BenchReport, TableHasEveryRow) {
  const std::string t = FormatBenchTable(Sample());
  for (const char* row : {"IOPS",
                          "50,000",
                          "MiB/s",
                          "195.3",
                          "latency mean (us)",
                          "latency p50 (us)",
                          "latency p99 (us)",
                          "latency p99.9 (us)",
                          "latency max (us)",
                          "100.0",
                          "errors",
                          "failovers",
                          "requeues",
                          "I/O via 127.0.0.1:4420",
                          "75,000 (75.0%)",
                          "I/O via 127.0.0.1:4421",
                          "25,000 (25.0%)",
                          "p99 (us) via 127.0.0.1:4420",
                          "failover gap p50 (us)",
                          "failover gap max (us)",
                          "2000.0",
                          "verify blocks",
                          "640",
                          "verify mismatches",
                          "first mismatch: LBA 8"}) {
    EXPECT_NE(t.find(row), std::string::npos) << row << "\n" << t;
  }
}

TEST(BenchReport, JsonHasTheKeysScriptsRead) {
  const nlohmann::json j = BenchJson(Sample());
  EXPECT_DOUBLE_EQ(j.at("iops").get<double>(), 50000.0);
  EXPECT_NEAR(j.at("mib_s").get<double>(), 195.3125, 1e-9);
  const auto& lat = j.at("lat_us");
  for (const char* k : {"mean", "p50", "p99", "p999", "max"}) {
    ASSERT_TRUE(lat.contains(k)) << k;
  }
  EXPECT_DOUBLE_EQ(lat["mean"].get<double>(), 50.5);
  EXPECT_DOUBLE_EQ(lat["max"].get<double>(), 100.0);
  EXPECT_NEAR(lat["p50"].get<double>(), 50.0, 50.0 / 32);
  EXPECT_LE(lat["p50"].get<double>(), lat["p99"].get<double>());
  EXPECT_LE(lat["p99"].get<double>(), lat["p999"].get<double>());
  EXPECT_EQ(j.at("errors"), 3);
  EXPECT_EQ(j.at("failovers"), 2);
  EXPECT_EQ(j.at("requeues"), 1);
  ASSERT_EQ(j.at("paths").size(), 2u);
  EXPECT_EQ(j["paths"][0]["name"], "127.0.0.1:4420");
  EXPECT_EQ(j["paths"][0]["ios"], 75000);
  for (const nlohmann::json& q : {j["paths"][0].at("qos"), j["paths"][1].at("qos"), j.at("qos")}) {
    for (const char* k : {"issued", "released", "waiting"}) ASSERT_TRUE(q.contains(k)) << k;
  }
  EXPECT_EQ(j["paths"][0]["qos"]["issued"], 75000);
  EXPECT_EQ(j["paths"][0]["qos"]["released"], 74999);
  EXPECT_EQ(j["paths"][0]["qos"]["waiting"], 1);
  EXPECT_EQ(j["qos"]["issued"], 100000);
  EXPECT_EQ(j.at("verify").at("blocks"), 640);
  EXPECT_EQ(j.at("verify").at("mismatches"), 4);
}

TEST(BenchReport, TableShowsP99OnlyForPathsWithAttempts) {
  const std::string t = FormatBenchTable(Sample());
  EXPECT_EQ(t.find("p99 (us) via 127.0.0.1:4421"), std::string::npos) << t;
}

TEST(BenchReport, JsonHasEachPathsLatencyHistogram) {
  const nlohmann::json j = BenchJson(Sample());
  const auto& lat = j["paths"][0].at("lat_us");
  EXPECT_EQ(lat.at("count"), 1000);
  EXPECT_DOUBLE_EQ(lat.at("max").get<double>(), 1000.0);
  EXPECT_NEAR(lat.at("p50").get<double>(), 500.0, 500.0 / 8);
  EXPECT_NEAR(lat.at("p99").get<double>(), 990.0, 990.0 / 8);
  EXPECT_NEAR(lat.at("mean").get<double>(), 500.5, 1e-9);
  // Cumulative counts below each power of two of nanoseconds, from 2^10 to 2^36.
  const auto& buckets = lat.at("buckets");
  ASSERT_EQ(buckets.size(), static_cast<size_t>(LatencySummary::kLatencyBuckets));
  uint64_t prev = 0;
  for (const auto& b : buckets) {
    const uint64_t below_ns = static_cast<uint64_t>(b.at("below_us").get<double>() * 1000 + 0.5);
    const uint64_t expect = below_ns <= 1000 ? 0 : std::min<uint64_t>((below_ns - 1) / 1000, 1000);
    EXPECT_EQ(b.at("count").get<uint64_t>(), expect) << below_ns;
    EXPECT_GE(b.at("count").get<uint64_t>(), prev);
    prev = b.at("count").get<uint64_t>();
  }
  EXPECT_EQ(prev, 1000u);
  EXPECT_EQ(j["paths"][1].at("lat_us").at("count"), 0);
  EXPECT_EQ(j.at("failover_gap_us").at("count"), 2);
  EXPECT_DOUBLE_EQ(j["failover_gap_us"].at("max").get<double>(), 2000.0);
}

TEST(BenchReport, ProgressLineShowsTheIntervalAndPathShares) {
  BenchProgress before{.seconds = 1.0,
                       .ios = 1000,
                       .bytes = 1000ull * 4096,
                       .errors = 0,
                       .failovers = 0,
                       .paths = {{"a:1", 1000}, {"b:2", 0}}};
  BenchProgress now{.seconds = 2.0,
                    .ios = 51000,
                    .bytes = 51000ull * 4096,
                    .errors = 2,
                    .failovers = 1,
                    .paths = {{"a:1", 11000}, {"b:2", 40000}}};
  const std::string line = FormatProgressLine(before, now);
  EXPECT_NE(line.find("50.0K IOPS"), std::string::npos) << line;
  EXPECT_NE(line.find("195.3 MiB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("errors 2"), std::string::npos) << line;
  EXPECT_NE(line.find("failovers 1"), std::string::npos) << line;
  EXPECT_NE(line.find("a:1 20%"), std::string::npos) << line;
  EXPECT_NE(line.find("b:2 80%"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace nvmpath::cli
