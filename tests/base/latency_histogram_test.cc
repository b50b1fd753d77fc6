// LatencyHistogram at both precisions: the log-linear buckets tile the value range without gaps
// or overlaps, percentiles computed from the buckets stay within half a bucket's width of the
// exact nearest-rank percentiles of known data, merging equals recording in one, and counts
// below a power of two are exact (the Prometheus buckets).
#include "base/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace nvmpath {
namespace {

template <typename H>
class LatencyHistogramTest : public ::testing::Test {};
using Precisions = ::testing::Types<FineLatencyHistogram, StatsHistogram>;
TYPED_TEST_SUITE(LatencyHistogramTest, Precisions);

// A bucket's width relative to its low value, above the linear range.
template <typename H>
constexpr double kMaxWidth = 1.0 / H::kHalf;

TYPED_TEST(LatencyHistogramTest, BucketsTileTheRange) {
  using H = TypeParam;
  EXPECT_EQ(H::BucketLow(0), 0u);
  for (int b = 0; b + 1 < H::kBucketCount; ++b) {
    ASSERT_LE(H::BucketLow(b), H::BucketHigh(b)) << b;
    ASSERT_EQ(H::BucketHigh(b) + 1, H::BucketLow(b + 1)) << b;
    ASSERT_EQ(H::BucketOf(H::BucketLow(b)), b);
    ASSERT_EQ(H::BucketOf(H::BucketHigh(b)), b);
  }
  // Relative width: at most 1/kHalf of the bucket's low value above the linear range.
  for (int b = 2 * H::kHalf; b < H::kBucketCount; ++b) {
    const double width = H::BucketHigh(b) - H::BucketLow(b) + 1.0;
    ASSERT_LE(width / H::BucketLow(b), kMaxWidth<H> + 1e-12) << b;
  }
  // Out-of-range values land in the last bucket instead of past the array.
  EXPECT_EQ(H::BucketOf(UINT64_MAX), H::kBucketCount - 1);
}

uint64_t ExactPercentile(std::vector<uint64_t> v, double f) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(f * v.size()));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

TYPED_TEST(LatencyHistogramTest, PercentilesMatchKnownData) {
  using H = TypeParam;
  // 1..100000 ns, each once: p50 is 50000, p99 99000, p99.9 99900.
  H h;
  std::vector<uint64_t> values;
  for (uint64_t v = 1; v <= 100000; ++v) {
    h.Record(v);
    values.push_back(v);
  }
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min_ns(), 1u);
  EXPECT_EQ(h.max_ns(), 100000u);
  EXPECT_DOUBLE_EQ(h.mean_ns(), 50000.5);
  for (double f : {0.5, 0.99, 0.999}) {
    const double exact = static_cast<double>(ExactPercentile(values, f));
    EXPECT_NEAR(h.Percentile(f), exact, exact * kMaxWidth<H> / 2) << f;
  }
  EXPECT_EQ(h.Percentile(1.0), 100000u);
}

TYPED_TEST(LatencyHistogramTest, SkewedDataKeepsItsTail) {
  using H = TypeParam;
  // 99% at ~20 us, 1% at ~2 ms, a single 50 ms outlier: p50 stays low, p99.9 shows the tail.
  H h;
  std::vector<uint64_t> values;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 99000; ++i) values.push_back(20000 + rng() % 1000);
  for (int i = 0; i < 999; ++i) values.push_back(2000000 + rng() % 100000);
  values.push_back(50000000);
  for (uint64_t v : values) h.Record(v);
  for (double f : {0.5, 0.99, 0.995, 0.999}) {
    const double exact = static_cast<double>(ExactPercentile(values, f));
    EXPECT_NEAR(h.Percentile(f), exact, exact * kMaxWidth<H> / 2) << f;
  }
  EXPECT_EQ(h.max_ns(), 50000000u);
}

TYPED_TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  using H = TypeParam;
  H a, b, all;
  for (uint64_t v = 100; v < 5000; v += 7) {
    (v % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min_ns(), all.min_ns());
  EXPECT_EQ(a.max_ns(), all.max_ns());
  EXPECT_DOUBLE_EQ(a.mean_ns(), all.mean_ns());
  for (double f : {0.1, 0.5, 0.9, 0.99}) EXPECT_EQ(a.Percentile(f), all.Percentile(f));
  for (int i = 0; i < H::kBucketCount; ++i) ASSERT_EQ(a.bucket_count(i), all.bucket_count(i)) << i;
}

TYPED_TEST(LatencyHistogramTest, CountBelowAPowerOfTwoIsExact) {
  using H = TypeParam;
  H h;
  std::vector<uint64_t> values;
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) values.push_back(rng() % (uint64_t{1} << (5 + rng() % 30)));
  for (uint64_t v : values) h.Record(v);
  for (int k = 0; k <= 36; ++k) {
    const uint64_t bound = uint64_t{1} << k;
    const auto exact = static_cast<uint64_t>(
        std::count_if(values.begin(), values.end(), [bound](uint64_t v) { return v < bound; }));
    ASSERT_EQ(h.CountBelow(bound), exact) << "2^" << k;
  }
  EXPECT_EQ(h.CountBelow(UINT64_MAX), h.count());
}

TYPED_TEST(LatencyHistogramTest, SubtractLeavesTheIntervalsValues) {
  using H = TypeParam;
  H total, interval;
  for (uint64_t v = 100; v < 5000; v += 3) total.Record(v);
  const H earlier = total;
  for (uint64_t v = 20000; v < 90000; v += 11) {
    total.Record(v);
    interval.Record(v);
  }
  total.Subtract(earlier);
  EXPECT_EQ(total.count(), interval.count());
  EXPECT_EQ(total.sum_ns(), interval.sum_ns());
  // The same buckets; only the clamp to the (now bucket-wide) extremes may differ.
  for (double f : {0.1, 0.5, 0.99}) {
    const double want = static_cast<double>(interval.Percentile(f));
    EXPECT_NEAR(static_cast<double>(total.Percentile(f)), want, want * kMaxWidth<H>) << f;
  }
  // The extremes are the buckets' now.
  EXPECT_EQ(total.min_ns(), H::BucketLow(H::BucketOf(interval.min_ns())));
  EXPECT_EQ(total.max_ns(), H::BucketHigh(H::BucketOf(interval.max_ns())));
  total.Subtract(total);
  EXPECT_EQ(total.count(), 0u);
  EXPECT_EQ(total.max_ns(), 0u);
}

TEST(LatencyHistogramDeathTest, SubtractingALaterHistogramFires) {
  StatsHistogram earlier, later;
  earlier.Record(10);
  later.Record(10);
  later.Record(2000);
  EXPECT_DEATH(earlier.Subtract(later), "subtracting a histogram that is not earlier");
}

TYPED_TEST(LatencyHistogramTest, EmptyIsZero) {
  TypeParam h;
  EXPECT_EQ(h.Percentile(0.5), 0u);
  EXPECT_EQ(h.max_ns(), 0u);
  EXPECT_EQ(h.mean_ns(), 0.0);
}

}  // namespace
}  // namespace nvmpath
