// mpath::Head's statistics: each reactor keeps its own (no sharing on the data path); these copy
// each reactor's off it (on that reactor) and merge the copies on home — on request across
// threads (CollectStats), or directly with the reactors stopped (TEST_Stats).
#include "mpath/head.h"
#include "mpath/head_shard.h"

namespace nvmpath::mpath {

// One reactor's statistics, copied on that reactor: plain values, so they may cross threads.
struct Head::ShardStats {
  HeadCounters head;
  StatsHistogram latency;
  StatsHistogram failover_gap;
  LastError last_error;
  // Only the slots this reactor has statistics of (PathStats::name is left empty).
  std::vector<std::pair<uint16_t, PathStats>> paths;
};

namespace {

LastError PathLastError(const PathShardStats& p) {
  LastError e;
  if (p.last_error.ok()) return e;
  e.set = true;
  e.at = p.last_error_at;
  e.error_class = blk::ErrorClassOf(p.last_error);
  e.what = p.last_error.ToString();
  return e;
}

}  // namespace

std::shared_ptr<Head::ShardStats> Head::CopyShardStats(const Shard& s) const {
  auto out = std::make_shared<ShardStats>();
  out->head = s.counters;
  for (const blk::Bio* b = s.queue_head; b != nullptr; b = b->next_) ++out->head.queued;
  if (s.qos) out->head.qos = s.qos->counters();
  if (s.latency) out->latency = *s.latency;
  if (s.failover_gap) out->failover_gap = *s.failover_gap;
  out->last_error = s.last_error;
  for (uint16_t k = 0; k < kMaxPaths; ++k) {
    const PathShardStats* p = s.path_stats[k].get();
    if (p == nullptr) continue;  // never dispatched to from here: nothing in flight, all zero
    PathStats ps;
    ps.counters = p->counters;
    ps.counters.in_flight = s.in_flight[k];
    ps.latency = p->latency;
    if (p->failover_gap) ps.failover_gap = *p->failover_gap;
    ps.last_error = PathLastError(*p);
    out->paths.emplace_back(k, std::move(ps));
  }
  // The paths' own limiters, through this reactor's channel of each path it can pick.
  if (s.set) {
    for (const PathEntry& e : s.set->paths) {
      for (auto& [slot, ps] : out->paths) {
        if (slot == e.slot) ps.counters.qos = e.path->Channel(s.index).qos_counters();
      }
    }
  }
  return out;
}

void Head::MergeShardStats(const std::vector<std::shared_ptr<ShardStats>>& shards,
                           HeadStats& stats) const {
  for (const auto& sh : shards) {
    stats.head.Add(sh->head);
    stats.latency.Merge(sh->latency);
    stats.failover_gap.Merge(sh->failover_gap);
    stats.last_error.Merge(sh->last_error);
  }
  for (uint16_t k = 0; k < kMaxPaths; ++k) {
    if (!slots_[k].path) continue;
    PathStats ps;
    ps.name = slots_[k].path->name();
    for (const auto& sh : shards) {
      for (const auto& [slot, p] : sh->paths) {
        if (slot != k) continue;
        ps.counters.Add(p.counters);
        ps.latency.Merge(p.latency);
        ps.failover_gap.Merge(p.failover_gap);
        ps.last_error.Merge(p.last_error);
      }
    }
    stats.paths.push_back(std::move(ps));
  }
  stats.collected_at = shards_reactors_[home_]->now();
}

HeadStats Head::TEST_Stats() const {
  std::vector<std::shared_ptr<ShardStats>> copies;
  for (const auto& s : shards_) copies.push_back(CopyShardStats(*s));
  HeadStats stats;
  MergeShardStats(copies, stats);
  return stats;
}

void Head::CollectStats(std::function<void(HeadStats)> done) {
  struct Gather {
    std::vector<std::shared_ptr<ShardStats>> copies;
    unsigned left = 0;
    std::function<void(HeadStats)> done;
  };
  auto g = std::make_shared<Gather>();
  g->left = static_cast<unsigned>(shards_.size());
  g->copies.resize(shards_.size());
  g->done = std::move(done);
  for (unsigned i = 0; i < shards_.size(); ++i) {
    PostTo(i, [this, i, g] {
      std::shared_ptr<ShardStats> copy = CopyShardStats(*shards_[i]);
      PostTo(home_, [this, i, g, copy = std::move(copy)] {
        g->copies[i] = copy;
        if (--g->left > 0) return;
        HeadStats stats;
        MergeShardStats(g->copies, stats);
        g->done(std::move(stats));
      });
    });
  }
}

}  // namespace nvmpath::mpath
