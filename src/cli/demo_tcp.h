// cli::RunTcpDemo — what `nvmpath demo` (and `make demo`) plays: the multipath host against an
// embedded target over real NVMe/TCP on 127.0.0.1, with a verify workload running while the
// target breaks things on a schedule.
//
// The target (one subsystem, one file-backed namespace, two ports on free loopback ports, ANA
// optimized on both) runs on its own reactor::Uring thread; the host (mpath::MultipathHost, two
// controllers, round-robin policy, queue_if_no_path) and the VerifyWorkload run on a second
// Uring driven by the calling thread, which also samples what the host does after every loop
// turn. The demo is a sim::Fabric run by the scenario runner (sim/runner.h), as the storms are:
// its schedule is a list of sim::Fault played on the target through sim::ApplyToTarget (posted to
// the target's thread), the runner's invariant checker watches every Bio, and the heal, drain,
// path check and read-back at the end are the runner's.
//
// The schedule, as fractions of the run: port 1 disabled and re-enabled; ANA flips (port 1
// inaccessible, then port 1 optimized / port 2 non-optimized, then both optimized); the
// namespace detached behind port 2 and attached again (that path leaves the head and returns
// while port 1 keeps serving); the namespace removed from the subsystem and added back (both
// paths lose it: the head has no path and queues its I/O until it returns; the file backend
// keeps the data); the namespace grown to twice its size (the target extends the file); the
// connections of port 2 dropped, then those of both ports. Each event gets a window until the
// next one, in which the host's reaction is measured: path state transitions with their times,
// failovers, requeues, application errors, I/O per path, and the longest pause without a
// completion. demo_report.h shows a result.
//
// Nothing is simulated: the numbers are the head's counters (overall and per path, collected with
// Head::CollectStats, no test hook) and the workload's verify results. At the end the workload
// stops and reads back every block.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/latency_histogram.h"
#include "base/time.h"
#include "nvmpath/status.h"

namespace nvmpath::cli {

struct TcpDemoOptions {
  // How long the workload runs while the faults are played (the events scale with it).
  Duration run = std::chrono::seconds(20);
  // Tests only, to show the demo's checks firing. The re-added namespace is a fresh memory
  // namespace instead of the same file: reads find the data gone (verify mismatches).
  bool TEST_lose_data_on_readd = false;
  // The head does not queue while no path exists: I/O fails while the namespace is away
  // (application errors).
  bool TEST_fail_without_path = false;
};

// One line of a window: something the host did, `at` after the event.
struct DemoNote {
  Duration at{0};
  std::string what;
};

// One fault event and what the host did until the next one.
struct DemoEvent {
  Duration at{0};        // since the workload started
  std::string what;      // "port 1 disabled"
  Status status;         // what the target said to the control call
  std::vector<DemoNote> notes;
  Duration window{0};
  uint64_t completed = 0;  // I/Os completed OK in the window
  uint64_t errors = 0;     // application-visible errors in the window
  uint64_t failovers = 0;
  uint64_t requeues = 0;
  uint64_t retries = 0;
  std::array<uint64_t, 2> path_ios{};  // attempts sent on each path in the window
  Duration longest_pause{0};           // the longest time without any I/O completing
  // Failover gaps of the I/Os that completed in the window (a gap that began in the previous
  // window and ended in this one counts here). Extremes within a bucket (Subtract).
  StatsHistogram failover_gap;
};

struct TcpDemoResult {
  // Not OK: the demo could not start or shut down (io_uring, ports, file, host start).
  Status setup;
  std::array<std::string, 2> paths;  // "127.0.0.1:<port>"
  std::vector<DemoEvent> events;
  Duration run{0};
  uint64_t ios = 0;          // the workload's I/Os (completed, OK or not)
  uint64_t app_errors = 0;   // errors the workload (the application) saw
  uint64_t head_errors = 0;  // the head's count of the same, as a cross-check
  uint64_t failovers = 0;
  uint64_t requeues = 0;
  uint64_t retries = 0;
  std::array<uint64_t, 2> path_ios{};
  StatsHistogram failover_gap;  // the head's, over the whole run (mpath::HeadStats)
  uint64_t blocks_verified = 0;  // during the run and in the final read-back
  uint64_t readback_blocks = 0;  // of those, in the final read-back
  uint64_t mismatches = 0;
  // Host loop turns that took over 200 ms: the host's thread did not run (a busy machine); the
  // timeline notes each, since timers (I/O timeout, keep-alive) fire late after one.
  uint64_t slow_turns = 0;
  // Why the demo fails (application errors, mismatches, a control call refused, a path that did
  // not come back); empty when it passes.
  std::vector<std::string> failures;

  // 0: passed; 1: a failure above; 2: the demo could not start.
  int exit_code() const;
};

using DemoProgress = std::function<void(const std::string& text)>;

// Runs the demo. `progress` (may be empty) gets each event's timeline block when its window ends.
TcpDemoResult RunTcpDemo(const TcpDemoOptions& options, const DemoProgress& progress);

}  // namespace nvmpath::cli
