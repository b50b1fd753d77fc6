#include "cli/bench_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "base/assert.h"

namespace nvmpath::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Counters one I/O thread writes and the calling thread samples: a single writer, so a plain
// load + store (no locked read-modify-write) is enough.
void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct ThreadRun;

// One I/O kept in flight: its buffer and what it is doing now.
struct Slot {
  ThreadRun* run = nullptr;
  std::vector<uint8_t> buf;
  IoSpec spec;
  bool verify_reading = false;  // verify: the write is done, the read-back is in flight
  Clock::time_point start;
};

// What one I/O thread drives. Everything but the atomics is touched only by that thread while
// the run goes on, and read by the calling thread after `done` (release/acquire).
struct ThreadRun {
  ThreadRun(Device* d, const BenchOptions& o, WorkloadRegion region, uint64_t seed,
            const std::atomic<bool>* stop)
      : dev(d),
        opts(o),
        block_size(d->block_size()),
        generator(o.workload, region, o.read_percent, seed),
        region(region),
        stop_all(stop) {}

  Device* dev;
  const BenchOptions& opts;
  uint32_t block_size;
  IoGenerator generator;
  WorkloadRegion region;
  const std::atomic<bool>* stop_all;
  std::vector<std::unique_ptr<Slot>> slots;
  FineLatencyHistogram latency;
  uint64_t budget = UINT64_MAX;  // I/Os this thread may start
  uint64_t started = 0;
  unsigned active = 0;
  Clock::time_point deadline;
  Clock::time_point first_submit;
  Clock::time_point last_complete;
  std::string first_error;
  std::string first_mismatch;

  std::atomic<uint64_t> ios{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> in_flight{0};
  std::atomic<uint64_t> verify_blocks{0};
  std::atomic<uint64_t> mismatches{0};
  std::atomic<bool> done{false};

  void Start() {
    first_submit = Clock::now();
    last_complete = first_submit;
    deadline = first_submit + opts.time;
    active = static_cast<unsigned>(slots.size());
    if (active == 0) return done.store(true, std::memory_order_release);
    for (auto& s : slots) Next(*s, first_submit);
  }

  // Starts the slot's next I/O, or retires the slot when the run is over.
  void Next(Slot& s, Clock::time_point now) {
    if (started >= budget || now >= deadline || stop_all->load(std::memory_order_relaxed)) {
      last_complete = std::max(last_complete, now);
      if (--active == 0) done.store(true, std::memory_order_release);
      return;
    }
    // A verify write brings its read-back along: two I/Os of the budget.
    started += opts.workload == Workload::kVerify ? 2 : 1;
    s.spec = generator.Next();
    if (opts.workload == Workload::kVerify) {
      FillVerifyChunk(s.buf, block_size, static_cast<uint32_t>(opts.seed), s.spec.lba,
                      s.spec.generation);
    }
    Submit(s, now);
  }

  void Submit(Slot& s, Clock::time_point now) {
    s.start = now;
    Bump(in_flight);
    Slot* slot = &s;
    auto done_cb = [slot](Status st) { slot->run->Complete(*slot, std::move(st)); };
    if (s.spec.op == IoOp::kRead || s.verify_reading) {
      dev->ReadAsync(s.spec.lba, region.chunk_blocks, s.buf, std::move(done_cb));
    } else {
      dev->WriteAsync(s.spec.lba, region.chunk_blocks, s.buf, std::move(done_cb));
    }
  }

  void Complete(Slot& s, Status st) {
    const Clock::time_point now = Clock::now();
    latency.Record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.start).count()));
    in_flight.store(in_flight.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    Bump(ios);
    last_complete = now;
    if (!st.ok()) [[unlikely]] {
      Bump(errors);
      if (first_error.empty()) first_error = st.ToString();
      s.verify_reading = false;
      return Next(s, now);
    }
    Bump(bytes, s.buf.size());
    if (opts.workload == Workload::kVerify) {
      if (!s.verify_reading) {
        s.verify_reading = true;
        return Submit(s, now);  // read back what was just written
      }
      s.verify_reading = false;
      VerifyOutcome v = CheckVerifyChunk(s.buf, block_size, static_cast<uint32_t>(opts.seed),
                                         s.spec.lba, s.spec.generation);
      Bump(verify_blocks, v.blocks);
      if (v.mismatches != 0) [[unlikely]] {
        Bump(mismatches, v.mismatches);
        if (first_mismatch.empty()) first_mismatch = std::move(v.first_error);
      }
    }
    Next(s, now);
  }
};

