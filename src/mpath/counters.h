// Per-path and per-head counters. Each reactor keeps its own (no sharing on the data path); the
// head sums them on request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "blk/qos.h"

namespace nvmpath::mpath {

struct PathCounters {
  uint64_t ios = 0;        // attempts dispatched
  uint64_t bytes = 0;
  uint64_t errors = 0;     // attempts that ended with a non-success status
  uint64_t failovers = 0;  // attempts failed over away from this path
  uint64_t retries = 0;    // same-path retries
  uint64_t in_flight = 0;
  blk::QosCounters qos;    // the path's own QoS limiters (zero without limits)

  void Add(const PathCounters& o) {
    ios += o.ios;
    bytes += o.bytes;
    errors += o.errors;
    failovers += o.failovers;
    retries += o.retries;
    in_flight += o.in_flight;
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
    qos.Add(o.qos);
  }
};

struct PathStats {
  std::string name;
  PathCounters counters;
};

struct HeadStats {
  HeadCounters head;
  std::vector<PathStats> paths;  // the paths in the set now, in slot order
};

}  // namespace nvmpath::mpath
