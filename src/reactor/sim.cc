#include "reactor/sim.h"

#include <algorithm>

#include "base/assert.h"
#include "reactor/sim_file.h"
#include "reactor/sim_network.h"

namespace nvmpath::reactor {

// ---- Sim ----

Sim::Sim(SimWorld* world, unsigned index) : world_(world), index_(index) {}

TimePoint Sim::now() const { return world_->now(); }

void Sim::Post(Task task) { world_->PostFrom(this, std::move(task)); }

TimerId Sim::AddTimer(Duration delay, Task task) {
  return world_->AddTimer(this, delay, std::move(task));
}

bool Sim::CancelTimer(TimerId id) { return world_->CancelTimer(id); }

Result<std::unique_ptr<Listener>> Sim::Listen(const std::string& address, uint16_t port,
                                              OnAccept on_accept) {
  return world_->network().Listen(this, address, port, std::move(on_accept));
}

void Sim::Connect(const std::string& address, uint16_t port, OnConnect on_connect) {
  world_->network().Connect(this, address, port, std::move(on_connect));
}

Result<std::unique_ptr<File>> Sim::OpenFile(const std::string& path, OpenMode mode) {
  return SimFile::Open(this, path, mode);
}

// ---- SimWorld ----

SimWorld::SimWorld(uint64_t seed)
    : seed_(seed), rng_(seed), network_(std::make_unique<SimNetwork>(this)) {}

SimWorld::~SimWorld() {
  // Pending events may hold the last references to streams; drop them before the network.
  // Streams destroyed now must not schedule anything more.
  shutting_down_ = true;
  timers_.clear();
  ready_lanes_.clear();
  lanes_.clear();
  timed_.clear();
  std::lock_guard<std::mutex> lock(inbox_mu_);
  inbox_.clear();
}

Sim* SimWorld::AddReactor() {
  const auto index = static_cast<unsigned>(reactors_.size());
  reactors_.push_back(std::make_unique<Sim>(this, index));
  return reactors_.back().get();
}

void SimWorld::PostFrom(Sim* reactor, Task task) {
  NVMP_ASSERT(task != nullptr, "Post of an empty task");
  std::lock_guard<std::mutex> lock(inbox_mu_);
  inbox_.emplace_back(reactor, std::move(task));
}

void SimWorld::DrainInbox() {
  std::vector<std::pair<Sim*, Task>> posted;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    posted.swap(inbox_);
  }
  // The post lane of reactor i is lane i: posts to one reactor keep their order.
  for (auto& [reactor, task] : posted) {
    PushReady(reactor->index(), Event{reactor, std::move(task), kNoTimer});
  }
}

void SimWorld::Schedule(Sim* reactor, TimePoint at, LaneId lane, Task fn) {
  NVMP_ASSERT(fn != nullptr);
  ScheduleEvent(at, lane, Event{reactor, std::move(fn), kNoTimer});
}

void SimWorld::ScheduleEvent(TimePoint at, LaneId lane, Event ev) {
  if (shutting_down_) return;
  if (at <= now_) {
    PushReady(lane, std::move(ev));
    return;
  }
  const TimedKey key{at, next_seq_++};
  if (ev.timer != kNoTimer) timers_[ev.timer] = TimerLoc{false, key, lane};
  timed_.emplace(key, std::make_pair(lane, std::move(ev)));
}

void SimWorld::PushReady(LaneId lane, Event ev) {
  if (ev.timer != kNoTimer) timers_[ev.timer] = TimerLoc{true, TimedKey{}, lane};
  auto [it, inserted] = lanes_.try_emplace(lane);
  if (inserted) ready_lanes_.push_back(lane);
  it->second.push_back(std::move(ev));
}

void SimWorld::PromoteDue() {
  while (!timed_.empty() && timed_.begin()->first.first <= now_) {
    auto node = timed_.extract(timed_.begin());
    PushReady(node.mapped().first, std::move(node.mapped().second));
  }
}

