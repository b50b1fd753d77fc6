#include "mpath/head.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/assert.h"
#include "blk/capacity.h"
#include "mpath/head_shard.h"

namespace nvmpath::mpath {

using blk::Bio;
using blk::BioState;


// ---------------------------------------------------------------------------------------------
// construction

Head::Head(HeadOptions options, std::vector<reactor::Reactor*> shards, unsigned home)
    : options_(std::move(options)), shards_reactors_(std::move(shards)), home_(home) {
  NVMP_ASSERT(!shards_reactors_.empty() && home_ < shards_reactors_.size());
  for (unsigned i = 0; i < shards_reactors_.size(); ++i) {
    auto s = std::make_unique<Shard>(this, shards_reactors_[i]);
    s->index = i;
    for (uint16_t slot = 0; slot < kMaxPaths; ++slot) {
      s->sinks[slot].head = this;
      s->sinks[slot].shard = s.get();
      s->sinks[slot].slot = slot;
    }
    if (!options_.qos.unlimited()) {
      s->qos = std::make_unique<blk::Limiter>(*s->reactor, options_.name + " head QoS",
                                              options_.qos);
    }
    shards_.push_back(std::move(s));
  }
  installed_.assign(shards_.size(), 0);
  latest_ = BuildPathSet();
}

Head::~Head() {
  NVMP_ASSERT(messages_in_flight_.load() == 0, "head destroyed with messages in flight");
  for (Slot& slot : slots_) {
    if (slot.path) slot.path->SetObserver(nullptr);
  }
  for (auto& s : shards_) {
    NVMP_ASSERT(s->counters.outstanding == 0, "head destroyed with Bios outstanding");
    if (s->deadline_timer != reactor::kNoTimer) s->reactor->CancelTimer(s->deadline_timer);
  }
}

void Head::PostTo(unsigned shard, std::function<void()> fn) {
  messages_in_flight_.fetch_add(kMessageUnit);
  shards_reactors_[shard]->Post([this, on_home = shard == home_, fn = std::move(fn)] {
    fn();
    MessageHandled(on_home);
  });
}

void Head::MessageHandled(bool on_home) {
  uint32_t c = messages_in_flight_.load();
  for (;;) {
    if (c == (kMessageUnit | kQuietWanted) && !on_home) {
      // The last message, and a waiter on home: home ends it, so this reactor touches nothing
      // of the head after home may have seen it quiet (and destroyed it).
      shards_reactors_[home_]->Post([this] { MessageHandled(/*on_home=*/true); });
      return;
    }
    if (messages_in_flight_.compare_exchange_weak(c, c - kMessageUnit)) break;
  }
  if (c - kMessageUnit == kQuietWanted) RunQuietWaiters();  // on home, by the branch above
}

void Head::WhenQuiet(std::function<void()> done) {
  quiet_waiters_.push_back(std::move(done));
  messages_in_flight_.fetch_or(kQuietWanted);
  // Its end on home runs the waiters if nothing else is in flight by then, or a later end does.
  PostTo(home_, [] {});
}

void Head::RunQuietWaiters() {
  messages_in_flight_.fetch_and(~kQuietWanted);
  auto waiters = std::move(quiet_waiters_);
  quiet_waiters_.clear();
  for (auto& w : waiters) w();
}

HeadChannel& Head::Channel(unsigned shard) {
  NVMP_ASSERT(shard < shards_.size(), "head channel of a reactor it was not built over");
  return *shards_[shard];
}

void HeadChannel::Submit(Bio* bio) { head_->Submit(static_cast<Head::Shard&>(*this), bio); }

// ---------------------------------------------------------------------------------------------
// data path

void Head::Submit(Shard& s, Bio* bio) {
  NVMP_ASSERT(bio->state_ == BioState::kIdle || bio->state_ == BioState::kDone,
              "Bio submitted while the head still owns it");
  bio->state_ = BioState::kAdmitting;
  bio->status = Status::Ok();
  bio->retries_ = 0;
  bio->failovers_ = 0;
  bio->retry_slot_ = -1;
  bio->failed_slots_ = 0;
  bio->range_checked_ = false;
  bio->next_ = nullptr;
  bio->submitted_at_ = s.reactor->now();
  ++s.counters.submitted;
  ++s.counters.outstanding;

  s.in_submit = true;
  Admit(s, bio);
  s.in_submit = false;
}

void Head::Admit(Shard& s, Bio* bio) {
  // Fail a bad range before it takes QoS budget; when the capacity is not known yet, Dispatch
  // checks it as soon as it is.
  if (s.set && s.set->capacity_known && s.generation == published_generation_.load()) {
    Status st = blk::CheckRange(*bio, s.set->capacity_blocks, s.set->block_size);
    if (!st.ok()) return Complete(s, bio, st.WithContext(options_.name));
    bio->range_checked_ = true;
  }
  if (s.qos) {
    uint64_t bytes = bio->bytes(s.set ? s.set->block_size : 512);
    if (auto t = s.qos->TryAcquire(bytes)) {
      bio->head_ticket_ = std::move(*t);
    } else if (bio->nowait) {
      return Complete(s, bio, Status(Code::kUnavailable, options_.name + ": head QoS limit reached (nowait)"));
    } else {
      auto* w = new blk::Limiter::Waiter;
      w->bytes = bytes;
      w->on_admit = [this, &s, bio, w](blk::Ticket t) {
        delete w;
        bio->head_ticket_ = std::move(t);
        Dispatch(s, bio);
      };
      s.qos->Wait(w);
      return;
    }
  }
  Dispatch(s, bio);
}

void Head::Dispatch(Shard& s, Bio* bio) {
  const PathSet* set = s.set.get();
  // A reactor that has not installed the newest set waits for it rather than decide on an old
  // one: an I/O never fails because this reactor had not heard of a path yet.
  if (set == nullptr || s.generation < published_generation_.load(std::memory_order_acquire)) {
    return Enqueue(s, bio);
  }
  if (!set->head_live) return FailNoPath(s, bio, "the head is being removed");
  if (!bio->range_checked_) {
    if (!set->capacity_known) {
      if (set->may_return || options_.queue_if_no_path) return Enqueue(s, bio);
      return FailNoPath(s, bio, "");
    }
    Status st = blk::CheckRange(*bio, set->capacity_blocks, set->block_size);
    if (!st.ok()) return Complete(s, bio, st.WithContext(options_.name));
    bio->range_checked_ = true;
  }

  int idx = -1;
  if (bio->retry_slot_ >= 0) {
    for (size_t i = 0; i < set->paths.size(); ++i) {
      if (set->paths[i].slot == bio->retry_slot_ && set->paths[i].usable) idx = static_cast<int>(i);
    }
  }
  Policy policy = static_cast<Policy>(set->policy);
  // A Bio that failed over passes over the paths it failed on while another path can serve it;
  // other Bios are not affected, so one error never steers traffic away from a good path.
  if (idx < 0) idx = SelectPath(policy, *set, s.cursor, s.in_flight, bio->failed_slots_, s.numa_node);
  if (idx < 0 && bio->failed_slots_ != 0) {
    bio->failed_slots_ = 0;
    idx = SelectPath(policy, *set, s.cursor, s.in_flight, 0, s.numa_node);
  }
  if (idx < 0) {
    if (set->may_return || options_.queue_if_no_path) return Enqueue(s, bio);
    return FailNoPath(s, bio, "");
  }

  const PathEntry& e = set->paths[idx];
  bio->retry_slot_ = -1;
  bio->state_ = BioState::kInFlight;
  ++s.in_flight[e.slot];
  PathCounters& pc = s.path_counters[e.slot];
  ++pc.ios;
  pc.bytes += bio->bytes(set->block_size);
  e.path->Channel(s.index).Submit(bio, &s.sinks[e.slot]);
}

void Head::Enqueue(Shard& s, Bio* bio) {
  if (bio->state_ != BioState::kQueued) {
    bio->queued_at_ = s.reactor->now();
    ++s.counters.requeues;
  }
  bio->state_ = BioState::kQueued;
  bio->next_ = nullptr;
  if (s.queue_tail) {
    s.queue_tail->next_ = bio;
  } else {
    s.queue_head = bio;
  }
  s.queue_tail = bio;
  const Duration limit = QueueTimeout(s);
  if (limit.count() > 0 && s.deadline_timer == reactor::kNoTimer) {
    s.deadline_timer = s.reactor->AddTimer(limit, [this, &s] {
      s.deadline_timer = reactor::kNoTimer;
      CheckQueueDeadlines(s);
    });
  }
}

void Head::ScheduleRequeue(Shard& s) {
  if (s.requeue_posted) return;
  s.requeue_posted = true;
  PostTo(s.index, [this, &s] {
    s.requeue_posted = false;
    RunRequeue(s);
  });
}

void Head::RunRequeue(Shard& s) {
  Bio* list = s.queue_head;
  s.queue_head = s.queue_tail = nullptr;
  while (list) {
    Bio* bio = list;
    list = bio->next_;
    bio->next_ = nullptr;
    Dispatch(s, bio);
  }
}

Duration Head::QueueTimeout(const Shard& s) {
  return s.set ? s.set->queue_timeout : Duration::zero();
}

void Head::CheckQueueDeadlines(Shard& s) {
  const Duration limit = QueueTimeout(s);
  TimePoint now = s.reactor->now();
  Bio* list = s.queue_head;
  s.queue_head = s.queue_tail = nullptr;
  TimePoint earliest = TimePoint::max();
  while (list) {
    Bio* bio = list;
    list = bio->next_;
    bio->next_ = nullptr;
    if (limit.count() > 0 && now - bio->queued_at_ >= limit) {
      FailNoPath(s, bio, fmt::format("for {:.3g}s", ToSeconds(now - bio->queued_at_)));
    } else {
      earliest = std::min(earliest, bio->queued_at_);
      bio->state_ = BioState::kQueued;
      if (s.queue_tail) {
        s.queue_tail->next_ = bio;
      } else {
        s.queue_head = bio;
      }
      s.queue_tail = bio;
    }
  }
  if (s.queue_head && limit.count() > 0 && s.deadline_timer == reactor::kNoTimer) {
    s.deadline_timer = s.reactor->AddTimer(earliest + limit - now, [this, &s] {
      s.deadline_timer = reactor::kNoTimer;
      CheckQueueDeadlines(s);
    });
  }
}

void Head::SlotSink::OnAttemptDone(Bio* bio, nvme::NvmeStatus status) {
  head->AttemptDone(*shard, slot, bio, status);
}

void Head::AttemptDone(Shard& s, uint16_t slot, Bio* bio, nvme::NvmeStatus status) {
  NVMP_ASSERT(bio->state_ == BioState::kInFlight, "attempt completed for a Bio not in flight");
  NVMP_ASSERT(s.in_flight[slot] > 0, "attempt completed on a path with nothing in flight");
  --s.in_flight[slot];
  if (s.draining[slot] && s.in_flight[slot] == 0) {
    s.draining[slot] = false;
    PostTo(home_, [this, slot] { OnDrained(slot); });
  }
  PathCounters& pc = s.path_counters[slot];
  const PathEntry* entry = nullptr;
  for (const PathEntry& e : s.set->paths) {
    if (e.slot == slot) entry = &e;
  }
  if (!status.ok()) ++pc.errors;

  nvme::Decision d = nvme::Decide(status, bio->retries_, /*multipath=*/true);
  if (d.path_action != nvme::PathAction::kNone && entry != nullptr) {
    blk::Path* path = entry->path;
    PostTo(home_, [this, slot, path, action = d.path_action] { OnPathError(slot, path, action); });
  }
  switch (d.disposition) {
    case nvme::Disposition::kComplete:
      return Complete(s, bio, Status::Ok());
    case nvme::Disposition::kFail: {
      Status st = status.ToStatus();
      return Complete(s, bio, st.WithContext(options_.name + " via " +
                                              (entry ? entry->path->name() : "a removed path")));
    }
    case nvme::Disposition::kRetrySamePath: {
      ++bio->retries_;
      ++s.counters.retries;
      ++pc.retries;
      bio->retry_slot_ = static_cast<int16_t>(slot);
      bio->state_ = BioState::kRetryWait;
      Duration delay{0};
      if (status.crd() != 0 && entry != nullptr) {
        delay = std::chrono::milliseconds(100) * entry->state.crdt[status.crd() - 1];
      }
      if (delay.count() == 0) {
        PostTo(s.index, [this, &s, bio] { Dispatch(s, bio); });
      } else {
        s.reactor->AddTimer(delay, [this, &s, bio] { Dispatch(s, bio); });
      }
      return;
    }
    case nvme::Disposition::kFailover:
      ++bio->failovers_;
      ++s.counters.failovers;
      ++pc.failovers;
      bio->retries_ = 0;
      bio->retry_slot_ = -1;
      bio->failed_slots_ |= 1u << slot;
      Enqueue(s, bio);
      return ScheduleRequeue(s);
  }
}

void Head::Complete(Shard& s, Bio* bio, Status status) {
  NVMP_ASSERT(bio->state_ != BioState::kDone, "Bio completed twice");
  bio->head_ticket_.Release();
  bio->status = std::move(status);
  bio->state_ = BioState::kDone;
  NVMP_ASSERT(s.counters.outstanding > 0);
  --s.counters.outstanding;
  if (bio->status.ok()) {
    ++s.counters.completed;
  } else {
    ++s.counters.errors;
    if (failure_probe_) failure_probe_(*bio, latest_->any_usable);
  }
  if (s.in_submit) {
    // Callbacks never run inside Submit.
    PostTo(s.index, [bio] { bio->on_done(*bio); });
  } else {
    bio->on_done(*bio);
  }
}

void Head::FailNoPath(Shard& s, Bio* bio, std::string_view why) {
  ++s.counters.no_path;
  std::string msg = fmt::format("no usable path to {}", options_.name);
  if (!why.empty()) msg += fmt::format(" {}", why);
  msg += ": " + (s.set ? DescribePaths(*s.set) : std::string("no paths"));
  Complete(s, bio, Status(Code::kNoPath, std::move(msg)));
}

void Head::Install(Shard& s, std::shared_ptr<const PathSet> set) {
  NVMP_ASSERT(!s.set || set->generation > s.generation, "path sets installed out of order");
  if (s.set && s.set->policy != set->policy) s.cursor = PolicyCursor{};
  const bool timeout_changed = s.set && s.set->queue_timeout != set->queue_timeout;
  s.set = std::move(set);
  s.generation = s.set->generation;
  s.numa_node = reactor::CurrentNumaNode();
  RunRequeue(s);
  // A new no-path timeout counts from each queued Bio's own queueing time, not from now.
  if (timeout_changed && s.deadline_timer != reactor::kNoTimer) {
    s.reactor->CancelTimer(s.deadline_timer);
    s.deadline_timer = reactor::kNoTimer;
    CheckQueueDeadlines(s);
  }
  uint64_t gen = s.generation;
  unsigned index = s.index;
  PostTo(home_, [this, index, gen] { OnInstalled(index, gen); });
}

// ---------------------------------------------------------------------------------------------
// control (home reactor)

int Head::SlotOf(const blk::Path* path) const {
  for (int i = 0; i < kMaxPaths; ++i) {
    if (slots_[i].path == path) return i;
  }
  return -1;
}

Status Head::AddPath(blk::Path* path) {
  if (SlotOf(path) >= 0) {
    return Status(Code::kAlreadyExists, fmt::format("path {} is already in {}", path->name(), name()));
  }
  int slot = SlotOf(nullptr);
  if (slot < 0) {
    return Status(Code::kUnavailable,
                  fmt::format("{} has {} paths already (the maximum)", name(), kMaxPaths));
  }
  NVMP_ASSERT(path->channel_count() >= shards_.size(), "path has fewer channels than the head");
  for (unsigned i = 0; i < shards_.size(); ++i) {
    NVMP_ASSERT(path->Channel(i).reactor() == shards_reactors_[i],
                "path channel on another reactor than the head's shard");
  }
  slots_[slot].path = path;
  slots_[slot].removing = false;
  // Counters of a reused slot start from zero; the reset reaches each reactor before the set that
  // names the new path (messages to one reactor arrive in order).
  for (unsigned i = 0; i < shards_.size(); ++i) {
    PostTo(i, [this, i, slot] { shards_[i]->path_counters[slot] = PathCounters{}; });
  }
  path->SetObserver(this);
  OnPathStateChanged(path);
  return Status::Ok();
}

void Head::OnPathStateChanged(blk::Path* path) {
  int slot = SlotOf(path);
  if (slot < 0) return;
  Slot& sl = slots_[slot];
  blk::PathState old = sl.state;
  blk::PathState now = path->state();
  bool first = sl.state.capacity_blocks == 0 && !sl.state.ready;
  sl.state = now;
  const uint64_t capacity_before = capacity_blocks_;
  const uint32_t block_size_before = block_size_;
  // Linux: the head takes the capacity a path reports when that path (re)validates; siblings with
  // another capacity are unusable until they report the same.
  if (now.ready && now.capacity_blocks != 0 &&
      (first || !old.ready || now.capacity_blocks != old.capacity_blocks || !capacity_known_)) {
    capacity_known_ = true;
    capacity_blocks_ = now.capacity_blocks;
    block_size_ = now.block_size;
  }
  Publish();
  const bool geometry_changed =
      capacity_blocks_ != capacity_before || block_size_ != block_size_before;
  if (geometry_changed && geometry_observer_) geometry_observer_();
}

void Head::RemovePath(blk::Path* path, std::function<void()> on_removed) {
  int slot = SlotOf(path);
  NVMP_ASSERT(slot >= 0, "removing a path the head does not have");
  NVMP_ASSERT(!slots_[slot].removing, "path removed twice");
  slots_[slot].removing = true;
  slots_[slot].on_removed = std::move(on_removed);
  Publish();
  AfterGracePeriod([this, slot] { StartDrain(static_cast<uint16_t>(slot)); });
}

void Head::StartDrain(uint16_t slot) {
  slots_[slot].drain_acks = 0;
  for (unsigned i = 0; i < shards_.size(); ++i) {
    PostTo(i, [this, i, slot] {
      Shard& s = *shards_[i];
      if (s.in_flight[slot] == 0) {
        PostTo(home_, [this, slot] { OnDrained(slot); });
      } else {
        s.draining[slot] = true;
      }
    });
  }
}

void Head::OnDrained(uint16_t slot) {
  Slot& sl = slots_[slot];
  if (++sl.drain_acks < shards_.size()) return;
  sl.path->SetObserver(nullptr);
  auto done = std::move(sl.on_removed);
  sl = Slot{};
  if (done) done();
}

void Head::OnPathError(uint16_t slot, blk::Path* path, nvme::PathAction action) {
  if (slots_[slot].path != path || slots_[slot].removing) return;
  path->OnPathError(action);
}

void Head::SetPolicy(Policy policy) {
  options_.policy = policy;
  Publish();
}

void Head::SetQueueTimeout(Duration queue_timeout) {
  options_.queue_timeout = queue_timeout;
  Publish();
}

void Head::Shutdown(std::function<void()> done) {
  live_ = false;
  Publish();
  AfterGracePeriod([this, done = std::move(done)]() mutable { WhenQuiet(std::move(done)); });
}

std::shared_ptr<PathSet> Head::BuildPathSet() const {
  auto set = std::make_shared<PathSet>();
  set->policy = static_cast<uint8_t>(options_.policy);
  set->queue_timeout = options_.queue_timeout;
  set->head_live = live_;
  set->capacity_known = capacity_known_;
  set->capacity_blocks = capacity_blocks_;
  set->block_size = block_size_;
  for (uint16_t i = 0; i < kMaxPaths; ++i) {
    const Slot& sl = slots_[i];
    if (sl.path == nullptr || sl.removing) continue;
    PathEntry e;
    e.path = sl.path;
    e.slot = i;
    e.state = sl.state;
    e.usable = live_ && capacity_known_ && IsUsable(sl.state, capacity_blocks_);
    e.optimized = e.usable && sl.state.ana == blk::AnaState::kOptimized;
    e.may_return = !e.usable && MayReturn(sl.state);
    set->any_usable |= e.usable;
    set->may_return |= e.usable || e.may_return;
    set->paths.push_back(e);
  }
  if (!live_) set->may_return = false;
  return set;
}

void Head::Publish() {
  auto set = BuildPathSet();
  set->generation = ++generation_;
  latest_ = set;
  published_generation_.store(generation_, std::memory_order_release);
  for (unsigned i = 0; i < shards_.size(); ++i) {
    PostTo(i, [this, i, set] { Install(*shards_[i], set); });
  }
}

void Head::OnInstalled(unsigned shard, uint64_t generation) {
  installed_[shard] = std::max(installed_[shard], generation);
  uint64_t all = *std::min_element(installed_.begin(), installed_.end());
  // Run waiters whose generation every reactor has installed, in the order they were added.
  std::vector<std::function<void()>> ready;
  auto it = grace_waiters_.begin();
  while (it != grace_waiters_.end()) {
    if (it->first <= all) {
      ready.push_back(std::move(it->second));
      it = grace_waiters_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& fn : ready) fn();
}

void Head::AfterGracePeriod(std::function<void()> fn) {
  grace_waiters_.emplace_back(generation_, std::move(fn));
}

bool Head::HasUsablePath() const { return latest_->any_usable; }
bool Head::MayPathReturn() const { return latest_->may_return; }

}  // namespace nvmpath::mpath
