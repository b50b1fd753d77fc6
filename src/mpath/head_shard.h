// mpath::Head::Shard — one reactor's share of a head, and that reactor's HeadChannel. Private to
// the head's own files (head.cc: data path and control; head_stats.cc: counters).
#pragma once

#include <array>
#include <memory>

#include "blk/qos.h"
#include "mpath/head.h"

namespace nvmpath::mpath {

struct Head::Shard final : HeadChannel {
  Shard(Head* head, reactor::Reactor* r) : HeadChannel(head, r), reactor(r) {}

  unsigned index = 0;
  reactor::Reactor* const reactor;
  std::array<SlotSink, kMaxPaths> sinks;
  std::shared_ptr<const PathSet> set;
  uint64_t generation = 0;
  PolicyCursor cursor;
  std::array<uint32_t, kMaxPaths> in_flight{};
  std::array<PathCounters, kMaxPaths> path_counters{};
  std::array<bool, kMaxPaths> draining{};
  HeadCounters counters;
  blk::Bio* queue_head = nullptr;
  blk::Bio* queue_tail = nullptr;
  bool requeue_posted = false;
  bool in_submit = false;
  reactor::TimerId deadline_timer = reactor::kNoTimer;
  std::unique_ptr<blk::Limiter> qos;
  int numa_node = -1;  // this reactor's CPU's node, read on the reactor at each install
};

}  // namespace nvmpath::mpath
