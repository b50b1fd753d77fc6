// LatencyHistogram: I/O latencies in nanoseconds, in log-linear buckets (HdrHistogram's layout):
// values below 2^kSubBucketBits ns each have a bucket, and every further power of two is split
// into 2^(kSubBucketBits-1) equal buckets, so a bucket is at most 1/32 of its value wide (≤3.2%
// error) from 1 ns to over an hour, in a fixed array. Record is a few instructions and never
// allocates, so each bench I/O thread keeps its own histogram and they are merged at the end.
//
// Thread: one owner; Merge and the queries after the owner stops recording.
#pragma once

#include <array>
#include <cstdint>

namespace nvmpath::cli {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 6;  // 64 buckets below 64 ns
  static constexpr int kMaxValueBits = 42;  // 2^42 ns ≈ 73 min; above is clamped
  static constexpr int kHalf = 1 << (kSubBucketBits - 1);
  static constexpr int kBucketCount = (kMaxValueBits - kSubBucketBits + 2) * kHalf;

  void Record(uint64_t ns) {
    ++counts_[BucketOf(ns)];
    ++count_;
    sum_ns_ += ns;
    if (ns > max_ns_) max_ns_ = ns;
    if (ns < min_ns_) min_ns_ = ns;
  }
  void Merge(const LatencyHistogram& other);
  void Clear() { *this = LatencyHistogram(); }

  uint64_t count() const { return count_; }
  uint64_t max_ns() const { return count_ == 0 ? 0 : max_ns_; }
  uint64_t min_ns() const { return count_ == 0 ? 0 : min_ns_; }
  double mean_ns() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_ns_) / count_; }
  // The value below or at which `fraction` (0..1] of the recorded values lie: the middle of the
  // bucket holding that rank, clamped to [min, max]. 0 when empty.
  uint64_t Percentile(double fraction) const;

  // Bucket arithmetic, public for the tests.
  static int BucketOf(uint64_t ns);
  static uint64_t BucketLow(int bucket);   // smallest value in the bucket
  static uint64_t BucketHigh(int bucket);  // largest value in the bucket

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
  uint64_t max_ns_ = 0;
  uint64_t min_ns_ = UINT64_MAX;
};

}  // namespace nvmpath::cli
