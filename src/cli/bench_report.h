// What `nvmpath bench` reports: the result of a run, its final table and JSON, and the live
// progress line. Pure formatting, so the tests check what a user reads without a target.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/latency_histogram.h"
#include "nvmpath/client.h"

namespace nvmpath::cli {

struct BenchPathIos {
  std::string name;  // "127.0.0.1:4420"
  uint64_t ios = 0;
  QosCounters qos;   // the path's QoS tickets issued / released during the run; waiting at its end
  LatencySummary latency;  // the path's attempts (sent → ended), from the host's path statistics
};

struct BenchResult {
  // The run.
  std::string workload;
  std::string device;  // "<subnqn>:ns<nsid>"
  uint32_t bs_bytes = 0;
  unsigned qd = 0;       // per I/O thread
  unsigned threads = 0;  // I/O threads
  uint64_t seed = 0;
  double seconds = 0;  // first submission to last completion
  // What happened.
  uint64_t ios = 0;     // completed, OK or not
  uint64_t bytes = 0;   // moved by OK I/Os
  uint64_t errors = 0;  // I/Os that completed with an error
  std::string first_error;
  FineLatencyHistogram latency;  // every completed I/O
  uint64_t failovers = 0;    // from the Device's counters, during the run
  uint64_t requeues = 0;
  LatencySummary failover_gap;  // the Device's (its I/Os that failed over and completed)
  std::vector<BenchPathIos> paths;  // attempts per path during the run
  QosCounters head_qos;             // the head's QoS, as BenchPathIos::qos
  uint64_t verify_blocks = 0;
  uint64_t verify_mismatches = 0;
  std::string first_mismatch;
  uint64_t unfinished = 0;  // I/Os still in flight when the run gave up waiting (then cancelled)

  double iops() const { return seconds > 0 ? ios / seconds : 0; }
  double mib_s() const { return seconds > 0 ? bytes / seconds / (1024.0 * 1024.0) : 0; }
};

// The final table a person reads.
std::string FormatBenchTable(const BenchResult& r);
// One object: iops, mib_s, lat_us {mean, p50, p99, p999, max}, errors, failovers, requeues,
// failover_gap_us (as a path's lat_us), paths [{name, ios, qos, lat_us {count, mean, p50, p99, p999, max, buckets}}], qos (the head's),
// verify {blocks, mismatches}, and the run's parameters. Each qos object: {issued, released,
// waiting}. A path's buckets: [{below_us, count}], cumulative, as LatencySummary::buckets.
nlohmann::json BenchJson(const BenchResult& r);

// Totals so far, sampled once a second while the run goes on.
struct BenchProgress {
  double seconds = 0;  // since the run started
  uint64_t ios = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  uint64_t failovers = 0;
  std::vector<BenchPathIos> paths;
};

// "  3s   45.1K IOPS  176.2 MiB/s  errors 0  failovers 0  127.0.0.1:4420 50%  127.0.0.1:4421
// 50%": rates over the interval from `before` to `now`, path shares of that interval's I/O.
std::string FormatProgressLine(const BenchProgress& before, const BenchProgress& now);

}  // namespace nvmpath::cli
