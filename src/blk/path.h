// blk::Path — what a head sees of one path: a namespace reached through one controller.
//
// The head picks a path per Bio and submits it through the path's channel for the reactor the Bio
// runs on (Channel(shard): the path's per-reactor state, what SPDK calls an I/O channel — the data
// path indexes it and never searches for its reactor). The path wraps
// the Bio in its own attempt object (QoS ticket, command id, queue, timeout), and when the attempt
// ends it first destroys that object — so every per-path resource has gone back to the path — and
// then hands the bare Bio and the NVMe status back through AttemptSink. The head decides what
// happens next (nvme::Decide): complete, retry here, fail over, fail.
//
// Implementations: sim::MemPath (in-process, memory-backed, with fault controls; test and
// simulation support) and the NVMe/TCP
// host's per-controller namespace.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "blk/bio.h"
#include "blk/qos.h"
#include "reactor/reactor.h"
#include "nvme/ana_log.h"
#include "nvme/status.h"

namespace nvmpath::blk {

using nvme::AnaState;
using nvme::AnaStateName;

// Controller states (Linux nvme_ctrl_state).
enum class CtrlState : uint8_t { kNew, kConnecting, kLive, kResetting, kDeleting, kDeletingNoIo, kDead };
const char* CtrlStateName(CtrlState s);

// What the head needs to know to decide whether a path is usable. Reported by the path on the
// head's home reactor whenever any field changes.
struct PathState {
  CtrlState ctrl = CtrlState::kNew;
  AnaState ana = AnaState::kOptimized;
  bool ana_pending = false;       // an ANA error was seen; waiting for the ANA log re-read
  bool ready = false;             // the namespace is attached and identified on this controller
  bool failfast_expired = false;  // fast_io_fail_tmo passed while reconnecting
  uint64_t capacity_blocks = 0;
  uint32_t block_size = 512;
  int numa_node = -1;  // the path's NUMA node; -1: none (equally near every CPU)
  // Command Retry Delay Times from Identify Controller, in units of 100 ms (CRDT1..3).
  std::array<uint16_t, 3> crdt{};

  friend bool operator==(const PathState&, const PathState&) = default;
};

// "live, optimized" / "connecting" / "live, ANA inaccessible" — for error messages.
std::string DescribePathState(const PathState& s);

class AttemptSink {
 public:
  virtual ~AttemptSink() = default;
  // The attempt of `bio` on `path` ended with `status`. Every per-path resource of the attempt is
  // already released. Called on the reactor the attempt was submitted on, never inside Submit.
  virtual void OnAttemptDone(Bio* bio, nvme::NvmeStatus status) = 0;
  // The same, for an attempt the path held after it had already failed (a write held for the
  // stale-write fence): `failed_at` is when the path learned that it failed, so the head's
  // failover gap counts the hold. Paths that never hold a failed attempt use the form above.
  virtual void OnAttemptDone(Bio* bio, nvme::NvmeStatus status, TimePoint failed_at) {
    (void)failed_at;
    OnAttemptDone(bio, status);
  }
};

class PathObserver {
 public:
  virtual ~PathObserver() = default;
  // Called on the path's home reactor after any field of its PathState changed.
  virtual void OnPathStateChanged(class Path* path) = 0;
};

// One reactor's share of a path: its attempts, queue and QoS limiter on that reactor.
class PathChannel {
 public:
  virtual ~PathChannel() = default;
  // Starts one attempt of `bio`; sink->OnAttemptDone runs exactly once for it, later, on this
  // channel's reactor. The path does not check the Bio's range against its own capacity: the
  // head checked it against the head's capacity.
  // REQUIRES: called on reactor().
  virtual void Submit(Bio* bio, AttemptSink* sink) = 0;
  virtual reactor::Reactor* reactor() const = 0;
  // This channel's path QoS accounting (all zero without a limiter). REQUIRES: on reactor().
  virtual QosCounters qos_counters() const { return {}; }
};

class Path {
 public:
  virtual ~Path() = default;
  virtual const std::string& name() const = 0;

  // The channel of the path's `shard`-th reactor, in the order of the reactor list the path was
  // built over (the head's shards are the same list: Head::AddPath checks). Stable for the path's
  // lifetime; any thread may take the reference.
  virtual PathChannel& Channel(unsigned shard) = 0;
  virtual unsigned channel_count() const = 0;

  // The current state. REQUIRES: called on the path's home reactor.
  virtual PathState state() const = 0;

  // The head saw an ANA error (kAnaPending) or a namespace-gone status (kNamespaceGone) on this
  // path. The path marks itself (ana_pending / not ready), tells its observer, and recovers on its
  // own: it re-reads the ANA log, or rescans the namespace.
  // REQUIRES: called on the path's home reactor.
  virtual void OnPathError(nvme::PathAction action) = 0;

  // The observer (the head) told about state changes; nullptr detaches.
  // REQUIRES: called on the path's home reactor.
  virtual void SetObserver(PathObserver* observer) = 0;
};

}  // namespace nvmpath::blk
