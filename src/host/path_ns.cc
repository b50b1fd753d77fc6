#include "host/path_ns.h"

#include "blk/attempt_list.h"

#include <bit>

#include "base/assert.h"
#include "nvme/command.h"
#include "nvme/sgl.h"

namespace nvmpath::host {

using blk::Bio;
using nvme::NvmeStatus;

namespace {
// A full I/O queue is retried after this long; completions of other namespaces sharing the
// controller's queue free the slots, so waiting on our own completions alone could stall.
constexpr Duration kQueueFullRetry = std::chrono::microseconds(50);
// Attempts preallocated per reactor; the pool grows past this only under deeper queues.
constexpr size_t kPreallocatedAttempts = 64;
}  // namespace

// Everything that belongs to one attempt of one Bio on this path. It goes back to its channel's
// pool — QoS ticket included — before the Bio goes back to the head.
struct PathNs::Attempt {
  Bio* bio = nullptr;
  blk::AttemptSink* sink = nullptr;
  blk::Ticket ticket;             // this channel's path QoS admission
  blk::Limiter::Waiter waiter;    // queued for admission while waiting_qos
  bool waiting_qos = false;
  nvme::Command cmd;
  std::array<uint8_t, nvme::kDsmRangeSize> dsm{};  // the one deallocate range
  reactor::TimerId retry_timer = reactor::kNoTimer;
  // Set while the attempt waits out its controller's write fence (still on the attempt list,
  // so the head counts it in flight and a path removal drains it).
  reactor::TimerId fence_timer = reactor::kNoTimer;
  Attempt* prev = nullptr;
  Attempt* next = nullptr;
};

// One reactor's share of the path. `qos` is declared before `attempts`, so an attempt's ticket
// never outlives its limiter.
class PathNs::ReactorChannel final : public blk::PathChannel {
 public:
  ReactorChannel(PathNs* path, Controller::IoChannel* io) : path_(path), io_(io) {}
  void Submit(Bio* bio, blk::AttemptSink* sink) override;
  reactor::Reactor* reactor() const override { return io_->reactor(); }
  blk::QosCounters qos_counters() const override {
    return qos ? qos->counters() : blk::QosCounters{};
  }

