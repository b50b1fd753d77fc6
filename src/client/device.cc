#include "client/device.h"

#include <fmt/format.h>

#include <chrono>

#include "base/assert.h"
#include "client/client_impl.h"
#include "client/waiter.h"

namespace nvmpath {

// ---- Device: the sync calls, over the async ones ----

namespace {

Status Cancelled(const std::string& name) {
  return Status(Code::kCancelled, name + ": the client is closing");
}

// Runs `start` (which submits one async I/O with the given callback) and waits for it.
template <typename Start>
Status SyncCall(Device* dev, const char* what, Start start) {
  if (auto* impl = dynamic_cast<client::DeviceImpl*>(dev)) {
    if (auto thread = impl->io()->Current()) {
      return InvalidArgument(fmt::format(
          "{}: sync {} called on I/O thread {}: it would wait for itself (use {}Async there)",
          dev->name(), what, *thread, what));
    }
  }
  client::Waiter waiter;
  Status result;
  start([&](Status st) {
    result = std::move(st);
    waiter.Signal();
  });
  waiter.Wait();
  return result;
}

}  // namespace

Status Device::Read(uint64_t lba, uint32_t nblocks, std::span<uint8_t> data) {
  return SyncCall(this, "Read", [&](Callback cb) { ReadAsync(lba, nblocks, data, std::move(cb)); });
}

Status Device::Write(uint64_t lba, uint32_t nblocks, std::span<const uint8_t> data) {
  return SyncCall(this, "Write",
                  [&](Callback cb) { WriteAsync(lba, nblocks, data, std::move(cb)); });
}

Status Device::Flush() {
  return SyncCall(this, "Flush", [&](Callback cb) { FlushAsync(std::move(cb)); });
}

Status Device::WriteZeroes(uint64_t lba, uint32_t nblocks) {
  return SyncCall(this, "WriteZeroes",
                  [&](Callback cb) { WriteZeroesAsync(lba, nblocks, std::move(cb)); });
}

Status Device::Deallocate(uint64_t lba, uint32_t nblocks) {
  return SyncCall(this, "Deallocate",
                  [&](Callback cb) { DeallocateAsync(lba, nblocks, std::move(cb)); });
}

namespace client {

// PathNs: one Write Zeroes clears at most 65536 blocks (NLB is 16 bits, 0's based).
constexpr uint32_t kWriteZeroesMaxBlocks = 65536;

DeviceImpl::DeviceImpl(ClientImpl* client, IoThreads* io, mpath::Head* head, uint32_t nsid)
    : client_(client), io_(io), head_(head), nsid_(nsid), name_(head->name()) {
  NVMP_ASSERT(head->channel_count() == io->size(), "a head on other threads than the client's");
  for (unsigned i = 0; i < io->size(); ++i) channels_.push_back(&head->Channel(i));
}

// ---- data path ----

void DeviceImpl::ReadAsync(uint64_t lba, uint32_t nblocks, std::span<uint8_t> data, Callback done) {
  Submit(blk::Op::kRead, lba, nblocks, data, std::move(done));
}

void DeviceImpl::WriteAsync(uint64_t lba, uint32_t nblocks, std::span<const uint8_t> data,
                            Callback done) {
  // The Bio has one buffer span for both directions; a write only reads it.
  std::span<uint8_t> buf(const_cast<uint8_t*>(data.data()), data.size());
  Submit(blk::Op::kWrite, lba, nblocks, buf, std::move(done));
}

void DeviceImpl::FlushAsync(Callback done) { Submit(blk::Op::kFlush, 0, 0, {}, std::move(done)); }

void DeviceImpl::WriteZeroesAsync(uint64_t lba, uint32_t nblocks, Callback done) {
  Submit(blk::Op::kWriteZeroes, lba, nblocks, {}, std::move(done));
}

void DeviceImpl::DeallocateAsync(uint64_t lba, uint32_t nblocks, Callback done) {
  Submit(blk::Op::kDeallocate, lba, nblocks, {}, std::move(done));
}

void DeviceImpl::Submit(blk::Op op, uint64_t lba, uint32_t nblocks, std::span<uint8_t> data,
                        Callback done) {
  if (std::optional<unsigned> here = io_->Current()) {
    return SubmitOn(*here, op, lba, nblocks, data, std::move(done));
  }
  if (!io_->ReservePost()) return done(Cancelled(name_));
  const unsigned thread = io_->NextThread();
  io_->PostReserved(thread,
                    [this, thread, op, lba, nblocks, data, done = std::move(done)]() mutable {
                      SubmitOn(thread, op, lba, nblocks, data, std::move(done));
                    });
}

void DeviceImpl::SubmitOn(unsigned thread, blk::Op op, uint64_t lba, uint32_t nblocks,
                          std::span<uint8_t> data, Callback done) {
  Status st = io_->closing() || client_->closing() ? Cancelled(name_) : Check(op, lba, nblocks, data.size());
  if (!st.ok()) [[unlikely]] {
    // Callbacks never run inside the submitting call.
    io_->PostCounted(thread, [done = std::move(done), st = std::move(st)] { done(st); });
    return;
  }
  IoRequest* r = io_->pool(thread).Get();
  r->done = std::move(done);
  blk::Bio& bio = r->bio;
  bio.op = op;
  bio.lba = lba;
  bio.nblocks = nblocks;
  bio.data = data;
  channels_[thread]->Submit(&bio);
}

Status DeviceImpl::Check(blk::Op op, uint64_t lba, uint32_t nblocks, size_t bytes) const {
  if (!blk::HasRange(op)) return Status::Ok();
  if (nblocks == 0) [[unlikely]] {
    return InvalidArgument(fmt::format("{}: {} of 0 blocks at LBA {}: nblocks must be at least 1",
                                       name_, blk::OpName(op), lba));
  }
  if (op == blk::Op::kRead || op == blk::Op::kWrite) {
    const uint64_t bs = block_size();
    if (bytes != nblocks * bs) [[unlikely]] {
      return InvalidArgument(fmt::format(
          "{}: {} of {} blocks needs a buffer of {} bytes ({} x {}-byte blocks), got {} bytes",
          name_, blk::OpName(op), nblocks, nblocks * bs, nblocks, bs, bytes));
    }
    const uint32_t max = max_io_blocks();
    if (nblocks > max) [[unlikely]] {
      return InvalidArgument(fmt::format("{}: {} of {} blocks exceeds max_io_blocks {}", name_,
                                         blk::OpName(op), nblocks, max));
    }
  } else if (op == blk::Op::kWriteZeroes && nblocks > kWriteZeroesMaxBlocks) [[unlikely]] {
    return InvalidArgument(
        fmt::format("{}: write zeroes of {} blocks exceeds {}, the most one command clears", name_,
                    nblocks, kWriteZeroesMaxBlocks));
  }
  return Status::Ok();
}

// ---- control ----

DeviceCounters DeviceImpl::counters() const {
  NVMP_ASSERT(!io_->Current().has_value(),
              "Device::counters() on an I/O thread would wait for itself");
  {
    std::lock_guard<std::mutex> lock(final_mu_);
    if (final_counters_) return *final_counters_;
  }
  std::optional<DeviceCounters> out;
  client_->WithHostAsync([&](mpath::MultipathHost* host, std::function<void()> finished) {
    if (host == nullptr) return finished();
    head_->CollectStats([&out, finished](mpath::HeadStats stats) {
      out = ToDeviceCounters(stats);
      finished();
    });
  });
  if (out) return *out;
  std::lock_guard<std::mutex> lock(final_mu_);
  return final_counters_.value_or(DeviceCounters{});
}

DeviceInfo DeviceImpl::info() const {
  DeviceInfo out;
  client_->WithHost([&](mpath::MultipathHost* host) {
    if (host != nullptr) out = client_->DescribeDevice(nsid_);
  });
  if (out.name.empty()) {  // closed
    out.nsid = nsid_;
    out.name = name_;
    out.capacity_blocks = capacity_blocks();
    out.block_size = block_size();
  }
  return out;
}

void DeviceImpl::SetPolicy(PathPolicy policy) {
  client_->WithHost([&](mpath::MultipathHost* host) {
    if (host != nullptr) head_->SetPolicy(static_cast<mpath::Policy>(policy));
  });
}

void DeviceImpl::Refresh(uint64_t capacity_blocks, uint32_t block_size, uint32_t max_io_blocks) {
  capacity_.store(capacity_blocks, std::memory_order_relaxed);
  block_size_.store(block_size, std::memory_order_relaxed);
  max_io_blocks_.store(max_io_blocks, std::memory_order_relaxed);
}

void DeviceImpl::SetFinalCounters(DeviceCounters counters) {
  std::lock_guard<std::mutex> lock(final_mu_);
  final_counters_ = std::move(counters);
}

namespace {

QosCounters ToQosCounters(const blk::QosCounters& q) {
  return QosCounters{.issued = q.issued, .released = q.released, .waiting = q.waiting};
}

OpCounters ToOpCounters(const mpath::OpCounts& ops) {
  auto one = [&ops](blk::OpClass c) {
    const mpath::OpCount& o = ops[static_cast<int>(c)];
    return IoCount{.ios = o.ios, .bytes = o.bytes};
  };
  return OpCounters{.read = one(blk::OpClass::kRead),
                    .write = one(blk::OpClass::kWrite),
                    .other = one(blk::OpClass::kOther)};
}

ErrorCounters ToErrorCounters(const mpath::ErrorCounts& e) {
  auto n = [&e](blk::ErrorClass c) { return e[static_cast<int>(c)]; };
  using blk::ErrorClass;
  return ErrorCounters{.generic = n(ErrorClass::kGeneric),
                       .command_specific = n(ErrorClass::kCommandSpecific),
                       .media = n(ErrorClass::kMedia),
                       .ana = n(ErrorClass::kAna),
                       .path = n(ErrorClass::kPath),
                       .host_aborted = n(ErrorClass::kHostAborted),
                       .vendor = n(ErrorClass::kVendor),
                       .no_path = n(ErrorClass::kNoPath),
                       .rejected = n(ErrorClass::kRejected)};
}

// Converts a point on the reactors' clock (CLOCK_MONOTONIC under reactor::Uring, the client's
// reactor) to wall-clock time for operators to read: the stats were collected at `collected_at`
// on that clock, a moment ago. The wall clock is only shown, never used to decide anything.
int64_t UnixNanos(TimePoint at, TimePoint collected_at) {
  const auto wall_now = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return (wall_now - (collected_at - at)).count();
}

LastError ToLastError(const mpath::LastError& e, TimePoint collected_at) {
  if (!e.set) return LastError{};
  return LastError{.unix_ns = UnixNanos(e.at, collected_at),
                   .error_class = blk::ErrorClassName(e.error_class),
                   .status = e.what};
}

}  // namespace

LatencySummary ToLatencySummary(const StatsHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.sum_ns = h.sum_ns();
  s.p50_ns = h.Percentile(0.50);
  s.p99_ns = h.Percentile(0.99);
  s.p999_ns = h.Percentile(0.999);
  s.max_ns = h.max_ns();
  s.buckets.reserve(LatencySummary::kLatencyBuckets);
  for (int bits = LatencySummary::kFirstBucketBits; bits <= LatencySummary::kLastBucketBits;
       ++bits) {
    const uint64_t bound = uint64_t{1} << bits;
    s.buckets.push_back(LatencyBucket{.below_ns = bound, .count = h.CountBelow(bound)});
  }
  return s;
}

DeviceCounters ToDeviceCounters(const mpath::HeadStats& stats) {
  DeviceCounters c;
  c.submitted = stats.head.submitted;
  c.completed = stats.head.completed;
  c.errors = stats.head.errors;
  c.failovers = stats.head.failovers;
  c.retries = stats.head.retries;
  c.requeues = stats.head.requeues;
  c.no_path = stats.head.no_path;
  c.outstanding = stats.head.outstanding;
  c.queued = stats.head.queued;
  c.qos = ToQosCounters(stats.head.qos);
  c.ops = ToOpCounters(stats.head.by_op);
  c.errors_by_class = ToErrorCounters(stats.head.errors_by_class);
  c.latency = ToLatencySummary(stats.latency);
  c.failover_gap = ToLatencySummary(stats.failover_gap);
  c.last_error = ToLastError(stats.last_error, stats.collected_at);
  for (const auto& p : stats.paths) {
    PathCounters pc;
    pc.ios = p.counters.ios;
    pc.bytes = p.counters.bytes;
    pc.errors = p.counters.errors;
    pc.failovers = p.counters.failovers;
    pc.retries = p.counters.retries;
    pc.in_flight = p.counters.in_flight;
    pc.qos = ToQosCounters(p.counters.qos);
    pc.failovers_in = p.counters.failovers_in;
    pc.ops = ToOpCounters(p.counters.by_op);
    pc.errors_by_class = ToErrorCounters(p.counters.errors_by_class);
    pc.latency = ToLatencySummary(p.latency);
    pc.failover_gap = ToLatencySummary(p.failover_gap);
    pc.last_error = ToLastError(p.last_error, stats.collected_at);
    c.paths.emplace_back(p.name, std::move(pc));
  }
  return c;
}

}  // namespace client
}  // namespace nvmpath
