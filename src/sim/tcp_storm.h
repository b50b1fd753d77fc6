// The TCP storm: the remap storm's faults, played by the real target against the real multipath
// host over NVMe/TCP, on reactor::Sim (issue 4 item 6). One SimWorld per seed holds the host (two
// reactors: mpath::MultipathHost, its controllers, namespace scans and heads) and the target (one
// reactor: target::Target with file-backed namespaces, so their data survives a restart), joined
// by the simulated network. Ports are laid out like blktests nvme/058: each namespace has its own
// ANA group, optimized behind one port, non-optimized behind the next, inaccessible behind the
// rest. A verify workload runs on every head from every host reactor while a seeded schedule
// plays, on the target and on the network:
//   port disabled and re-enabled; ANA state flips (optimized, non-optimized, inaccessible,
//   change); a namespace removed from the subsystem and re-added; a resize (the namespace is
//   removed, its file grown, and re-added in one step: a file backend takes the file's size);
//   injected errors (path, ANA, namespace-gone and retryable statuses); responses delayed or
//   stalled past the I/O timeout; connections dropped; late writes (stale writes landing after
//   their connection closed, inside the target's CQT) followed by a drop; a path's link cut,
//   refusing connects, black-holed or slow, and received bytes chunked or not; the target
//   killed (stopped and destroyed, in-flight commands unanswered) and restarted later from the
//   same config, ports and files.
// sim::InvariantChecker watches every Bio as it completes; after each event new violations are
// logged against it. At the end every fault is healed, the workloads drain, every path must come
// back, every block is read back once, and the checker must report nothing: every Bio completed
// exactly once, no application error while its head had a usable path, no verify mismatch.
//
// A run is a pure function of its options (seed included): a failing seed replays exactly with
// `nvmpath sim --scenario tcp-storm --seeds N --verbose`.
//
// Files: the namespaces live in a fresh directory under $TMPDIR (or /tmp), removed at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/time.h"
#include "sim/remap_storm.h"

namespace nvmpath::sim {

// The target's Command Quiesce Time and the host's keep-alive timeout in the storm.
inline constexpr Duration kTcpStormCqt = std::chrono::milliseconds(3);
inline constexpr Duration kTcpStormKato = std::chrono::milliseconds(20);

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
  // write held in a black-holed link (see tcp_storm.cc). Set to the CQT alone to see why not.
  std::optional<Duration> fence_delay;
  // The host's and target's own warnings (every fault makes some) are silenced for the run.
  bool quiet_logs = true;
  // Bugs on purpose, to show the storm catches them (tests only):
  // the host fails writes over without waiting for the write fence (ControllerOptions), so a late
  // write lands over newer data;
  bool TEST_disable_write_fence = false;
  // the target loses acknowledged data: every event zeroes a few blocks of the first
  // namespace's file behind the target's back.
  bool TEST_target_loses_data = false;
};

// The remap storm's totals, plus what only the TCP storm has.
struct TcpStormResult : ScenarioReport {
  int heads = 0;
  int ports = 0;
  uint64_t target_restarts = 0;
  uint64_t associations = 0;   // controller associations, the first ones included
  uint64_t fenced_writes = 0;  // writes held for the write fence after a lost connection
  uint64_t virtual_us = 0;     // virtual time the seed took
};

// Runs one seed. `on_event`, if given, receives a line per fault event and per new violation
// ("t=1.234ms port 2 disabled"), for timelines and debugging.
TcpStormResult RunTcpStorm(const TcpStormOptions& options,
                           const std::function<void(const std::string&)>& on_event = nullptr);

// "nvmpath sim --scenario tcp-storm --seeds 17": the command that replays `seed`.
std::string TcpStormReplayCommand(uint64_t seed);

}  // namespace nvmpath::sim
