#include "sim/tcp_storm.h"

#include <fmt/format.h>

#include <memory>
#include <vector>

#include "base/log.h"
#include "reactor/sim_random.h"

namespace nvmpath::sim {

TcpStormPlan TcpStormSchedule(const TcpStormOptions& o) {
  reactor::SimRandom rng(o.seed ^ 0x7C95A3D1E4B2F068ull);
  TcpStormPlan plan;
  plan.heads = o.heads != 0 ? o.heads : static_cast<int>(rng.Between(1, 2));
  plan.ports = o.ports != 0 ? o.ports : static_cast<int>(rng.Between(2, 4));
  StormShape shape;
  shape.ports = plan.ports;
  shape.namespaces = plan.heads;
  shape.events = o.events;
  shape.mean_gap = o.mean_gap;
  shape.io_timeout = kTcpFabricIoTimeout;
  shape.link_latency = o.link_latency;
  plan.schedule = MakeStormSchedule(o.seed, TcpStormMix(), shape);
  if (o.TEST_target_loses_data) {
    Schedule with_loss;
    for (const TimedFault& e : plan.schedule) {
      with_loss.push_back(e);
      if (!e.primary) continue;
      const uint64_t lba = rng.Below(o.blocks - 4);
      with_loss.push_back({e.at, fault::LoseData{0, lba, 4}, false});
    }
    plan.schedule = std::move(with_loss);
  }
  return plan;
}

ScenarioReport RunTcpStorm(const TcpStormOptions& o,
                           const std::function<void(const std::string&)>& on_event) {
  const base::LogLevel level = base::CurrentLogLevel();
  if (o.quiet_logs) base::SetLogLevel(base::LogLevel::kOff);
  TcpStormPlan plan = TcpStormSchedule(o);
  TcpFabricOptions fo;
  fo.seed = o.seed;
  fo.heads = plan.heads;
  fo.ports = plan.ports;
  fo.reactors = o.reactors;
  fo.blocks = o.blocks;
  fo.block_size = o.block_size;
  fo.link_latency = o.link_latency;
  fo.fence_delay = o.fence_delay;
  fo.TEST_disable_write_fence = o.TEST_disable_write_fence;
  fo.qos = o.qos;
  auto fabric = std::make_unique<TcpFabric>(fo);
  ScenarioOptions so;
  so.seed = o.seed;
  so.blocks = o.blocks;
  so.block_size = o.block_size;
  so.queue_depth = o.queue_depth;
  so.error_backoff = std::chrono::milliseconds(1);
  so.on_line = on_event;
  ScenarioReport report = RunScenario(*fabric, plan.schedule, so);
  report.heads = plan.heads;
  base::SetLogLevel(level);
  // A hung run cannot be torn down (Bios are still owned by paths, streams by the world): keep
  // it reachable for the life of the process, so leak checkers stay quiet, and report the seed.
  if (report.hung) {
    static auto* hung_runs = new std::vector<std::unique_ptr<TcpFabric>>;
    hung_runs->push_back(std::move(fabric));
  }
  return report;
}

std::string TcpStormReplayCommand(uint64_t seed) {
  return fmt::format("nvmpath sim --scenario tcp-storm --seeds {}", seed);
}

}  // namespace nvmpath::sim