std::string Bytes(uint64_t b) {
  if (b % (1024 * 1024 * 1024) == 0) return fmt::format("{}GiB", b / (1024 * 1024 * 1024));
  if (b % (1024 * 1024) == 0) return fmt::format("{}MiB", b / (1024 * 1024));
  if (b % 1024 == 0) return fmt::format("{}KiB", b / 1024);
  return fmt::format("{}", b);
}

uint64_t Delta(uint64_t before, uint64_t now) { return now >= before ? now - before : 0; }

// Tickets issued and released during the run; waiting as it is now.
QosCounters QosDelta(const QosCounters& before, const QosCounters& now) {
  return {Delta(before.issued, now.issued), Delta(before.released, now.released), now.waiting};
}

std::vector<BenchPathIos> PathDelta(const DeviceCounters& before, const DeviceCounters& now) {
  std::vector<BenchPathIos> out;
  for (const auto& [name, c] : now.paths) {
    PathCounters prev;
    for (const auto& [bname, bc] : before.paths) {
      if (bname == name) prev = bc;
    }
    // Latency is not a difference: the path's histogram since the client connected, which on
    // a bench's own client is the run's attempts.
    out.push_back({name, Delta(prev.ios, c.ios), QosDelta(prev.qos, c.qos), c.latency});
  }
  return out;
}

}  // namespace

Status CheckBenchOptions(const BenchOptions& o, const Device& dev, unsigned threads) {
  const uint64_t block_size = dev.block_size();
  const uint64_t capacity = dev.capacity_blocks() * block_size;
  if (o.bs_bytes == 0 || o.bs_bytes % block_size != 0) {
    return InvalidArgument(fmt::format("--bs {}: not a multiple of {}'s block size {}",
                                       Bytes(o.bs_bytes), dev.name(), block_size));
  }
  const uint64_t chunk_blocks = o.bs_bytes / block_size;
  if (chunk_blocks > dev.max_io_blocks()) {
    return InvalidArgument(fmt::format(
        "--bs {}: larger than the largest transfer {} takes ({} blocks of {} bytes = {})",
        Bytes(o.bs_bytes), dev.name(), dev.max_io_blocks(), block_size,
        Bytes(uint64_t{dev.max_io_blocks()} * block_size)));
  }
  if (o.qd == 0) return InvalidArgument("--qd 0: the queue depth must be at least 1");
  if (o.read_percent > 100) {
    return InvalidArgument(fmt::format("--mix {}: a read percentage is 0..100", o.read_percent));
  }
  if (o.time.count() <= 0 && o.io_count == 0) {
    return InvalidArgument("--time 0 without --io-count: the run would never start an I/O");
  }
  const uint64_t size = o.size_bytes == 0 ? capacity : o.size_bytes;
  if (size > capacity) {
    return InvalidArgument(
        fmt::format("--size {}: larger than {} ({} bytes)", Bytes(size), dev.name(), capacity));
  }
  const uint64_t chunks = size / o.bs_bytes;
  if (chunks == 0) {
    return InvalidArgument(
        fmt::format("--size {}: smaller than one --bs {}", Bytes(size), Bytes(o.bs_bytes)));
  }
  const bool sliced = o.workload == Workload::kRead || o.workload == Workload::kWrite ||
                      o.workload == Workload::kVerify;
  if (sliced && chunks < threads) {
    return InvalidArgument(
        fmt::format("--size {}: holds {} transfers of --bs {}, fewer than the {} "
                    "I/O threads (--reactors) that each need their own slice",
                    Bytes(size), chunks, Bytes(o.bs_bytes), threads));
  }
  if (o.workload == Workload::kVerify && chunks / threads < o.qd) {
    return InvalidArgument(fmt::format(
        "--size {}: holds {} transfers of --bs {} per I/O thread, fewer than --qd {} (two verify "
        "I/Os in flight would share blocks)",
        Bytes(size), chunks / threads, Bytes(o.bs_bytes), o.qd));
  }
  return Status::Ok();
}

