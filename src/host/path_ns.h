// host::PathNs — one namespace reached through one NVMe/TCP controller: the blk::Path the head
// sees for (controller, NSID).
//
// Data path: each reactor has its own channel (Channel(shard): attempt pool, QoS limiter, the
// controller's I/O channel for that reactor). Submit wraps the Bio in an Attempt (this path's
// per-attempt object: the QoS ticket, the command's DSM range buffer, the retry timer for a full
// queue, the attempt-list link), takes a ticket from the channel's path QoS limiter when limits
// are set (waiting FIFO when they are reached), builds the NVMe command (Read / Write / Flush /
// Write Zeroes / Dataset Management deallocate) for this NSID and block size, and sends it on the
// channel's I/O queue. When the command completes, the Attempt — ticket included — goes back to
// its channel first, then the bare Bio and the NVMe status go to the head's sink — except that a write, write zeroes or deallocate whose
// connection was lost (0x371: it may still execute on the old controller) is first held for the
// controller's write fence (Controller::write_fence: fence_delay or CQT), so another path never
// repeats it while the stale copy can still land (docs/ARCHITECTURE.md "Stale-write fencing");
// such an attempt goes to the sink with the time its connection was lost, where the head's
// failover gap starts (docs/ARCHITECTURE.md "Statistics").
// The range is not checked against this path's capacity (the head did it, once). A Bio larger
// than the controller's maximum transfer fails with Invalid Field (DNR): the head's callers bound
// their I/O size (Client API), so splitting is not done.
//
// State: the owner (host::NamespaceScanner) feeds it — the controller's state, the namespace's
// identify data (capacity, block size, ANA group), the ANA state of its group — and every change
// reaches the observer (the head). OnPathError marks the path (ana_pending / not ready) and asks
// the owner to re-read the ANA log or rescan the controller.
//
// Threads: Submit and attempt completion on the channel's reactor (per-reactor pools, limiters and
// attempt lists, nothing shared); the block size shift read by the data path is atomic; state,
// setters and the observer on the home reactor.
// Invariants: every Submit ends in exactly one sink->OnAttemptDone, after its Attempt is back in
// the pool and its QoS ticket back in this channel's limiter (whatever ended it: completion, path
// error, timeout, connection loss, controller deletion); a fenced attempt stays on its attempt
// list (in flight for the head, so a path removal drains it) until its fence expires; the path is
// destroyed only with no attempt in flight (asserted).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blk/path.h"
#include "blk/qos.h"
#include "host/controller.h"
#include "reactor/reactor.h"

namespace nvmpath::host {

// What a path asks of its owner when the head reports an error on it. Home reactor.
class PathNsOwner {
 public:
  virtual ~PathNsOwner() = default;
  // An ANA status was seen: re-read the controller's ANA log.
  virtual void RequestAnaLogRead() = 0;
  // A namespace-gone status was seen: rescan the controller's namespaces.
  virtual void RequestRescan() = 0;
};

struct PathNsCounters {
  uint64_t submitted = 0;
  uint64_t completed_error = 0;
  uint64_t queue_full_retries = 0;
  uint64_t too_large = 0;
  // Data-modifying attempts whose connection was lost and that were held for the controller's
  // write fence before going back to the head (docs/ARCHITECTURE.md "Stale-write fencing").
  uint64_t fenced_writes = 0;
  // Attempts that waited for the path QoS limiter before being sent.
  uint64_t qos_waits = 0;

  void Add(const PathNsCounters& o) {
    submitted += o.submitted;
    completed_error += o.completed_error;
    queue_full_retries += o.queue_full_retries;
    too_large += o.too_large;
    fenced_writes += o.fenced_writes;
    qos_waits += o.qos_waits;
  }
};

class PathNs final : public blk::Path {
 public:
  // `initial` is the state before the first notification (ready, capacity, block size, ANA).
  // `qos`: each channel's path QoS limits (unlimited: no limiter).
  // REQUIRES: ctrl, owner and every reactor outlive the path; `reactors` are the controller's
  // reactors, in its order; home is the controller's home; initial.block_size is a power of two
  // >= 512.
  PathNs(std::string name, uint32_t nsid, Controller* ctrl, PathNsOwner* owner,
         std::vector<reactor::Reactor*> reactors, unsigned home, blk::PathState initial,
         blk::QosLimits qos = {});
  ~PathNs() override;
  PathNs(const PathNs&) = delete;
  PathNs& operator=(const PathNs&) = delete;

  // blk::Path
  const std::string& name() const override { return name_; }
  blk::PathChannel& Channel(unsigned shard) override;
  unsigned channel_count() const override { return static_cast<unsigned>(channels_.size()); }
  blk::PathState state() const override { return state_; }
  void OnPathError(nvme::PathAction action) override;
  void SetObserver(blk::PathObserver* observer) override { observer_ = observer; }

  uint32_t nsid() const { return nsid_; }
  Controller* controller() const { return ctrl_; }

  // ---- owner (home reactor); each notifies the observer if the state changed ----
  // Replaces the whole state, keeping nothing. Used by the scanner after identify / ANA reads.
  void UpdateState(const blk::PathState& next);

  // This path's counters and QoS accounting on `shard`'s channel.
  // REQUIRES: called on that channel's reactor, or with the reactors stopped.
  PathNsCounters counters(unsigned shard) const;
  blk::QosCounters qos(unsigned shard) const;

  // Attempts in flight from every reactor. REQUIRES: reactors not running (tests) or home only
  // after a drain.
  uint64_t TEST_InFlight() const;
  // Sums counters() over the channels. REQUIRES: reactors not running (tests).
  PathNsCounters TEST_Counters() const;

 private:
  struct Attempt;
  class ReactorChannel;

  void Start(ReactorChannel& c, Attempt* a);
  void Send(ReactorChannel& c, Attempt* a);
  // The controller's completion: fences a data-modifying attempt whose connection was lost,
  // else finishes it.
  void OnCommandDone(ReactorChannel& c, Attempt* a, nvme::NvmeStatus status);
  // `failed_at`: set for an attempt held after it failed (the write fence), when it failed.
  void Finish(ReactorChannel& c, Attempt* a, nvme::NvmeStatus status,
              std::optional<TimePoint> failed_at = std::nullopt);

  const std::string name_;
  const uint32_t nsid_;
  Controller* const ctrl_;
  PathNsOwner* const owner_;
  std::vector<std::unique_ptr<ReactorChannel>> channels_;
  std::atomic<uint32_t> block_shift_;  // log2(block size); read by the data path

  // home
  blk::PathState state_;
  blk::PathObserver* observer_ = nullptr;
};

}  // namespace nvmpath::host
