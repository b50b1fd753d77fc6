// mpath::Head::Shard — one reactor's share of a head, and that reactor's HeadChannel. Private to
// the head's own files (head.cc: data path and control; head_stats.cc: statistics).
#pragma once

#include <array>
#include <memory>

#include "base/latency_histogram.h"
#include "blk/qos.h"
#include "mpath/counters.h"
#include "mpath/head.h"
#include "nvme/status.h"

namespace nvmpath::mpath {

// One reactor's statistics of one path slot. Made at the slot's first dispatch on this reactor,
// not up front: with its latency histogram it is about 1.5 KB, and a host may hold thousands of
// namespace-paths over many reactors of which most never send on most paths (the memory budget is
// per namespace-path whatever the reactor count). A slot that never saw I/O here costs a pointer.
struct PathShardStats {
  PathCounters counters;  // in_flight is Shard::in_flight's (the policy reads that one)
  StatsHistogram latency;
  std::unique_ptr<StatsHistogram> failover_gap;  // made at the first gap
  // The last attempt error; formatted only when read, so the data path never allocates for it.
  nvme::NvmeStatus last_error;
  TimePoint last_error_at{};
};

struct Head::Shard final : HeadChannel {
  Shard(Head* head, reactor::Reactor* r) : HeadChannel(head, r), reactor(r) {}

  // This reactor's statistics of `slot`, made at first use.
  PathShardStats& path_stats_of(uint16_t slot) {
    auto& p = path_stats[slot];
    if (!p) [[unlikely]] p = std::make_unique<PathShardStats>();
    return *p;
  }

  unsigned index = 0;
  reactor::Reactor* const reactor;
  std::array<SlotSink, kMaxPaths> sinks;
  std::shared_ptr<const PathSet> set;
  uint64_t generation = 0;
  PolicyCursor cursor;
  std::array<uint32_t, kMaxPaths> in_flight{};
  std::array<std::unique_ptr<PathShardStats>, kMaxPaths> path_stats;
  std::array<bool, kMaxPaths> draining{};
  HeadCounters counters;
  // Made at the first completion / first gap on this reactor, for the same reason as
  // PathShardStats.
  std::unique_ptr<StatsHistogram> latency;
  std::unique_ptr<StatsHistogram> failover_gap;
  LastError last_error;
  blk::Bio* queue_head = nullptr;
  blk::Bio* queue_tail = nullptr;
  bool requeue_posted = false;
  bool in_submit = false;
  reactor::TimerId deadline_timer = reactor::kNoTimer;
  std::unique_ptr<blk::Limiter> qos;
  int numa_node = -1;  // this reactor's CPU's node, read on the reactor at each install
};

// `h`, made if it is not there yet.
inline StatsHistogram& MadeHistogram(std::unique_ptr<StatsHistogram>& h) {
  if (!h) [[unlikely]] h = std::make_unique<StatsHistogram>();
  return *h;
}

}  // namespace nvmpath::mpath
