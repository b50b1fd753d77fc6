// The TCP storm: the remap storm's idea played by the real target against the real multipath
// host over NVMe/TCP, on reactor::Sim (issue 4 item 6). It is the scenario runner (runner.h) over
// TcpFabric (tcp_fabric.h: the target with file-backed namespaces and the host on two reactors,
// joined by the simulated network), with a seeded schedule (schedule.h, TcpStormMix) of:
//   ports disabled and re-enabled; ANA flips (optimized, non-optimized, inaccessible, change);
//   namespaces removed from the subsystem and added back, detached behind one port and attached
//   again, grown; injected errors (path, ANA, namespace-gone and retryable statuses); responses
//   delayed or stalled past the I/O timeout; connections dropped; late writes (stale writes
//   landing after their connection closed, inside the target's CQT) followed by a drop; a path's
//   link cut, refusing connects, black-holed or slow, and received bytes chunked or not; the
//   target killed (stopped and destroyed, in-flight commands unanswered) and restarted later from
//   the same config, ports and files.
// sim::InvariantChecker watches every Bio as it completes; after each event new violations are
// logged against it. At the end every fault is healed, the workloads drain, every path must come
// back, every block is read back once, and the checker must report nothing: every Bio completed
// exactly once, no application error while its head had a usable path, no verify mismatch.
//
// A run is a pure function of its options (seed included): a failing seed replays exactly with
// `nvmpath sim --scenario tcp-storm --seeds N --verbose`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/time.h"
#include "sim/runner.h"
#include "sim/tcp_fabric.h"

namespace nvmpath::sim {

// The target's Command Quiesce Time and the host's keep-alive timeout in the storm.
inline constexpr Duration kTcpStormCqt = kTcpFabricCqt;
inline constexpr Duration kTcpStormKato = kTcpFabricKato;

struct TcpStormOptions {
  uint64_t seed = 1;
  int events = 30;
  Duration mean_gap = std::chrono::microseconds(1500);
  int heads = 0;          // namespaces (heads), 1..4; 0: 1 or 2, chosen by the seed
  int ports = 0;          // target ports (paths per head), 2..4; 0: 2, 3 or 4, chosen by the seed
  int reactors = 2;       // host reactors; each runs a workload on every head
  uint64_t blocks = 128;  // per head, split between the reactors' workloads
  uint32_t block_size = 512;
  uint32_t queue_depth = 2;  // per workload
  // One-way delay of every link. Long enough that a seed is a few thousand I/Os, not a million:
  // the storm spends its virtual time on timeouts and reconnects, not on raw I/O.
  Duration link_latency = std::chrono::microseconds(40);
  // The host's write fence (ControllerOptions::fence_delay); unset: KATO + CQT, which covers a
  // write held in a black-holed link. Set to the CQT alone to see why not.
  std::optional<Duration> fence_delay;
  // QoS limits on every head and every path (depth, IOPS and bandwidth drawn from the seed, from a
  // generator of their own so the fault schedule of a seed does not change with it); at quiesce
  // every limiter must have every ticket back and nobody waiting.
  bool qos = true;
  // The host's and target's own warnings (every fault makes some) are silenced for the run.
  bool quiet_logs = true;
  // Bugs on purpose, to show the storm catches them (tests only):
  // the host fails writes over without waiting for the write fence, so a late write lands over
  // newer data;
  bool TEST_disable_write_fence = false;
  // the target loses acknowledged data: after every event a few blocks of the first namespace's
  // file go back to zeroes behind the target's back (fault::LoseData).
  bool TEST_target_loses_data = false;
};

// The schedule a seed plays, with the heads and ports it chose (when options left them 0).
struct TcpStormPlan {
  int heads = 0;
  int ports = 0;
  Schedule schedule;
};
TcpStormPlan TcpStormSchedule(const TcpStormOptions& options);

// Runs one seed. `on_event`, if given, receives a line per fault played and per new violation
// ("t=1.234ms port 2 disabled"), for timelines and debugging.
ScenarioReport RunTcpStorm(const TcpStormOptions& options,
                           const std::function<void(const std::string&)>& on_event = nullptr);

// "nvmpath sim --scenario tcp-storm --seeds 17": the command that replays `seed`.
std::string TcpStormReplayCommand(uint64_t seed);

}  // namespace nvmpath::sim