Result<BenchResult> RunBench(Client& client, Device& dev, const BenchOptions& options,
                             const std::function<void(const BenchProgress&)>& progress,
                             const std::atomic<bool>* stop) {
  NVMP_ASSERT(!client.CurrentIoThread().has_value(), "RunBench on an I/O thread");
  const unsigned threads = client.io_threads();
  NVMP_RETURN_IF_ERROR(CheckBenchOptions(options, dev, threads));
  const uint64_t capacity_blocks = dev.capacity_blocks();
  const uint64_t region_blocks =
      options.size_bytes == 0 ? capacity_blocks : options.size_bytes / dev.block_size();
  const uint32_t chunk_blocks = options.bs_bytes / dev.block_size();

  std::atomic<bool> stop_all{false};
  std::vector<std::unique_ptr<ThreadRun>> runs;
  for (unsigned t = 0; t < threads; ++t) {
    WorkloadRegion region = ThreadRegion(options.workload, region_blocks, chunk_blocks, t, threads);
    auto run = std::make_unique<ThreadRun>(&dev, options, region,
                                           options.seed * 0x9E3779B97F4A7C15ull + t, &stop_all);
    if (options.io_count != 0) {
      run->budget = options.io_count / threads + (t < options.io_count % threads ? 1 : 0);
    }
    for (unsigned q = 0; q < options.qd; ++q) {
      auto slot = std::make_unique<Slot>();
      slot->run = run.get();
      slot->buf.resize(options.bs_bytes);
      // Writes carry a fixed non-zero pattern (verify writes fill theirs per I/O).
      for (size_t i = 0; i < slot->buf.size(); ++i) slot->buf[i] = static_cast<uint8_t>(i * 31 + q);
      run->slots.push_back(std::move(slot));
    }
    runs.push_back(std::move(run));
  }

  const DeviceCounters before = dev.counters();
  const Clock::time_point t0 = Clock::now();
  for (unsigned t = 0; t < threads; ++t) {
    ThreadRun* run = runs[t].get();
    client.RunOnIoThread(t, [run] { run->Start(); });
  }

  auto all_done = [&] {
    return std::all_of(runs.begin(), runs.end(),
                       [](const auto& r) { return r->done.load(std::memory_order_acquire); });
  };
  auto sample = [&] {
    BenchProgress p;
    p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    for (const auto& r : runs) {
      p.ios += r->ios.load(std::memory_order_relaxed);
      p.bytes += r->bytes.load(std::memory_order_relaxed);
      p.errors += r->errors.load(std::memory_order_relaxed);
    }
    const DeviceCounters now = dev.counters();
    p.failovers = Delta(before.failovers, now.failovers);
    p.paths = PathDelta(before, now);
    return p;
  };

  const Clock::time_point give_up = t0 + options.time + options.drain_timeout;
  Clock::time_point next_progress = t0 + std::chrono::seconds(1);
  uint64_t unfinished = 0;
  while (!all_done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const Clock::time_point now = Clock::now();
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
      stop_all.store(true, std::memory_order_relaxed);
    }
    if (progress && now >= next_progress) {
      progress(sample());
      next_progress += std::chrono::seconds(1);
    }
    if (now >= give_up) {
      stop_all.store(true, std::memory_order_relaxed);
      for (const auto& r : runs) unfinished += r->in_flight.load(std::memory_order_relaxed);
      client.Close();  // completes what is in flight (cancelled) before it returns
      break;
    }
  }

  BenchResult r;
  r.workload = WorkloadName(options.workload);
  r.device = dev.name();
  r.bs_bytes = options.bs_bytes;
  r.qd = options.qd;
  r.threads = threads;
  r.seed = options.seed;
  r.unfinished = unfinished;
  Clock::time_point first = Clock::time_point::max();
  Clock::time_point last = Clock::time_point::min();
  for (const auto& run : runs) {
    NVMP_ASSERT(run->done.load(std::memory_order_acquire), "bench thread still running");
    r.ios += run->ios.load(std::memory_order_relaxed);
    r.bytes += run->bytes.load(std::memory_order_relaxed);
    r.errors += run->errors.load(std::memory_order_relaxed);
    r.verify_blocks += run->verify_blocks.load(std::memory_order_relaxed);
    r.verify_mismatches += run->mismatches.load(std::memory_order_relaxed);
    r.latency.Merge(run->latency);
    if (r.first_error.empty()) r.first_error = run->first_error;
    if (r.first_mismatch.empty()) r.first_mismatch = run->first_mismatch;
    first = std::min(first, run->first_submit);
    last = std::max(last, run->last_complete);
  }
  r.seconds = std::chrono::duration<double>(last - first).count();
  const DeviceCounters after = dev.counters();
  r.failovers = Delta(before.failovers, after.failovers);
  r.requeues = Delta(before.requeues, after.requeues);
  r.failover_gap = after.failover_gap;  // since connect: the run's, on the bench's own client
  r.paths = PathDelta(before, after);
  r.head_qos = QosDelta(before.qos, after.qos);
  return r;
}

}  // namespace nvmpath::cli
