#include "sim/mem_path.h"

#include <fmt/format.h>

#include "base/assert.h"
#include "blk/attempt_list.h"

namespace nvmpath::sim {

using blk::Bio;
using nvme::NvmeStatus;

// Everything that belongs to one attempt on this path. It dies before the Bio goes back to the
// head, taking its QoS ticket with it.
struct MemPath::Attempt {
  Bio* bio = nullptr;
  blk::AttemptSink* sink = nullptr;
  blk::Ticket ticket;
  blk::Limiter::Waiter waiter;
  uint64_t epoch = 0;
  reactor::TimerId timer = reactor::kNoTimer;
  bool parked = false;
  bool waiting_qos = false;
  bool posted = false;  // latency 0: execution posted (cannot be cancelled, checks the epoch)
  Attempt* prev = nullptr;
  Attempt* next = nullptr;
};

// One reactor's channel of the path.
struct MemPath::Shard final : blk::PathChannel {
  void Submit(Bio* bio, blk::AttemptSink* sink) override { path->Submit(*this, bio, sink); }
  reactor::Reactor* reactor() const override { return reactor_; }
  blk::QosCounters qos_counters() const override {
    return qos ? qos->counters() : blk::QosCounters{};
  }

  MemPath* path = nullptr;
  unsigned index = 0;
  reactor::Reactor* reactor_ = nullptr;
  std::unique_ptr<blk::Limiter> qos;
  blk::AttemptList<Attempt> attempts;
  // MemPathFault::kLeakTicketOnError parks tickets here; destroyed before `qos` (declared after).
  std::vector<blk::Ticket> leaked;
  uint64_t writes_seen = 0;
};

MemPath::MemPath(MemPathOptions options, MemNamespace* ns, std::vector<reactor::Reactor*> shards,
                 unsigned home)
    : options_(std::move(options)), ns_(ns), reactors_(std::move(shards)), home_(home) {
  NVMP_ASSERT(home_ < reactors_.size());
  for (unsigned i = 0; i < reactors_.size(); ++i) {
    auto s = std::make_unique<Shard>();
    s->path = this;
    s->index = i;
    s->reactor_ = reactors_[i];
    if (!options_.qos.unlimited()) {
      s->qos = std::make_unique<blk::Limiter>(*s->reactor_, options_.name + " path QoS", options_.qos);
    }
    shards_.push_back(std::move(s));
  }
  target_ana_ = static_cast<uint8_t>(options_.ana);
  latency_ns_ = options_.latency.count();
  state_.ctrl = blk::CtrlState::kLive;
  state_.ana = options_.ana;
  state_.ready = true;
  state_.capacity_blocks = ns_->capacity_blocks();
  state_.block_size = ns_->block_size();
  state_.numa_node = options_.numa_node;
  state_.crdt = options_.crdt;
}

MemPath::~MemPath() {
  *alive_ = false;
  NVMP_ASSERT(messages_in_flight_.load() == 0, "MemPath destroyed with messages in flight");
  for (auto& s : shards_) {
    NVMP_ASSERT(s->attempts.size() == 0, "MemPath destroyed with attempts in flight");
  }
}

blk::PathChannel& MemPath::Channel(unsigned shard) {
  NVMP_ASSERT(shard < shards_.size(), "MemPath channel of a reactor it was not built over");
  return *shards_[shard];
}

void MemPath::OnAllShards(std::function<void(Shard&)> fn) {
  for (auto& s : shards_) {
    Shard* sp = s.get();
    messages_in_flight_.fetch_add(1);
    sp->reactor_->Post([this, sp, fn] {
      fn(*sp);
      messages_in_flight_.fetch_sub(1);
    });
  }
}

void MemPath::AfterNotice(std::function<void()> fn) {
  std::weak_ptr<bool> alive = alive_;
  reactors_[home_]->AddTimer(options_.notice_delay, [alive, fn = std::move(fn)] {
    auto a = alive.lock();
    if (a && *a) fn();
  });
}

// ---- data path ----

void MemPath::Submit(Shard& s, Bio* bio, blk::AttemptSink* sink) {
  Attempt* a = s.attempts.Acquire();
  a->bio = bio;
  a->sink = sink;
  a->epoch = epoch_.load();
  if (s.qos) {
    if (auto t = s.qos->TryAcquire(bio->bytes(ns_->block_size()))) {
      a->ticket = std::move(*t);
    } else {
      a->waiting_qos = true;
      a->waiter.bytes = bio->bytes(ns_->block_size());
      a->waiter.on_admit = [this, &s, a](blk::Ticket t) {
        a->waiting_qos = false;
        a->ticket = std::move(t);
        Start(s, a);
      };
      s.qos->Wait(&a->waiter);
      return;
    }
  }
  Start(s, a);
}

void MemPath::Start(Shard& s, Attempt* a) {
  // Even a controller that is down answers later, never inside Submit.
  Duration latency(latency_ns_.load());
  if (latency.count() == 0) {
    a->posted = true;
    s.reactor_->Post([this, &s, a] {
      a->posted = false;
      Execute(s, a);
    });
    return;
  }
  a->timer = s.reactor_->AddTimer(Duration(latency_ns_.load()), [this, &s, a] {
    a->timer = reactor::kNoTimer;
    Execute(s, a);
  });
}

NvmeStatus MemPath::Outcome(const Bio& bio) {
  uint32_t n = fail_next_.load();
  while (n > 0) {
    int op = fail_op_.load();
    if (op >= 0 && op != static_cast<int>(bio.op)) break;
    if (fail_next_.compare_exchange_weak(n, n - 1)) {
      return NvmeStatus::FromField(fail_status_.load());
    }
  }
  if (detached_) return NvmeStatus::Of(nvme::sc::kInvalidNamespace, /*dnr=*/true);
  switch (static_cast<blk::AnaState>(target_ana_.load())) {
    case blk::AnaState::kInaccessible: return NvmeStatus::Of(nvme::sc::kAnaInaccessible);
    case blk::AnaState::kPersistentLoss: return NvmeStatus::Of(nvme::sc::kAnaPersistentLoss);
    case blk::AnaState::kChange: return NvmeStatus::Of(nvme::sc::kAnaTransition);
    default: break;
  }
  return NvmeStatus();
}

void MemPath::Execute(Shard& s, Attempt* a) {
  if (a->epoch != epoch_.load() || !ctrl_up_) {
    // The connection this attempt went out on is gone: the command never reached a controller.
    return Finish(s, a, NvmeStatus::Of(nvme::sc::kHostPathError));
  }
  if (stalled_) {
    a->parked = true;
    return;
  }
  const Bio& bio = *a->bio;
  // The bug of seed 001: checking the range again against this path's own capacity, which the
  // host zeroes when it notices the namespace is gone — while the attempt is still on it.
  // (Reads the home-side state: simulator only.)
  if (options_.TEST_fault == MemPathFault::kCheckOwnCapacity &&
      bio.lba + bio.nblocks > state_.capacity_blocks) {
    return Finish(s, a, NvmeStatus::Of(nvme::sc::kLbaOutOfRange, /*dnr=*/true));
  }
  NvmeStatus st = Outcome(*a->bio);
  bool lose = options_.TEST_fault == MemPathFault::kLoseWrites && bio.op == blk::Op::kWrite &&
              ++s.writes_seen % 7 == 0;
  if (st.ok() && !lose) st = ns_->Execute(bio.op, bio.lba, bio.nblocks, a->bio->data);
  Finish(s, a, st);
}

void MemPath::Finish(Shard& s, Attempt* a, NvmeStatus status) {
  Bio* bio = a->bio;
  blk::AttemptSink* sink = a->sink;
  if (options_.TEST_fault == MemPathFault::kLeakTicketOnError && !status.ok() && a->ticket.held()) {
    s.leaked.push_back(std::move(a->ticket));
  }
  a->ticket.Release();  // per-path state goes back to this path before the Bio leaves it
  a->bio = nullptr;
  a->sink = nullptr;
  a->parked = false;
  a->waiter = blk::Limiter::Waiter{};
  s.attempts.Release(a);
  sink->OnAttemptDone(bio, status);
}

// ---- control (home) ----

void MemPath::Notify() {
  if (observer_) observer_->OnPathStateChanged(this);
}

void MemPath::OnPathError(nvme::PathAction action) {
  if (action == nvme::PathAction::kAnaPending) {
    if (state_.ana_pending) return;
    state_.ana_pending = true;
    Notify();
    AfterNotice([this] {  // the ANA log re-read
      state_.ana_pending = false;
      state_.ana = static_cast<blk::AnaState>(target_ana_.load());
      Notify();
    });
  } else if (action == nvme::PathAction::kNamespaceGone) {
    if (!state_.ready) return;
    state_.ready = false;
    Notify();
    AfterNotice([this] { Rescan(); });
  }
}

void MemPath::Rescan() {
  blk::PathState next = state_;
  if (detached_) {
    next.ready = false;
    next.capacity_blocks = 0;
  } else {
    next.ready = true;
    next.capacity_blocks = ns_->capacity_blocks();
  }
  if (next == state_) return;
  state_ = next;
  Notify();
}

void MemPath::SetAnaState(blk::AnaState ana) {
  target_ana_ = static_cast<uint8_t>(ana);
  AfterNotice([this] {  // ANA change AEN, then the log read
    state_.ana = static_cast<blk::AnaState>(target_ana_.load());
    state_.ana_pending = false;
    Notify();
  });
}

void MemPath::Detach() {
  detached_ = true;
  AfterNotice([this] { Rescan(); });
}

void MemPath::Attach() {
  detached_ = false;
  AfterNotice([this] { Rescan(); });
}

void MemPath::NoticeResize() {
  AfterNotice([this] { Rescan(); });
}

void MemPath::FailNext(uint32_t count, NvmeStatus status, std::optional<blk::Op> op) {
  fail_status_ = status.field();
  fail_op_ = op ? static_cast<int>(*op) : -1;
  fail_next_ = count;
}

void MemPath::SetLatency(Duration latency) { latency_ns_ = latency.count(); }

void MemPath::Stall(bool stalled) {
  stalled_ = stalled;
  if (stalled) return;
  OnAllShards([this](Shard& s) {
    for (Attempt* a : s.attempts.Live()) {
      if (!a->parked) continue;
      a->parked = false;
      Execute(s, a);
    }
  });
}

void MemPath::LoseController() {
  if (!ctrl_up_) return;
  ctrl_up_ = false;
  epoch_.fetch_add(1);
  state_.ctrl = blk::CtrlState::kConnecting;
  state_.failfast_expired = false;
  Notify();
  // Every in-flight attempt fails over at once (the socket error), none executes later.
  OnAllShards([this](Shard& s) {
    for (Attempt* a : s.attempts.Live()) {
      if (a->posted) continue;  // its posted execution sees the new epoch and fails it over
      if (a->timer != reactor::kNoTimer) {
        s.reactor_->CancelTimer(a->timer);
        a->timer = reactor::kNoTimer;
      }
      if (a->waiting_qos) {
        s.qos->Cancel(&a->waiter);
        a->waiting_qos = false;
      }
      Finish(s, a, NvmeStatus::Of(nvme::sc::kAbortedByHost));
    }
  });
}

void MemPath::RestoreController() {
  if (ctrl_up_) return;
  ctrl_up_ = true;
  state_.ctrl = blk::CtrlState::kLive;
  state_.failfast_expired = false;
  state_.ana = static_cast<blk::AnaState>(target_ana_.load());
  state_.ana_pending = false;
  state_.ready = !detached_;
  state_.capacity_blocks = detached_ ? 0 : ns_->capacity_blocks();
  Notify();
}

void MemPath::ExpireFastFail() {
  if (ctrl_up_) return;
  state_.failfast_expired = true;
  Notify();
}

uint64_t MemPath::TEST_InFlight() const {
  uint64_t n = 0;
  for (auto& s : shards_) n += s->attempts.size();
  return n;
}

uint64_t MemPath::TEST_TicketsHeld(unsigned shard) const {
  uint64_t n = 0;
  for (Attempt* a : shards_[shard]->attempts.Live()) n += a->ticket.held() ? 1 : 0;
  return n;
}

const blk::Limiter* MemPath::TEST_Limiter(unsigned shard) const { return shards_[shard]->qos.get(); }

}  // namespace nvmpath::sim
