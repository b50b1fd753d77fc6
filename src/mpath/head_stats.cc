// mpath::Head's counters: each reactor keeps its own (no sharing on the data path); these sum
// them — on request across threads (CollectStats), or directly with the reactors stopped.
#include "mpath/head.h"
#include "mpath/head_shard.h"

namespace nvmpath::mpath {

HeadStats Head::TEST_Stats() const {
  HeadStats stats;
  std::vector<std::array<PathCounters, kMaxPaths>> per_shard;
  for (const auto& s : shards_) {
    stats.head.Add(ShardHeadCounters(*s));
    per_shard.push_back(ShardPathCounters(*s));
  }
  for (uint16_t i = 0; i < kMaxPaths; ++i) {
    if (!slots_[i].path) continue;
    PathStats ps;
    ps.name = slots_[i].path->name();
    for (const auto& arr : per_shard) ps.counters.Add(arr[i]);
    stats.paths.push_back(std::move(ps));
  }
  return stats;
}

HeadCounters Head::ShardHeadCounters(const Shard& s) const {
  HeadCounters hc = s.counters;
  if (s.qos) hc.qos = s.qos->counters();
  return hc;
}

std::array<PathCounters, kMaxPaths> Head::ShardPathCounters(const Shard& s) const {
  std::array<PathCounters, kMaxPaths> pcs = s.path_counters;
  for (int k = 0; k < kMaxPaths; ++k) pcs[k].in_flight = s.in_flight[k];
  // The paths' own limiters, through this reactor's channel of each path it can pick.
  if (s.set) {
    for (const PathEntry& e : s.set->paths) pcs[e.slot].qos = e.path->Channel(s.index).qos_counters();
  }
  return pcs;
}

void Head::CollectStats(std::function<void(HeadStats)> done) {
  struct Gather {
    HeadStats stats;
    std::vector<std::array<PathCounters, kMaxPaths>> per_shard;
    unsigned left = 0;
    std::function<void(HeadStats)> done;
  };
  auto g = std::make_shared<Gather>();
  g->left = static_cast<unsigned>(shards_.size());
  g->per_shard.resize(shards_.size());
  g->done = std::move(done);
  for (unsigned i = 0; i < shards_.size(); ++i) {
    PostTo(i, [this, i, g] {
      Shard& s = *shards_[i];
      std::array<PathCounters, kMaxPaths> pcs = ShardPathCounters(s);
      HeadCounters hc = ShardHeadCounters(s);
      PostTo(home_, [this, i, g, pcs, hc] {
        g->stats.head.Add(hc);
        g->per_shard[i] = pcs;
        if (--g->left > 0) return;
        for (uint16_t k = 0; k < kMaxPaths; ++k) {
          if (!slots_[k].path) continue;
          PathStats ps;
          ps.name = slots_[k].path->name();
          for (auto& arr : g->per_shard) ps.counters.Add(arr[k]);
          g->stats.paths.push_back(std::move(ps));
        }
        g->done(std::move(g->stats));
      });
    });
  }
}

}  // namespace nvmpath::mpath
