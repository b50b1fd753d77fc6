// What `nvmpath host --metrics` exports: a snapshot of every subsystem's controllers, heads and
// paths (TakeHostSnapshot), and its Prometheus text (RenderHostMetrics). Every metric, its type,
// labels and meaning: docs/metrics.md.
//
// Taking a snapshot asks each Client for Describe() and each Device for counters(): control
// calls that hop to the I/O threads and back, so the data path takes no lock and shares nothing
// with a scrape. Rendering is pure, so tests render synthetic snapshots.
//
// Thread: TakeHostSnapshot on any thread but an I/O thread (it waits for them); RenderHostMetrics
// anywhere.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "export/metrics_text.h"
#include "nvmpath/client.h"

namespace nvmpath::exports {

struct HeadSnapshot {
  std::string name;  // "nvmpath0n1"
  DeviceInfo info;
  DeviceCounters counters;
  // The counters' latency summaries as Prometheus histograms (PowerOfTwoHistogram): latency per
  // path name, and the head's failover gap. TakeHostSnapshot fills them; without them (a
  // synthetic snapshot) RenderHostMetrics writes no histogram family.
  std::vector<std::pair<std::string, HistogramData>> path_latency;
  std::optional<HistogramData> failover_gap;
};

struct SubsystemSnapshot {
  unsigned index = 0;  // S of nvmpath<S>n<NSID>
  std::string subnqn;
  std::vector<ControllerInfo> controllers;
  std::vector<HeadSnapshot> heads;
};

struct HostSnapshot {
  std::vector<SubsystemSnapshot> subsystems;
};

// `l`'s buckets as they are, in seconds: a LatencySummary bucket counts the values below 2^b ns,
// which (latencies being whole nanoseconds) are exactly those at most 2^b - 1 ns, so the bucket
// is written with le = (2^b - 1) ns and its count is exact. No re-bucketing, no estimate.
HistogramData PowerOfTwoHistogram(const LatencySummary& l);

// clients[S] is subsystem S (nullptr entries are skipped).
// REQUIRES: not on an I/O thread; the clients outlive the call.
HostSnapshot TakeHostSnapshot(const std::vector<Client*>& clients);

// The Prometheus text of `snapshot`.
std::string RenderHostMetrics(const HostSnapshot& snapshot);

// The histogram families, on their own so the histograms of the path statistics plug in here:
// nvmpath_path_latency_seconds (per path) and nvmpath_head_failover_gap_seconds (per head). A
// family is written only when some head has data for it.
void RenderHistogramFamilies(const HostSnapshot& snapshot, MetricsText& out);

}  // namespace nvmpath::exports
