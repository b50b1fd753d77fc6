// Per-path and per-head statistics. Each reactor keeps its own (no sharing, no atomics on the data
// path); the head merges them on request (Head::CollectStats) into HeadStats, the one data model
// every reader renders: the client API's DeviceCounters, `bench --json`, `host-ctl stats`, the
// metrics, the demo's summary. docs/ARCHITECTURE.md "Statistics" says what each figure measures.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/latency_histogram.h"
#include "base/time.h"
#include "blk/io_class.h"
#include "blk/qos.h"

namespace nvmpath::mpath {

struct OpCount {
  uint64_t ios = 0;
  uint64_t bytes = 0;
};

// I/Os and bytes by blk::OpClass, errors by blk::ErrorClass.
using OpCounts = std::array<OpCount, blk::kOpClassCount>;
using ErrorCounts = std::array<uint64_t, blk::kErrorClassCount>;

inline void AddOps(OpCounts& to, const OpCounts& from) {
  for (int i = 0; i < blk::kOpClassCount; ++i) {
    to[i].ios += from[i].ios;
    to[i].bytes += from[i].bytes;
  }
}
inline void AddErrors(ErrorCounts& to, const ErrorCounts& from) {
  for (int i = 0; i < blk::kErrorClassCount; ++i) to[i] += from[i];
}

// The most recent error, on the reactor's monotonic clock (readers turn it into wall-clock time).
struct LastError {
  bool set = false;
  TimePoint at{};
  blk::ErrorClass error_class = blk::ErrorClass::kGeneric;
  // The NVMe status ("Asymmetric Access Inaccessible (SCT 3h SC 02h)") or the Status text.
  std::string what;

  // Keeps the later of the two.
  void Merge(const LastError& o) {
    if (o.set && (!set || o.at > at)) *this = o;
  }
};

struct PathCounters {
  uint64_t ios = 0;           // attempts dispatched
  uint64_t bytes = 0;
  uint64_t errors = 0;        // attempts that ended with a non-success status
  uint64_t failovers = 0;     // attempts failed over away from this path ("out")
  uint64_t failovers_in = 0;  // attempts dispatched here right after failing over from a path
  uint64_t retries = 0;       // same-path retries
  uint64_t in_flight = 0;
  OpCounts by_op{};           // attempts dispatched, by operation (sums to ios / bytes)
  ErrorCounts errors_by_class{};  // sums to errors
  blk::QosCounters qos;       // the path's own QoS limiters (zero without limits)

  void Add(const PathCounters& o) {
    ios += o.ios;
    bytes += o.bytes;
    errors += o.errors;
    failovers += o.failovers;
    failovers_in += o.failovers_in;
    retries += o.retries;
    in_flight += o.in_flight;
    AddOps(by_op, o.by_op);
    AddErrors(errors_by_class, o.errors_by_class);
    qos.Add(o.qos);
  }
};

struct HeadCounters {
  uint64_t submitted = 0;
  uint64_t completed = 0;   // completed OK
  uint64_t errors = 0;      // completed with an error (application-visible)
  uint64_t failovers = 0;
  uint64_t retries = 0;
  uint64_t requeues = 0;    // times a Bio entered the requeue list
  uint64_t no_path = 0;     // errors because no path could serve the I/O
  uint64_t outstanding = 0; // submitted, not completed
  uint64_t queued = 0;      // waiting for a usable path at the moment the stats were read
  OpCounts by_op{};         // submitted, by operation
  ErrorCounts errors_by_class{};  // application-visible errors; sums to errors
  blk::QosCounters qos;     // the head's QoS limiters (zero without limits)

  void Add(const HeadCounters& o) {
    submitted += o.submitted;
    completed += o.completed;
    errors += o.errors;
    failovers += o.failovers;
    retries += o.retries;
    requeues += o.requeues;
    no_path += o.no_path;
    outstanding += o.outstanding;
    queued += o.queued;
    AddOps(by_op, o.by_op);
    AddErrors(errors_by_class, o.errors_by_class);
    qos.Add(o.qos);
  }
};

struct PathStats {
  std::string name;
  PathCounters counters;
  StatsHistogram latency;       // each attempt: dispatch on this path → its end, any status
  StatsHistogram failover_gap;  // Bios that failed over from this path (see HeadStats)
  LastError last_error;         // the last attempt that ended with an error here
};

struct HeadStats {
  HeadCounters head;
  StatsHistogram latency;  // each Bio: Submit → completion to the application, any status
  // Each Bio that failed over and then completed OK: from the end of its failed attempt (for a
  // write held for the stale-write fence, from when its connection was lost) to its completion.
  // A Bio that failed over more than once counts once, from its first failure.
  StatsHistogram failover_gap;
  LastError last_error;    // the last error the application saw
  TimePoint collected_at{};  // the home reactor's clock when these were gathered
  std::vector<PathStats> paths;  // the paths in the set now, in slot order
};

}  // namespace nvmpath::mpath
