// LatencyHistogram: latencies in nanoseconds, in log-linear buckets (HdrHistogram's layout):
// values below 2^SubBucketBits ns each have a bucket, and every further power of two is split
// into 2^(SubBucketBits-1) equal buckets, so a bucket is at most 2^(1-SubBucketBits) of its value
// wide, from 1 ns up to 2^MaxValueBits ns (larger values land in the last bucket; max() stays
// exact). Record is a few instructions and never allocates, so each I/O thread keeps its own
// histograms and they are merged when read.
//
// Two precisions are used (the aliases below):
//  - FineLatencyHistogram (`nvmpath bench`): 32 buckets per power of two (≤ 3.2% wide), 1,216
//    buckets, 9.7 KB — one per bench thread, so size does not matter.
//  - StatsHistogram (the host's path and head statistics, failover gaps): 4 buckets per power of
//    two (≤ 25% wide: a percentile is within 12.5% of the truth), 156 buckets up to 2^40 ns
//    (18 min), 1.3 KB. There is one per path per I/O thread that sent I/O on it, and a host may
//    hold thousands of namespace-paths (the memory budget is per namespace-path), so these are
//    coarse and allocated at a path's first I/O on a thread (mpath/head_shard.h), never up front.
// Power-of-two values are bucket boundaries at every precision, so CountBelow(2^k) is exact:
// what a Prometheus histogram with power-of-two `le` bounds needs.
//
// Thread: one owner; Merge and the queries after the owner stopped recording (or on a copy).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

#include "base/assert.h"

namespace nvmpath {

template <int SubBucketBits, int MaxValueBits>
class LatencyHistogram {
  static_assert(SubBucketBits >= 2 && MaxValueBits > SubBucketBits && MaxValueBits < 63);

 public:
  static constexpr int kSubBucketBits = SubBucketBits;
  static constexpr int kMaxValueBits = MaxValueBits;
  static constexpr int kHalf = 1 << (kSubBucketBits - 1);
  static constexpr int kBucketCount = (kMaxValueBits - kSubBucketBits + 2) * kHalf;

  void Record(uint64_t ns) {
    ++counts_[BucketOf(ns)];
    ++count_;
    sum_ns_ += ns;
    if (ns > max_ns_) max_ns_ = ns;
    if (ns < min_ns_) min_ns_ = ns;
  }
  void Merge(const LatencyHistogram& other) {
    for (int i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ns_ += other.sum_ns_;
    max_ns_ = std::max(max_ns_, other.max_ns_);
    min_ns_ = std::min(min_ns_, other.min_ns_);
  }
  void Clear() { *this = LatencyHistogram(); }
  // What was recorded since `earlier`, an earlier copy of this histogram (an interval's values
  // out of running totals). min and max become those of the buckets left (within a bucket).
  // REQUIRES: `earlier` is an earlier copy: no bucket holds more there than here.
  void Subtract(const LatencyHistogram& earlier) {
    for (int i = 0; i < kBucketCount; ++i) {
      NVMP_ASSERT(earlier.counts_[i] <= counts_[i], "subtracting a histogram that is not earlier");
      counts_[i] -= earlier.counts_[i];
    }
    count_ -= earlier.count_;
    sum_ns_ -= earlier.sum_ns_;
    min_ns_ = UINT64_MAX;
    max_ns_ = 0;
    for (int i = 0; i < kBucketCount; ++i) {
      if (counts_[i] == 0) continue;
      min_ns_ = std::min(min_ns_, BucketLow(i));
      max_ns_ = BucketHigh(i);
    }
  }

  uint64_t count() const { return count_; }
  uint64_t sum_ns() const { return sum_ns_; }
  uint64_t max_ns() const { return count_ == 0 ? 0 : max_ns_; }
  uint64_t min_ns() const { return count_ == 0 ? 0 : min_ns_; }
  double mean_ns() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_ns_) / count_; }
  uint64_t bucket_count(int bucket) const { return counts_[bucket]; }

  // The value below or at which `fraction` (0..1] of the recorded values lie (nearest rank): the
  // middle of the bucket holding that rank, clamped to [min, max]. 0 when empty.
  uint64_t Percentile(double fraction) const {
    if (count_ == 0) return 0;
    fraction = std::clamp(fraction, 0.0, 1.0);
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

  // How many recorded values are below `bound` ns. Exact when `bound` is a bucket boundary
  // (BucketLow of some bucket — every power of two is one); otherwise counts whole buckets
  // whose highest value is below `bound`.
  uint64_t CountBelow(uint64_t bound) const {
    uint64_t n = 0;
    for (int i = 0; i < kBucketCount && BucketHigh(i) < bound; ++i) n += counts_[i];
    return n;
  }

  // Bucket arithmetic. Values below 2^kSubBucketBits map to themselves. A larger value v whose
  // top bit is bit b is shifted right by r = b - kSubBucketBits + 1 (>= 1), which leaves v >> r
  // in [kHalf, 2*kHalf): its bucket is (r + 1) * kHalf + (v >> r) - kHalf, of width 2^r.
  static constexpr int BucketOf(uint64_t ns) {
    constexpr uint64_t kMax = (uint64_t{1} << kMaxValueBits) - 1;
    if (ns > kMax) ns = kMax;
    if (ns < (uint64_t{1} << kSubBucketBits)) return static_cast<int>(ns);
    const int top_bit = 63 - std::countl_zero(ns);
    const int r = top_bit - kSubBucketBits + 1;
    return (r + 1) * kHalf + static_cast<int>(ns >> r) - kHalf;
  }
  // The smallest value in the bucket.
  static constexpr uint64_t BucketLow(int bucket) {
    if (bucket < 2 * kHalf) return static_cast<uint64_t>(bucket);
    const int r = bucket / kHalf - 1;
    const uint64_t mantissa = static_cast<uint64_t>(bucket % kHalf + kHalf);
    return mantissa << r;
  }
  // The largest value in the bucket.
  static constexpr uint64_t BucketHigh(int bucket) {
    if (bucket < 2 * kHalf) return static_cast<uint64_t>(bucket);
    const int r = bucket / kHalf - 1;
    return BucketLow(bucket) + (uint64_t{1} << r) - 1;
  }

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
  uint64_t max_ns_ = 0;
  uint64_t min_ns_ = UINT64_MAX;
};

using FineLatencyHistogram = LatencyHistogram<6, 42>;
using StatsHistogram = LatencyHistogram<3, 40>;

}  // namespace nvmpath
