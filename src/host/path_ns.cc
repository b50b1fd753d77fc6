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

// Everything that belongs to one attempt of one Bio on this path. It goes back to its reactor's
// pool before the Bio goes back to the head.
struct PathNs::Attempt {
  Bio* bio = nullptr;
  blk::AttemptSink* sink = nullptr;
  nvme::Command cmd;
  std::array<uint8_t, nvme::kDsmRangeSize> dsm{};  // the one deallocate range
  reactor::TimerId retry_timer = reactor::kNoTimer;
  // Set while the attempt waits out its controller's write fence (still on the attempt list,
  // so the head counts it in flight and a path removal drains it).
  reactor::TimerId fence_timer = reactor::kNoTimer;
  Attempt* prev = nullptr;
  Attempt* next = nullptr;
};

struct PathNs::Shard {
  reactor::Reactor* reactor = nullptr;
  blk::AttemptList<Attempt> attempts;
  PathNsCounters counters;
};

PathNs::PathNs(std::string name, uint32_t nsid, Controller* ctrl, PathNsOwner* owner,
               std::vector<reactor::Reactor*> reactors, unsigned home, blk::PathState initial)
    : name_(std::move(name)),
      nsid_(nsid),
      ctrl_(ctrl),
      owner_(owner),
      block_shift_(static_cast<uint32_t>(std::countr_zero(initial.block_size))),
      state_(initial) {
  NVMP_ASSERT(home < reactors.size());
  NVMP_ASSERT(std::has_single_bit(initial.block_size) && initial.block_size >= 512);
  for (reactor::Reactor* r : reactors) {
    auto s = std::make_unique<Shard>();
    s->reactor = r;
    s->attempts.Preallocate(kPreallocatedAttempts);
    shards_.push_back(std::move(s));
  }
}

PathNs::~PathNs() {
  for (auto& s : shards_) {
    NVMP_ASSERT(s->attempts.size() == 0, "PathNs destroyed with attempts in flight");
  }
}

PathNs::Shard& PathNs::Here() {
  reactor::Reactor* r = reactor::Current();
  for (auto& s : shards_) {
    if (s->reactor == r) return *s;
  }
  NVMP_UNREACHABLE("PathNs used from a reactor that is not one of its controller's");
}

// ---- data path ----

void PathNs::Submit(Bio* bio, blk::AttemptSink* sink) {
  Shard& s = Here();
  Attempt* a = s.attempts.Acquire();
  a->bio = bio;
  a->sink = sink;
  ++s.counters.submitted;

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
    ++s.counters.too_large;
    s.reactor->Post([this, &s, a] {
      Finish(s, a, NvmeStatus::Of(nvme::sc::kInvalidField, /*dnr=*/true));
    });
    return;
  }
  Send(s, a);
}

void PathNs::Send(Shard& s, Attempt* a) {
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
  Status st = ctrl_->SubmitIo(a->cmd, data, [this, a](const CommandResult& r) {
    OnCommandDone(Here(), a, r.status);
  });
  if (st.ok()) return;
  if (st.code() == Code::kUnavailable) {  // the queue is full
    ++s.counters.queue_full_retries;
    a->retry_timer = s.reactor->AddTimer(kQueueFullRetry, [this, &s, a] {
      a->retry_timer = reactor::kNoTimer;
      Send(s, a);
    });
    return;
  }
  // The controller refused the transfer (its maximum shrank across a reconnect): a path error,
  // another path may take it.
  s.reactor->Post([this, &s, a] { Finish(s, a, NvmeStatus::Of(nvme::sc::kHostPathError)); });
}

void PathNs::OnCommandDone(Shard& s, Attempt* a, NvmeStatus status) {
  // 0x371: the queue failed with the command outstanding, so it may have reached the controller
  // and may still execute there. A data-modifying one is held for the write fence before another
  // path may repeat it (docs/ARCHITECTURE.md "Stale-write fencing"). 0x370 (never sent), reads
  // and flushes fail over at once. The completion of a failed queue is posted when the queue
  // fails, so "now" is when this host lost the command.
  if (status.code() == nvme::sc::kAbortedByHost && blk::ModifiesData(a->bio->op)) {
    const Duration fence = ctrl_->write_fence();
    if (fence > Duration::zero()) {
      ++s.counters.fenced_writes;
      a->fence_timer = s.reactor->AddTimer(fence, [this, &s, a, status] {
        a->fence_timer = reactor::kNoTimer;
        Finish(s, a, status);
      });
      return;
    }
  }
  Finish(s, a, status);
}

void PathNs::Finish(Shard& s, Attempt* a, NvmeStatus status) {
  NVMP_ASSERT(a->fence_timer == reactor::kNoTimer, "attempt finished while fenced");
  if (!status.ok()) ++s.counters.completed_error;
  Bio* bio = a->bio;
  blk::AttemptSink* sink = a->sink;
  a->bio = nullptr;
  a->sink = nullptr;
  s.attempts.Release(a);  // per-path state goes back to this path before the Bio leaves it
  sink->OnAttemptDone(bio, status);
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

uint64_t PathNs::TEST_InFlight() const {
  uint64_t n = 0;
  for (auto& s : shards_) n += s->attempts.size();
  return n;
}

PathNsCounters PathNs::TEST_Counters() const {
  PathNsCounters c;
  for (auto& s : shards_) {
    c.submitted += s->counters.submitted;
    c.completed_error += s->counters.completed_error;
    c.queue_full_retries += s->counters.queue_full_retries;
    c.too_large += s->counters.too_large;
    c.fenced_writes += s->counters.fenced_writes;
  }
  return c;
}

}  // namespace nvmpath::host