  PathNs* const path_;
  Controller::IoChannel* const io_;
  std::unique_ptr<blk::Limiter> qos;
  blk::AttemptList<Attempt> attempts;
  PathNsCounters counters;
};

PathNs::PathNs(std::string name, uint32_t nsid, Controller* ctrl, PathNsOwner* owner,
               std::vector<reactor::Reactor*> reactors, unsigned home, blk::PathState initial,
               blk::QosLimits qos)
    : name_(std::move(name)),
      nsid_(nsid),
      ctrl_(ctrl),
      owner_(owner),
      block_shift_(static_cast<uint32_t>(std::countr_zero(initial.block_size))),
      state_(initial) {
  NVMP_ASSERT(home < reactors.size());
  NVMP_ASSERT(std::has_single_bit(initial.block_size) && initial.block_size >= 512);
  for (unsigned i = 0; i < reactors.size(); ++i) {
    Controller::IoChannel& io = ctrl_->io_channel(i);
    NVMP_ASSERT(io.reactor() == reactors[i], "PathNs reactors differ from its controller's");
    auto c = std::make_unique<ReactorChannel>(this, &io);
    if (!qos.unlimited()) {
      c->qos = std::make_unique<blk::Limiter>(*reactors[i], name_ + " path QoS", qos);
    }
    c->attempts.Preallocate(kPreallocatedAttempts);
    channels_.push_back(std::move(c));
  }
}

PathNs::~PathNs() {
  for (auto& c : channels_) {
    NVMP_ASSERT(c->attempts.size() == 0, "PathNs destroyed with attempts in flight");
  }
}

blk::PathChannel& PathNs::Channel(unsigned shard) {
  NVMP_ASSERT(shard < channels_.size(), "PathNs channel of a reactor it was not built over");
  return *channels_[shard];
}

// ---- data path ----

void PathNs::ReactorChannel::Submit(Bio* bio, blk::AttemptSink* sink) {
  Attempt* a = attempts.Acquire();
  a->bio = bio;
  a->sink = sink;
  ++counters.submitted;
  if (qos) {
    const uint64_t bytes = uint64_t{bio->nblocks} << path_->block_shift_.load(std::memory_order_relaxed);
    if (auto t = qos->TryAcquire(bytes)) {
      a->ticket = std::move(*t);
    } else {
      ++counters.qos_waits;
      a->waiting_qos = true;
      a->waiter.bytes = bytes;
      a->waiter.on_admit = [this, a](blk::Ticket t) {
        a->waiting_qos = false;
        a->ticket = std::move(t);
        path_->Start(*this, a);
      };
      qos->Wait(&a->waiter);
      return;
    }
  }
  path_->Start(*this, a);
}

void PathNs::Start(ReactorChannel& c, Attempt* a) {
  Bio* bio = a->bio;
  const uint32_t shift = block_shift_.load(std::memory_order_relaxed);
  const uint64_t bytes = uint64_t{bio->nblocks} << shift;
  const auto sgl = nvme::SglDescriptor::Transport(static_cast<uint32_t>(bytes));
  bool too_large = bio->nblocks > 65536 || bytes > ctrl_->max_transfer_bytes();
  switch (bio->op) {
    case blk::Op::kRead:
      a->cmd = nvme::MakeRead(0, nsid_, bio->lba, bio->nblocks, sgl);
      break;
    case blk::Op::kWrite:
      a->cmd = nvme::MakeWrite(0, nsid_, bio->lba, bio->nblocks, sgl);
      break;
    case blk::Op::kFlush:
      a->cmd = nvme::MakeFlush(0, nsid_);
      too_large = false;
      break;
    case blk::Op::kWriteZeroes:
      // No data moves: only the 16-bit NLB field bounds it.
      a->cmd = nvme::MakeWriteZeroes(0, nsid_, bio->lba, bio->nblocks, /*deallocate=*/false);
      too_large = bio->nblocks > 65536;
      break;
    case blk::Op::kDeallocate: {
      nvme::DsmRange range{.attributes = 0, .nlb = bio->nblocks, .slba = bio->lba};
      range.Encode(a->dsm);
      a->cmd = nvme::MakeDsmDeallocate(
          0, nsid_, 1, nvme::SglDescriptor::InCapsule(static_cast<uint32_t>(a->dsm.size())));
      too_large = false;
      break;
    }
  }
  if (too_large) {
    // Never inside Submit: the head expects the completion later.
    ++c.counters.too_large;
    c.reactor()->Post([this, &c, a] {
      Finish(c, a, NvmeStatus::Of(nvme::sc::kInvalidField, /*dnr=*/true));
    });
    return;
  }
  Send(c, a);
}

void PathNs::Send(ReactorChannel& c, Attempt* a) {
  std::span<uint8_t> data;
  switch (a->bio->op) {
    case blk::Op::kRead:
    case blk::Op::kWrite:
      data = a->bio->data.first(size_t{a->bio->nblocks} << block_shift_.load(std::memory_order_relaxed));
      break;
    case blk::Op::kDeallocate:
      data = a->dsm;
      break;
    default:
      break;
  }
  // Two pointers: the callback fits std::function's small buffer, no allocation.
  Status st = c.io_->Submit(a->cmd, data, [&c, a](const CommandResult& r) {
    c.path_->OnCommandDone(c, a, r.status);
  });
  if (st.ok()) return;
  if (st.code() == Code::kUnavailable) {  // the queue is full
    ++c.counters.queue_full_retries;
    a->retry_timer = c.reactor()->AddTimer(kQueueFullRetry, [this, &c, a] {
      a->retry_timer = reactor::kNoTimer;
      Send(c, a);
    });
    return;
  }
  // The controller refused the transfer (its maximum shrank across a reconnect): a path error,
  // another path may take it.
  c.reactor()->Post([this, &c, a] { Finish(c, a, NvmeStatus::Of(nvme::sc::kHostPathError)); });
}

void PathNs::OnCommandDone(ReactorChannel& c, Attempt* a, NvmeStatus status) {
  // 0x371: the queue failed with the command outstanding, so it may have reached the controller
  // and may still execute there. A data-modifying one is held for the write fence before another
  // path may repeat it (docs/ARCHITECTURE.md "Stale-write fencing"). 0x370 (never sent), reads
  // and flushes fail over at once. The completion of a failed queue is posted when the queue
  // fails, so "now" is when this host lost the command.
  if (status.code() == nvme::sc::kAbortedByHost && blk::ModifiesData(a->bio->op)) {
    const Duration fence = ctrl_->write_fence();
    if (fence > Duration::zero()) {
      ++c.counters.fenced_writes;
      const TimePoint lost_at = c.reactor()->now();
      a->fence_timer = c.reactor()->AddTimer(fence, [this, &c, a, status, lost_at] {
        a->fence_timer = reactor::kNoTimer;
        Finish(c, a, status, lost_at);
      });
      return;
    }
  }
  Finish(c, a, status);
}

void PathNs::Finish(ReactorChannel& c, Attempt* a, NvmeStatus status,
                    std::optional<TimePoint> failed_at) {
  NVMP_ASSERT(a->fence_timer == reactor::kNoTimer, "attempt finished while fenced");
  NVMP_ASSERT(!a->waiting_qos, "attempt finished while waiting for QoS admission");
  if (!status.ok()) ++c.counters.completed_error;
  Bio* bio = a->bio;
  blk::AttemptSink* sink = a->sink;
  a->bio = nullptr;
  a->sink = nullptr;
  // Per-path state goes back to this path — the QoS ticket into this channel's limiter — before
  // the Bio leaves it.
  a->ticket.Release();
  c.attempts.Release(a);
  if (failed_at) {
    sink->OnAttemptDone(bio, status, *failed_at);
  } else {
    sink->OnAttemptDone(bio, status);
  }
}

// ---- control (home) ----

void PathNs::UpdateState(const blk::PathState& next) {
  if (next == state_) return;
  NVMP_ASSERT(std::has_single_bit(next.block_size) && next.block_size >= 512);
  block_shift_.store(static_cast<uint32_t>(std::countr_zero(next.block_size)),
                     std::memory_order_relaxed);
  state_ = next;
  if (observer_) observer_->OnPathStateChanged(this);
}

void PathNs::OnPathError(nvme::PathAction action) {
  blk::PathState next = state_;
  if (action == nvme::PathAction::kAnaPending) {
    next.ana_pending = true;
    UpdateState(next);
    owner_->RequestAnaLogRead();
  } else if (action == nvme::PathAction::kNamespaceGone) {
    next.ready = false;
    UpdateState(next);
    owner_->RequestRescan();
  }
}

PathNsCounters PathNs::counters(unsigned shard) const { return channels_.at(shard)->counters; }

blk::QosCounters PathNs::qos(unsigned shard) const { return channels_.at(shard)->qos_counters(); }

uint64_t PathNs::TEST_InFlight() const {
  uint64_t n = 0;
  for (auto& c : channels_) n += c->attempts.size();
  return n;
}

PathNsCounters PathNs::TEST_Counters() const {
  PathNsCounters sum;
  for (auto& c : channels_) sum.Add(c->counters);
  return sum;
}

}  // namespace nvmpath::host
