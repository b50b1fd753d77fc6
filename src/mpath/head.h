// mpath::Head — one shared namespace, shown as one device, served through several paths.
//
// Data path (any of the head's reactors): each reactor submits through its own HeadChannel
// (Channel(shard), what SPDK calls an I/O channel: the head's per-reactor state, found by index,
// never searched for). Submit(bio) checks the range once against the head's
// capacity, takes head QoS admission if configured, picks a path from this reactor's PathSet
// snapshot by policy, and hands the Bio to the path. When the attempt ends, nvme::Decide says what
// happens: complete, retry on the same path after the CRD delay, fail over (the bare Bio goes to
// this reactor's requeue list and is dispatched again), or fail. A Bio that finds no usable path
// waits on the requeue list while some path may return (or the head queues when no path is
// left), until `queue_timeout` if one is set; otherwise it fails with a "no usable path" error
// that lists every path's state.
//
// Control (home reactor only): paths are added, removed and report state changes there; every
// change publishes a new PathSet to every reactor by message. A grace period is "every reactor has
// installed generation G". Removing a path publishes a set without it, waits out the grace period
// (no reactor can pick it any more), then waits for its in-flight attempts to finish or fail over,
// and only then reports the path removed, so its owner may destroy it.
//
// Threads: Submit and attempt completions on shard reactors; everything else on home. The only
// state shared between threads is published_generation_ and the count of messages in flight
// (atomics); the rest travels by message.
// Invariants: every Bio completes exactly once; per-reactor in-flight count per path equals the
// attempts that path holds from that reactor; a Bio dispatched to a path is never range-checked
// again.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "blk/bio.h"
#include "blk/path.h"
#include "blk/qos.h"
#include "mpath/counters.h"
#include "mpath/path_set.h"
#include "mpath/policy.h"
#include "reactor/reactor.h"

namespace nvmpath::mpath {

struct HeadOptions {
  std::string name = "head";          // e.g. "nqn.2024-01.org.example:sub1:ns1"
  Policy policy = Policy::kNuma;
  blk::QosLimits qos;                 // head QoS; unlimited: none
  Duration queue_timeout{0};          // max wait for a path; 0: as long as one may return
  bool queue_if_no_path = false;      // queue even with no path left (Linux delayed removal)
};

class Head;

// One reactor's door to a head. Obtained once per reactor (Head::Channel) and kept by the caller.
class HeadChannel {
 public:
  HeadChannel(const HeadChannel&) = delete;
  HeadChannel& operator=(const HeadChannel&) = delete;

  // Starts `bio`; bio->on_done runs exactly once, later, on this channel's reactor.
  // Errors in bio->status: kOutOfRange (beyond capacity), kInvalidArgument (bad range or buffer),
  // kUnavailable (nowait and head QoS would block), kNoPath (no path can serve it), or the NVMe
  // status of a failed command.
  // REQUIRES: called on reactor(); bio->state is kIdle or kDone.
  void Submit(blk::Bio* bio);
  reactor::Reactor* reactor() const { return reactor_; }
  Head& head() const { return *head_; }

 protected:
  HeadChannel(Head* head, reactor::Reactor* reactor) : head_(head), reactor_(reactor) {}
  ~HeadChannel() = default;

 private:
  Head* const head_;
  reactor::Reactor* const reactor_;
};

class Head : private blk::PathObserver {
 public:
  // REQUIRES: home < shards.size(); every shard reactor outlives the head.
  Head(HeadOptions options, std::vector<reactor::Reactor*> shards, unsigned home);
  ~Head() override;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  const std::string& name() const { return options_.name; }

  // ---- data path ----

  // The channel of the head's `shard`-th reactor (the constructor's order). Stable for the head's
  // lifetime; any thread may take the reference, only that reactor may submit through it.
  HeadChannel& Channel(unsigned shard);
  unsigned channel_count() const { return static_cast<unsigned>(shards_.size()); }

  // ---- control: on the home reactor ----

  // Adds a path; its state joins the next published set. Fails with kAlreadyExists or
  // kUnavailable (kMaxPaths reached).
  // REQUIRES: the path's channel i is on the head's reactor i, for every head reactor.
  Status AddPath(blk::Path* path);
  // Removes `path`; `on_removed` runs on home once no reactor can pick it and none of its attempts
  // is in flight. The owner may destroy the path then.
  void RemovePath(blk::Path* path, std::function<void()> on_removed);
  void SetPolicy(Policy policy);
  // How long an I/O with no usable path waits for one (0: as long as a path may return). Bios
  // already queued keep their queueing time: the new limit counts from it.
  void SetQueueTimeout(Duration queue_timeout);
  const HeadOptions& options() const { return options_; }  // home
  // Marks the head gone: queued and new I/O fails with kNoPath. `done` runs on home after the
  // grace period, once every message the head posted between its reactors has been handled
  // (WhenQuiet): with nothing submitted since, the head may be destroyed then.
  void Shutdown(std::function<void()> done);
  // Runs `done` on home, never inside this call, at the first moment no message this head posted
  // between its reactors is still on its way (an install acknowledged to home, a counter reset or
  // a requeue on a shard, a CollectStats hop). After Shutdown, with no Bio submitted since, the
  // head may be destroyed once `done` ran.
  void WhenQuiet(std::function<void()> done);
  // Runs `observer` on home whenever capacity_blocks() or block_size() changes (after the set
  // with the new geometry is published). One observer; nullptr removes it.
  void SetGeometryObserver(std::function<void()> observer) {
    geometry_observer_ = std::move(observer);
  }

