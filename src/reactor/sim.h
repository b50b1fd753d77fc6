// reactor::Sim and reactor::SimWorld: reactors on a virtual clock, for deterministic simulation
// (shared/DESIGN.md "The reactor interface").
//
// A SimWorld owns the virtual clock, one seeded random generator, the simulated network
// (SimNetwork, see sim_network.h) and N Sim reactors. Nothing runs by itself: the test or
// scenario drives the world with Step / RunFor / RunUntil / RunUntilIdle, on one OS thread.
//
// Scheduling. Every callback is an event with a due time, on a *lane*. A lane is a FIFO of events
// that must keep their order: each reactor's Post queue is one lane (posts run in order, as on
// Uring), each direction of a stream is one lane (bytes arrive in order), and every timer and
// file completion is a lane of its own. Step() picks, with the seeded generator, one lane among
// all lanes whose head event is due, and runs that event. When no event is due it advances the
// clock to the earliest pending one. So the run is a pure function of (program, seed): no wall
// clock, no hash-map iteration order and no pointer values take part in any choice.
//
// Thread: everything here belongs to the thread that drives the world, except Sim::Post and
// SimWorld::Post-side state, which are safe from any thread (a mutex-protected inbox, drained at
// the start of every Step).
// Invariants (asserted): the clock never goes back; an event runs at most once; a closed or
// broken stream delivers nothing more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/time.h"
#include "reactor/reactor.h"
#include "reactor/sim_random.h"

namespace nvmpath::reactor {

class SimWorld;
class SimNetwork;

// One simulated reactor. Created by SimWorld::AddReactor; lives as long as the world.
class Sim final : public Reactor {
 public:
  Sim(SimWorld* world, unsigned index);

  unsigned index() const override { return index_; }
  TimePoint now() const override;
  void Post(Task task) override;  // thread-safe
  TimerId AddTimer(Duration delay, Task task) override;
  bool CancelTimer(TimerId id) override;
  // Listen/Connect use the world's SimNetwork. Listen errors: kAlreadyExists (endpoint taken),
  // kUnavailable (no free port). Connect reports kUnavailable "connection refused: a:p".
  Result<std::unique_ptr<Listener>> Listen(const std::string& address, uint16_t port,
                                           OnAccept on_accept) override;
  void Connect(const std::string& address, uint16_t port, OnConnect on_connect) override;
  // A real file; Read/Write run pread/pwrite at once and complete by an event after
  // SimWorld::kFileLatency of virtual time. Errors: ErrnoStatus from open(2).
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) override;

  SimWorld& world() const { return *world_; }

 private:
  SimWorld* const world_;
  const unsigned index_;
};

class SimWorld {
 public:
  static constexpr Duration kFileLatency = std::chrono::microseconds(2);

  explicit SimWorld(uint64_t seed);
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  // Adds a reactor; its index() is the number of reactors added before it.
  Sim* AddReactor();
  Sim* reactor(unsigned index) const { return reactors_.at(index).get(); }
  size_t reactor_count() const { return reactors_.size(); }

  uint64_t seed() const { return seed_; }
  TimePoint now() const { return now_; }
  uint64_t events_run() const { return events_run_; }
  // The network: listeners, streams, and the fault controls (latency, cut, refuse, stall).
  SimNetwork& network() { return *network_; }
  // The world's random generator (for scenario code that wants choices replayed by the seed).
  SimRandom& random() { return rng_; }

  // Runs one event chosen by the seeded generator among all due events of all reactors; if none
  // is due, first advances the clock to the earliest pending event. Returns false when nothing at
  // all is pending (the clock does not move then).
  bool Step();
  // Runs every event due before start + d, then sets the clock to exactly start + d.
  void RunFor(Duration d);
  // Runs events until done() is true (checked before the first and after every event) or until
  // the clock would pass start + limit. Returns whether done() became true. The clock is left
  // where the last event ran (or at start + limit when the limit was reached).
  bool RunUntil(const std::function<bool()>& done, Duration limit);
  // Runs until nothing is pending or max_events ran; returns the number of events run.
  size_t RunUntilIdle(size_t max_events = 100'000'000);

  // True if any event (including a cross-thread Post) is pending.
  bool HasPending();

  // ---- Used by Sim, SimNetwork and SimFile; not for scenario code. ----
  using LaneId = uint64_t;
  // A fresh lane for a sequence of events that must stay in order.
  LaneId NewLane() { return next_lane_++; }
  // Schedules `fn` to run on `reactor` at `at` (clamped to now) at the back of `lane`.
  // REQUIRES: events on one lane are scheduled with non-decreasing `at`.
  void Schedule(Sim* reactor, TimePoint at, LaneId lane, Task fn);
  // Increments whenever an event starts: Sends made during one event coalesce.
  uint64_t event_serial() const { return event_serial_; }
  void PostFrom(Sim* reactor, Task task);
  TimerId AddTimer(Sim* reactor, Duration delay, Task task);
  bool CancelTimer(TimerId id);

 private:
  struct Event {
    Sim* reactor = nullptr;
    Task fn;
    TimerId timer = kNoTimer;
  };
  using TimedKey = std::pair<TimePoint, uint64_t>;  // (due, sequence): a total, replayable order

  void DrainInbox();
  // Moves every timed event due at or before now into its lane.
  void PromoteDue();
  void PushReady(LaneId lane, Event ev);
  // The time of the earliest pending event (now if one is ready); false if none.
  bool NextEventTime(TimePoint* at);
  void RunEvent(Event ev);
  void ScheduleEvent(TimePoint at, LaneId lane, Event ev);

  const uint64_t seed_;
  SimRandom rng_;
  TimePoint now_{0};
  uint64_t events_run_ = 0;
  uint64_t event_serial_ = 0;
  uint64_t next_seq_ = 1;
  LaneId next_lane_ = 1ULL << 32;  // lanes below are the reactors' post lanes
  TimerId next_timer_ = 1;
  bool shutting_down_ = false;

  std::vector<std::unique_ptr<Sim>> reactors_;
  std::unique_ptr<SimNetwork> network_;

  std::map<TimedKey, std::pair<LaneId, Event>> timed_;  // not yet due
  std::map<LaneId, std::deque<Event>> lanes_;           // due; only non-empty lanes
  std::vector<LaneId> ready_lanes_;                     // keys of lanes_, in a replayable order
  struct TimerLoc {
    bool ready = false;  // false: in timed_ under key; true: the head of its own lane
    TimedKey key;
    LaneId lane = 0;
  };
  std::map<TimerId, TimerLoc> timers_;

  std::mutex inbox_mu_;
  std::vector<std::pair<Sim*, Task>> inbox_;  // guarded by inbox_mu_
};

}  // namespace nvmpath::reactor
