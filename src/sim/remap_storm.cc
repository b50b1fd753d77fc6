#include "sim/remap_storm.h"

#include <fmt/format.h>

#include <memory>
#include <vector>

#include "sim/mem_fabric.h"

namespace nvmpath::sim {

Schedule RemapStormSchedule(const StormOptions& o) {
  StormShape shape;
  shape.ports = o.ports;
  shape.namespaces = o.heads;
  shape.events = o.events;
  shape.mean_gap = o.mean_gap;
  shape.io_timeout = std::chrono::microseconds(250);  // stalls of 50..500 us
  return MakeStormSchedule(o.seed, RemapStormMix(), shape);
}

ScenarioReport RunRemapStorm(const StormOptions& o,
                             const std::function<void(const std::string&)>& on_event) {
  MemFabricOptions fo;
  fo.seed = o.seed;
  fo.heads = o.heads;
  fo.ports = o.ports;
  fo.reactors = o.reactors;
  fo.blocks = o.blocks;
  fo.block_size = o.block_size;
  fo.TEST_fault = o.TEST_fault;
  auto fabric = std::make_unique<MemFabric>(fo);
  ScenarioOptions so;
  so.seed = o.seed;
  so.blocks = o.blocks;
  so.block_size = o.block_size;
  so.queue_depth = o.queue_depth;
  so.on_line = on_event;
  ScenarioReport report = RunScenario(*fabric, RemapStormSchedule(o), so);
  // A hung run cannot be torn down (Bios are still owned by paths): keep it reachable for the
  // life of the process (so leak checkers stay quiet) and report the seed.
  if (report.hung) {
    static auto* hung_runs = new std::vector<std::unique_ptr<MemFabric>>;
    hung_runs->push_back(std::move(fabric));
  }
  return report;
}

std::string ReplayCommand(uint64_t seed) {
  return fmt::format("nvmpath sim --scenario remap-storm --seeds {}", seed);
}

}  // namespace nvmpath::sim
