// The remap storm: blktests nvme/058 ("rapid namespace remapping") in the spirit of the seeds,
// on reactor::Sim. Two heads, each a namespace reached through several in-process paths laid out
// like 058's ports (one optimized, one non-optimized, the rest inaccessible), with a verify
// workload on every host reactor, while a seeded schedule (schedule.h, RemapStormMix) detaches
// namespaces behind ports and attaches them again (racing removal with dispatch), grows them,
// flips ANA states, drops controllers, injects path and transient errors, stalls and slows ports.
// It is the scenario runner (runner.h) over the in-process fabric (mem_fabric.h): the invariants
// of sim::InvariantChecker are checked after every event and at the end, after every path is
// healed and every block is read back once.
//
// A run is a pure function of its options (seed included): a failing seed replays exactly with
// `nvmpath sim --scenario remap-storm --seeds N`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/time.h"
#include "sim/mem_path.h"
#include "sim/runner.h"

namespace nvmpath::sim {

struct StormOptions {
  uint64_t seed = 1;
  int events = 40;
  Duration mean_gap = std::chrono::microseconds(300);
  int heads = 2;
  int ports = 3;     // paths per head, as in 058's per-namespace layout
  int reactors = 2;  // host reactors; each runs a workload on every head
  uint64_t blocks = 128;
  uint32_t block_size = 512;
  uint32_t queue_depth = 4;  // per workload
  // Give every path a bug on purpose, to show the checks catch it (tests only).
  MemPathFault TEST_fault = MemPathFault::kNone;
};

// The schedule a seed plays.
Schedule RemapStormSchedule(const StormOptions& options);

// Runs one seed. `on_event`, if given, receives a line per fault played and per new violation
// ("t=1.234ms port 2: namespace 1 ANA inaccessible"), for timelines and debugging.
ScenarioReport RunRemapStorm(const StormOptions& options,
                             const std::function<void(const std::string&)>& on_event = nullptr);

// "nvmpath sim --scenario remap-storm --seeds 17": the command that replays `seed`.
std::string ReplayCommand(uint64_t seed);

}  // namespace nvmpath::sim
