#include "cli/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace nvmpath::cli {

// Values below 2^kSubBucketBits map to themselves. A larger value v whose top bit is bit b is
// shifted right by r = b - kSubBucketBits + 1 (>= 1), which leaves v >> r in [kHalf, 2*kHalf):
// its bucket is (r + 1) * kHalf + (v >> r) - kHalf, of width 2^r.
int LatencyHistogram::BucketOf(uint64_t ns) {
  constexpr uint64_t kMax = (uint64_t{1} << kMaxValueBits) - 1;
  if (ns > kMax) ns = kMax;
  if (ns < (uint64_t{1} << kSubBucketBits)) return static_cast<int>(ns);
  const int top_bit = 63 - std::countl_zero(ns);
  const int r = top_bit - kSubBucketBits + 1;
  return (r + 1) * kHalf + static_cast<int>(ns >> r) - kHalf;
}

uint64_t LatencyHistogram::BucketLow(int bucket) {
  if (bucket < 2 * kHalf) return static_cast<uint64_t>(bucket);
  const int r = bucket / kHalf - 1;
  const uint64_t mantissa = static_cast<uint64_t>(bucket % kHalf + kHalf);
  return mantissa << r;
}

uint64_t LatencyHistogram::BucketHigh(int bucket) {
  if (bucket < 2 * kHalf) return static_cast<uint64_t>(bucket);
  const int r = bucket / kHalf - 1;
  return BucketLow(bucket) + (uint64_t{1} << r) - 1;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ns_ += other.sum_ns_;
  max_ns_ = std::max(max_ns_, other.max_ns_);
  min_ns_ = std::min(min_ns_, other.min_ns_);
}

uint64_t LatencyHistogram::Percentile(double fraction) const {
  if (count_ == 0) return 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  // The rank'th smallest value (1-based), as the nearest-rank method defines percentiles.
  uint64_t rank = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  // The extremes are known exactly.
  if (rank == count_) return max_ns_;
  if (rank == 1) return min_ns_;
  uint64_t seen = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t mid = BucketLow(i) + (BucketHigh(i) - BucketLow(i)) / 2;
      return std::clamp(mid, min_ns_, max_ns_);
    }
  }
  return max_ns_;
}

}  // namespace nvmpath::cli