TimerId SimWorld::AddTimer(Sim* reactor, Duration delay, Task task) {
  NVMP_ASSERT(task != nullptr, "AddTimer of an empty task");
  const TimerId id = next_timer_++;
  const TimePoint at = now_ + std::max(delay, Duration::zero());
  // A timer is a lane of its own; a zero delay still runs later, never inside this call.
  ScheduleEvent(at, NewLane(), Event{reactor, std::move(task), id});
  return id;
}

bool SimWorld::CancelTimer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;  // fired, cancelled, or never existed
  const TimerLoc loc = it->second;
  timers_.erase(it);
  if (!loc.ready) {
    const size_t erased = timed_.erase(loc.key);
    NVMP_ASSERT(erased == 1, "timer index out of sync with the timed queue");
    return true;
  }
  auto lane = lanes_.find(loc.lane);
  NVMP_ASSERT(lane != lanes_.end() && lane->second.size() == 1 &&
              lane->second.front().timer == id);
  lanes_.erase(lane);
  auto pos = std::find(ready_lanes_.begin(), ready_lanes_.end(), loc.lane);
  NVMP_ASSERT(pos != ready_lanes_.end());
  *pos = ready_lanes_.back();
  ready_lanes_.pop_back();
  return true;
}

bool SimWorld::HasPending() {
  DrainInbox();
  return !ready_lanes_.empty() || !timed_.empty();
}

bool SimWorld::NextEventTime(TimePoint* at) {
  DrainInbox();
  PromoteDue();
  if (!ready_lanes_.empty()) {
    *at = now_;
    return true;
  }
  if (timed_.empty()) return false;
  *at = timed_.begin()->first.first;
  return true;
}

bool SimWorld::Step() {
  TimePoint at;
  if (!NextEventTime(&at)) return false;
  if (ready_lanes_.empty()) {
    NVMP_ASSERT(at > now_, "the virtual clock never goes back");
    now_ = at;
    PromoteDue();
  }
  NVMP_ASSERT(!ready_lanes_.empty());
  const size_t pick = rng_.Below(ready_lanes_.size());
  const LaneId lane_id = ready_lanes_[pick];
  auto lane = lanes_.find(lane_id);
  NVMP_ASSERT(lane != lanes_.end() && !lane->second.empty());
  Event ev = std::move(lane->second.front());
  lane->second.pop_front();
  if (lane->second.empty()) {
    lanes_.erase(lane);
    ready_lanes_[pick] = ready_lanes_.back();
    ready_lanes_.pop_back();
  }
  RunEvent(std::move(ev));
  return true;
}

void SimWorld::RunEvent(Event ev) {
  NVMP_ASSERT(ev.fn != nullptr, "an event runs once");
  if (ev.timer != kNoTimer) {
    const size_t erased = timers_.erase(ev.timer);
    NVMP_ASSERT(erased == 1, "a timer fires once");
  }
  ++event_serial_;
  ++events_run_;
  Task fn = std::move(ev.fn);
  ev.fn = nullptr;
  internal::ScopedCurrent current(ev.reactor);
  fn();
}

void SimWorld::RunFor(Duration d) {
  NVMP_ASSERT(d >= Duration::zero());
  const TimePoint end = now_ + d;
  TimePoint at;
  while (NextEventTime(&at) && at <= end) Step();
  NVMP_ASSERT(end >= now_, "the virtual clock never goes back");
  now_ = end;
}

bool SimWorld::RunUntil(const std::function<bool()>& done, Duration limit) {
  const TimePoint end = now_ + limit;
  if (done()) return true;
  TimePoint at;
  while (NextEventTime(&at) && at <= end) {
    Step();
    if (done()) return true;
  }
  now_ = std::max(now_, end);
  return false;
}

size_t SimWorld::RunUntilIdle(size_t max_events) {
  size_t n = 0;
  while (n < max_events && Step()) ++n;
  return n;
}

}  // namespace nvmpath::reactor
