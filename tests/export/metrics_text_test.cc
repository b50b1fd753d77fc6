// exports::MetricsText: the Prometheus text format written exactly — HELP/TYPE lines, label-value
// escaping (backslash, quote, line feed; invalid UTF-8 replaced), integer and float values,
// histograms (cumulative buckets, +Inf, _sum, _count), re-bucketing a fine histogram onto the
// exported bounds — and the writer's checks firing on a malformed family or histogram.
#include "export/metrics_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace nvmpath::exports {
namespace {

TEST(MetricsText, CounterFamilyWithHelpTypeAndIntegerValues) {
  MetricsText t;
  t.Family("nvmpath_x_total", MetricType::kCounter, "Things.\nOn two lines, a \\ too.");
  t.Sample({{"head", "nvmpath0n1"}, {"path", "127.0.0.1:4420"}}, uint64_t{18446744073709551615u});
  t.Sample({}, uint64_t{0});
  EXPECT_EQ(t.text(),
            "# HELP nvmpath_x_total Things.\\nOn two lines, a \\\\ too.\n"
            "# TYPE nvmpath_x_total counter\n"
            "nvmpath_x_total{head=\"nvmpath0n1\",path=\"127.0.0.1:4420\"} 18446744073709551615\n"
            "nvmpath_x_total 0\n");
}

TEST(MetricsText, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)"), R"(a\\b\"c)");
  EXPECT_EQ(EscapeLabelValue("line\nnext"), "line\\nnext");
  EXPECT_EQ(EscapeLabelValue("nqn.2014-08.org.nvmexpress:uuid:1"),
            "nqn.2014-08.org.nvmexpress:uuid:1");
  // Valid UTF-8 passes; each byte of an invalid sequence becomes U+FFFD.
  EXPECT_EQ(EscapeLabelValue("\xC3\xA9t\xC3\xA9"), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(EscapeLabelValue("a\xFF"
                             "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(EscapeLabelValue("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "overlong '/'";
  EXPECT_EQ(EscapeLabelValue("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD")
      << "a surrogate";
  EXPECT_EQ(EscapeLabelValue("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "truncated";

  MetricsText t;
  t.Family("m", MetricType::kGauge, "h");
  t.Sample({{"subsystem", "q\"x\\y\nz"}}, 1.5);
  EXPECT_EQ(t.text(), "# HELP m h\n# TYPE m gauge\nm{subsystem=\"q\\\"x\\\\y\\nz\"} 1.5\n");
}

TEST(MetricsText, FloatValuesUseTheFormatsSpellings) {
  EXPECT_EQ(FormatMetricValue(0.25), "0.25");
  EXPECT_EQ(FormatMetricValue(3.0), "3");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  EXPECT_DOUBLE_EQ(std::stod(FormatMetricValue(1e-5)), 1e-5);
}

TEST(MetricsText, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsText t;
  t.Family("nvmpath_path_latency_seconds", MetricType::kHistogram, "Latency.");
  // 3 at <= 1 ms, 5 in (1 ms, 10 ms], 0 in (10 ms, 100 ms], 2 above 100 ms.
  HistogramData d{{{0.001, 3}, {0.01, 5}, {0.1, 0}}, 10, 0.75};
  t.Histogram({{"path", "p"}}, d);
  EXPECT_EQ(t.text(),
            "# HELP nvmpath_path_latency_seconds Latency.\n"
            "# TYPE nvmpath_path_latency_seconds histogram\n"
            "nvmpath_path_latency_seconds_bucket{path=\"p\",le=\"0.001\"} 3\n"
            "nvmpath_path_latency_seconds_bucket{path=\"p\",le=\"0.01\"} 8\n"
            "nvmpath_path_latency_seconds_bucket{path=\"p\",le=\"0.1\"} 8\n"
            "nvmpath_path_latency_seconds_bucket{path=\"p\",le=\"+Inf\"} 10\n"
            "nvmpath_path_latency_seconds_sum{path=\"p\"} 0.75\n"
            "nvmpath_path_latency_seconds_count{path=\"p\"} 10\n");
}

TEST(MetricsText, EmptyHistogramStillHasInfSumAndCount) {
  MetricsText t;
  t.Family("h_seconds", MetricType::kHistogram, "x");
  t.Histogram({}, HistogramData{});
  EXPECT_EQ(t.text(),
            "# HELP h_seconds x\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"+Inf\"} 0\nh_seconds_sum 0\nh_seconds_count 0\n");
}

// The writer's invariants fire when broken on purpose.
TEST(MetricsTextDeathTest, MalformedInputFires) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        MetricsText t;
        t.Family("h", MetricType::kHistogram, "x");
        t.Histogram({}, HistogramData{{{0.01, 1}, {0.001, 1}}, 2, 0});
      },
      "not strictly ascending");
  EXPECT_DEATH(
      {
        MetricsText t;
        t.Family("h", MetricType::kHistogram, "x");
        t.Histogram({}, HistogramData{{{0.01, 5}}, 4, 0});
      },
      "count is below");
  EXPECT_DEATH(
      {
        MetricsText t;
        t.Family("m", MetricType::kGauge, "x");
        t.Family("m", MetricType::kGauge, "x");
      },
      "started twice");
  EXPECT_DEATH(
      {
        MetricsText t;
        t.Family("9bad-name", MetricType::kGauge, "x");
      },
      "metric name is not valid");
  EXPECT_DEATH(
      {
        MetricsText t;
        t.Family("m", MetricType::kGauge, "x");
        t.Sample({{"bad-label", "v"}}, uint64_t{1});
      },
      "label name is not valid");
}

}  // namespace
}  // namespace nvmpath::exports