  // The home view (the latest published set).
  bool HasUsablePath() const;
  bool MayPathReturn() const;
  uint64_t capacity_blocks() const { return latest_->capacity_blocks; }
  uint32_t block_size() const { return latest_->block_size; }
  std::string DescribePathStates() const { return DescribePaths(*latest_); }
  size_t path_count() const { return latest_->paths.size(); }
  uint64_t generation() const { return latest_->generation; }

  // Messages this head posted between its reactors and not yet handled; the head may be
  // destroyed only when this is 0 (WhenQuiet says when). Any thread.
  int messages_in_flight() const {
    return static_cast<int>(messages_in_flight_.load() / kMessageUnit);
  }

  // Sums every reactor's counters; `done` runs on home. Safe across threads.
  void CollectStats(std::function<void(HeadStats)> done);
  // The same, read directly. REQUIRES: the reactors are not running (simulation, tests).
  HeadStats TEST_Stats() const;
  // Called whenever the head decides to fail a Bio, with whether the head had a usable path at
  // that moment (the application's callback may run later). For invariant checks in the
  // simulator. REQUIRES: single-threaded (reactor::Sim): it reads the home view from any reactor.
  using FailureProbe = std::function<void(const blk::Bio& bio, bool usable_path)>;
  void TEST_SetFailureProbe(FailureProbe probe) { failure_probe_ = std::move(probe); }

 private:
  friend class HeadChannel;
  struct Shard;  // per-reactor state and the reactor's HeadChannel, mpath/head_shard.h

  // Attempt completions arrive per reactor and slot, so the head knows both without the Bio
  // carrying either.
  class SlotSink final : public blk::AttemptSink {
   public:
    void OnAttemptDone(blk::Bio* bio, nvme::NvmeStatus status) override;
    Head* head = nullptr;
    Shard* shard = nullptr;
    uint16_t slot = 0;
  };

  struct Slot {
    blk::Path* path = nullptr;
    blk::PathState state;
    bool removing = false;
    std::function<void()> on_removed;
    unsigned drain_acks = 0;
  };

  // PathObserver
  void OnPathStateChanged(blk::Path* path) override;

  // home
  void Publish();
  std::shared_ptr<PathSet> BuildPathSet() const;
  void OnInstalled(unsigned shard, uint64_t generation);
  void AfterGracePeriod(std::function<void()> fn);
  void StartDrain(uint16_t slot);
  void OnDrained(uint16_t slot);
  void OnPathError(uint16_t slot, blk::Path* path, nvme::PathAction action);
  int SlotOf(const blk::Path* path) const;
  void PostTo(unsigned shard, std::function<void()> fn);
  // Ends one message handled on `shard` (see messages_in_flight_).
  void MessageHandled(bool on_home);
  void RunQuietWaiters();

  // shard
  HeadCounters ShardHeadCounters(const Shard& s) const;
  std::array<PathCounters, kMaxPaths> ShardPathCounters(const Shard& s) const;
  void Submit(Shard& s, blk::Bio* bio);
  void Install(Shard& s, std::shared_ptr<const PathSet> set);
  void Admit(Shard& s, blk::Bio* bio);
  void Dispatch(Shard& s, blk::Bio* bio);
  void Enqueue(Shard& s, blk::Bio* bio);
  void ScheduleRequeue(Shard& s);
  void RunRequeue(Shard& s);
  void CheckQueueDeadlines(Shard& s);
  // The no-path timeout of the set this reactor installed (0 before its first).
  static Duration QueueTimeout(const Shard& s);
  void AttemptDone(Shard& s, uint16_t slot, blk::Bio* bio, nvme::NvmeStatus status);
  void Complete(Shard& s, blk::Bio* bio, Status status);
  void FailNoPath(Shard& s, blk::Bio* bio, std::string_view why);

  HeadOptions options_;
  std::vector<reactor::Reactor*> shards_reactors_;
  unsigned home_;
  std::vector<std::unique_ptr<Shard>> shards_;

  // home state
  std::array<Slot, kMaxPaths> slots_;
  std::shared_ptr<const PathSet> latest_;
  bool capacity_known_ = false;
  uint64_t capacity_blocks_ = 0;
  uint32_t block_size_ = 512;
  bool live_ = true;
  uint64_t generation_ = 0;
  std::vector<uint64_t> installed_;  // per shard: the newest generation it installed
  std::vector<std::pair<uint64_t, std::function<void()>>> grace_waiters_;

  std::function<void()> geometry_observer_;
  std::vector<std::function<void()>> quiet_waiters_;

  FailureProbe failure_probe_;
  std::atomic<uint64_t> published_generation_{0};
  // kMessageUnit per message posted and not yet handled, plus kQuietWanted while WhenQuiet has a
  // waiter: one word, so a reactor ending a message sees a waiter registered at the same moment.
  // The count reaches zero with a waiter only on home (a shard that would hands its message to
  // home instead), so nothing touches the head after home saw it quiet.
  static constexpr uint32_t kQuietWanted = 1;
  static constexpr uint32_t kMessageUnit = 2;
  std::atomic<uint32_t> messages_in_flight_{0};
};

}  // namespace nvmpath::mpath
