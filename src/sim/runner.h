// sim::RunScenario — the one runner every scenario goes through: the remap storm, the TCP storm,
// `nvmpath demo` (TCP and --sim) and the end-to-end fault tests that play schedules.
//
//   start the fabric → a verify workload per head per host reactor → play the schedule (each
//   fault at its time; after each event, the invariant checker's new violations and the fabric's
//   own checks, then the step's own expectations: expectation.h) → heal → drain the workloads →
//   every path back → read every block back once → quiesce check → one ScenarioReport.
//
// A run on a simulated fabric is a pure function of (fabric, schedule, options): the seed that
// drew the schedule and built the world replays it exactly. The runner itself draws nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/time.h"
#include "sim/fabric.h"
#include "sim/schedule.h"

namespace nvmpath::sim {

// What a scenario reports. The totals a fabric does not have stay 0.
struct ScenarioReport {
  uint64_t seed = 0;
  uint64_t events = 0;  // the schedule's events played (undo entries not counted)
  uint64_t ios = 0;
  std::vector<uint64_t> head_ios;  // of those, per head (fabric.heads() order)
  uint64_t app_errors = 0;  // errors the application saw (allowed only while no path was usable)
  uint64_t blocks_verified = 0;
  uint64_t readback_blocks = 0;  // of those, in the final read-back
  uint64_t mismatches = 0;
  uint64_t failovers = 0;
  uint64_t requeues = 0;
  uint64_t retries = 0;
  int heads = 0;
  int ports = 0;
  uint64_t target_restarts = 0;
  uint64_t associations = 0;   // controller associations, the first ones included
  uint64_t fenced_writes = 0;  // writes held for the write fence after a lost connection
  uint64_t run_us = 0;         // time the run took on the fabric's clock
  // Faults the model refused, invariants broken, expectations not met, paths that did not come
  // back, hangs.
  std::vector<std::string> violations;
  bool hung = false;  // the fabric could not be stopped: keep it alive
  bool ok() const { return violations.empty(); }
};

enum class Phase {
  kStarted,  // the workloads are running; the first fault is next
  kPlayed,   // the schedule has played (and run_for has passed); the heal is next
};

struct ScenarioOptions {
  uint64_t seed = 1;  // for the workloads' choices and the report
  // The verify workload: one per head per host reactor, each on its share of `blocks`.
  uint64_t blocks = 128;
  uint32_t block_size = 512;
  uint32_t queue_depth = 4;
  uint32_t max_blocks_per_io = 4;
  Duration error_backoff = std::chrono::microseconds(100);
  // The schedule plays for at least this long (from the workloads' start) before the heal.
  Duration run_for{0};
  // How long each phase of the end (drain, paths back, read-back) may take.
  Duration settle_limit = std::chrono::seconds(10);
  // A line per fault played and per new violation ("t=1.234ms port 2 disabled").
  std::function<void(const std::string&)> on_line;
  // Right before / after each entry plays, for observers that measure between faults (the demo).
  std::function<void(const TimedFault&)> before_fault;
  std::function<void(const TimedFault&, const Status&)> after_fault;
  std::function<void(Phase)> on_phase;
};

ScenarioReport RunScenario(Fabric& fabric, const Schedule& schedule,
                           const ScenarioOptions& options);

}  // namespace nvmpath::sim
