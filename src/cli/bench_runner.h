// RunBench: the engine of `nvmpath bench`. Each of the client's I/O threads keeps `qd` I/Os of
// the workload in flight on one Device: the first `qd` are submitted from a task posted with
// RunOnIoThread, and every completion callback (which runs on the same I/O thread) records the
// latency and submits the slot's next I/O — so the bench measures the host, with no thread hop
// per I/O. Per-slot buffers and per-thread histograms are allocated before the run; the
// calls a completion makes allocate nothing of the bench's own.
//
// The calling thread samples the totals once a second for the progress line and waits for the
// I/O threads to retire their slots after the time or I/O budget runs out.
//
// Thread: RunBench from an application thread (not an I/O thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

#include "cli/bench_report.h"
#include "cli/workload.h"
#include "nvmpath/client.h"

namespace nvmpath::cli {

struct BenchOptions {
  Workload workload = Workload::kRandRead;
  uint32_t bs_bytes = 4096;
  unsigned qd = 1;  // per I/O thread
  std::chrono::milliseconds time{10000};
  uint64_t io_count = 0;       // 0: no limit (time only); verify: a write and its read-back are 2
  uint64_t size_bytes = 0;     // the region from LBA 0; 0: the whole device
  unsigned read_percent = 50;  // randrw
  uint64_t seed = 1;
  // How long to wait past the end for I/Os in flight before cancelling them (closing the client).
  std::chrono::milliseconds drain_timeout{40000};
};

// Checks the options against the device: bs a multiple of the block size and within
// max_io_blocks, the region inside the device, enough chunks for every thread (and, for verify,
// at least qd chunks per thread, so no two I/Os in flight touch one chunk). Errors name the flag.
Status CheckBenchOptions(const BenchOptions& o, const Device& dev, unsigned threads);

// Runs the workload. `progress` (may be empty) is called on the calling thread about once a
// second with the totals so far; `stop` (may be null) ends the run early when it turns true
// (SIGINT). If I/Os are still in flight drain_timeout after the end, the client is closed (they
// complete cancelled) and the result counts them in `unfinished`.
Result<BenchResult> RunBench(Client& client, Device& dev, const BenchOptions& options,
                             const std::function<void(const BenchProgress&)>& progress,
                             const std::atomic<bool>* stop);

}  // namespace nvmpath::cli
