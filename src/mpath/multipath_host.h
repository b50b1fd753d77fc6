// mpath::MultipathHost — one NVM subsystem reached over several NVMe/TCP paths: one
// host::Controller per (address, port), a host::NamespaceScanner per controller, and the heads
// those controllers' namespaces are grouped into (shared/DESIGN.md "Paths, ANA, failover").
//
// Grouping: a head per NSID of the subsystem, holding that NSID's namespace on every controller
// whose identifiers (NGUID / EUI-64 / UUID) equal the head's. A namespace whose identifiers differ
// from its head's is refused — reported in errors() and counted, never merged (Linux "IDs don't
// match for shared namespace") — unless the head has no path left, which means the namespace was
// replaced behind every controller: the head then takes the new identifiers. Identifiers already
// used by another NSID's head are refused too. Heads live as long as the host: a head whose last
// path left fails or queues its I/O by its HeadOptions (queue_if_no_path = Linux delayed removal).
//
// This is the object the Client API wraps; it lives in its own library (nvmpath_multipath) so
// that the mpath core stays independent of the TCP host.
//
// Thread: every method on the home reactor; heads and controllers use all `reactors`.
// Lifecycle: Start once; Shutdown before destruction (unless never started).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "host/controller.h"
#include "host/ns_scan.h"
#include "mpath/head.h"

namespace nvmpath::mpath {

struct PathAddress {
  std::string address;
  uint16_t port = 4420;
  // "127.0.0.1:4420", "[::1]:4420": the controller's name.
  std::string ToString() const;
  friend bool operator==(const PathAddress&, const PathAddress&) = default;
};

struct MultipathHostOptions {
  std::string subnqn;
  std::string hostnqn;
  std::array<uint8_t, 16> hostid{};
  std::vector<PathAddress> paths;
  // For every controller; name, address, port, subnqn, hostnqn and hostid are set per path.
  host::ControllerOptions controller;
  // For every head; the name becomes "<subnqn>:ns<NSID>". head.qos: each reactor's share.
  HeadOptions head;
  // Every path's QoS limits on each reactor (unlimited: none).
  blk::QosLimits path_qos;
  size_t errors_max = 64;  // errors() keeps the newest this many
  // Start gives up waiting at this point (0: waits as long as the controllers take): a path
  // still connecting then counts as failed with kTimedOut; a live one counts as started even if
  // its scan or ANA log read has not finished.
  Duration start_timeout{0};
  // After a path's first scan, Start waits up to this long for its namespaces' ANA states (the
  // ANA log read that follows the scan), so paths are usable, not pending, when Start reports.
  Duration start_ana_wait = std::chrono::seconds(2);
  // A path whose controller was given up (ctrl_loss_tmo, or a Connect refused with DNR) stays
  // wanted: its address is probed every reconnect_delay and, once it answers, the path gets a
  // new controller (what nvme-stas does for Linux). Off: the path stays gone, as in Linux.
  bool recreate_lost_paths = false;
};

struct MultipathHostCounters {
  uint64_t heads_created = 0;
  uint64_t paths_added = 0;
  uint64_t paths_removed = 0;
  uint64_t identity_mismatches = 0;
  uint64_t identity_replaced = 0;  // a pathless head took a new namespace's identifiers
  uint64_t paths_recreated = 0;    // lost controllers made again (recreate_lost_paths)
  uint64_t controllers_added = 0;  // AddController: paths added while running
  uint64_t controllers_removed = 0;  // RemoveController: paths removed while running
};

// What the host's owner hears about, on home, as it happens.
class MultipathHostObserver {
 public:
  virtual ~MultipathHostObserver() = default;
  // The capacity or block size of `nsid`'s head changed.
  virtual void OnHeadGeometryChanged(uint32_t nsid) = 0;
  // A controller became live: its transfer limit (MDTS) may be new.
  virtual void OnTransferLimitChanged() = 0;
};

class MultipathHost final : private host::NamespaceScanner::Listener {
 public:
  // REQUIRES: reactors non-empty, home < reactors.size(), options.paths non-empty; the reactors
  // outlive the host.
  MultipathHost(MultipathHostOptions options, std::vector<reactor::Reactor*> reactors,
                unsigned home = 0);
  ~MultipathHost() override;
  MultipathHost(const MultipathHost&) = delete;
  MultipathHost& operator=(const MultipathHost&) = delete;

  // Connects every path. `done` runs once each controller's first association ended and each
  // live one finished its first namespace scan and knows its namespaces' ANA states (bounded by
  // start_ana_wait), or at start_timeout: OK if at least one controller is live, else the first
  // path's error (kUnavailable, kTimedOut, kProtocol, kIoError...). start_status(i) has each
  // path's own result then. `done` never runs after Shutdown was called. Start waits on the
  // scanners' reports (scan done, ANA log read done) and the controllers' state changes: it
  // reports in the same event as the one that settles the last path.
  void Start(std::function<void(Status)> done);
  // Deletes every controller (in-flight I/O fails over, then fails when no path is left), removes
  // every path from its head, shuts every head down (queued I/O fails with kNoPath). `done` runs
  // when all of it is over, every head's messages included: with no I/O submitted since, the host
  // may be destroyed then.
  void Shutdown(std::function<void()> done);
  // Runs `done` on home (never inside this call) once every head has had a moment with no
  // message of its own in flight (Head::WhenQuiet): after Shutdown, and after whatever ran since
  // (CollectStats, I/O failed at submission), the host may be destroyed then.
  void WhenHeadsQuiet(std::function<void()> done);
  // ---- run-time changes (an operator's host-ctl, persistent discovery) ----
  // Adds a path (a controller at `address`) to the running host. `done` gets OK once it is live
  // with its namespaces scanned and their ANA states read (bounded by start_ana_wait), or the
  // reason it is not, within start_timeout (if set): the path is then removed again, as nvme-cli
  // leaves nothing behind a failed connect. Errors: kAlreadyExists (already a path),
  // kInvalidArgument (kMaxPaths paths already), kCancelled (shut down meanwhile), or the first
  // association's error.
  void AddController(PathAddress address, std::function<void(Status)> done);
  // Removes the path at `address` without an error reaching any I/O: its namespaces leave their
  // heads first (no new I/O picks it; what is in flight on it finishes there, while the
  // controller is still up), then the controller is deleted. After `drain_timeout` (0: at once)
  // the controller is deleted even if I/O is still in flight on it, which then fails over. A
  // head whose last path this was queues or fails its I/O by its options. `done` runs once the
  // path is gone. Errors: kNotFound naming the paths there are.
  void RemoveController(const PathAddress& address, Duration drain_timeout,
                        std::function<void(Status)> done);
  // Every head's policy, now and for heads made later.
  void SetPolicy(Policy policy);
  // HeadOptions::queue_timeout of every head, now and later.
  void SetNoPathTimeout(Duration timeout);
  // ctrl_loss_tmo and fast_io_fail_tmo of every controller, now and later (Controller::
  // SetLossTimeouts says when they take effect).
  void SetLossTimeouts(Duration ctrl_loss_tmo, Duration fast_io_fail_tmo);
  // Every live controller reads its namespace list and ANA log again.
  void Rescan();
  // Error recovery on the controller at `address` (as if its connection broke; its I/O fails
  // over, it reconnects). Errors: kNotFound.
  Status ResetController(const PathAddress& address, const Status& why);
  // The index of the path at `address`, or -1.
  int FindPath(const PathAddress& address) const;

  // Tells `observer` about geometry and transfer-limit changes (nullptr: nobody). REQUIRES: it
  // outlives the host or is removed first.
  void SetObserver(MultipathHostObserver* observer) { observer_ = observer; }

  // The head of `nsid`, or nullptr. Valid until the host is destroyed.
  Head* head(uint32_t nsid) const;
  // The identifiers of `nsid`'s head (nullptr: no such head).
  const nvme::NsIdentifiers* head_ids(uint32_t nsid) const {
    auto it = heads_.find(nsid);
    return it == heads_.end() ? nullptr : &it->second.ids;
  }
  // Sum of every head's messages_in_flight() (0 when Shutdown's `done` runs). Home reactor.
  int head_messages_in_flight() const;
  std::vector<uint32_t> nsids() const;
  // Problems the operator should see (identity mismatches, bad identify data, ANA log errors),
  // newest last.
  const std::vector<Status>& errors() const { return errors_; }
  const MultipathHostCounters& counters() const { return counters_; }
  // The paths now, in the order they were added (a removed path's successors move down).
  size_t controller_count() const { return paths_.size(); }
  host::Controller* controller(size_t i) const { return paths_.at(i)->ctrl.get(); }
  host::NamespaceScanner* scanner(size_t i) const { return paths_.at(i)->scanner.get(); }
  const PathAddress& path_address(size_t i) const { return paths_.at(i)->address; }
  // True while RemoveController works on path i.
  bool path_leaving(size_t i) const { return paths_.at(i)->leaving; }
  const MultipathHostOptions& options() const { return options_; }
  // Path i's result of Start: OK when it started live, its first association's error, or
  // kTimedOut at start_timeout. OK while Start is still waiting for it.
  const Status& start_status(size_t i) const { return paths_.at(i)->start_status; }

 private:
  struct PathCtl {
    PathAddress address;
    std::unique_ptr<host::Controller> ctrl;
    std::unique_ptr<host::NamespaceScanner> scanner;
    bool start_pending = false;  // counted in starts_pending_
    bool start_ok = false;
    bool first_scan_done = false;
    bool ana_known = false;  // its namespaces' ANA states were read (or the wait ended)
    reactor::TimerId ana_wait_timer = reactor::kNoTimer;  // start_ana_wait, from the first scan
    Status start_status;
    reactor::TimerId probe_timer = reactor::kNoTimer;
    bool probing = false;
    // AddController: told once the path settles; the timer bounds it by start_timeout.
    std::function<void(Status)> add_done;
    reactor::TimerId add_timer = reactor::kNoTimer;
    bool leaving = false;  // RemoveController works on it
  };
  struct HeadEntry {
    std::unique_ptr<Head> head;
    nvme::NsIdentifiers ids;
    int paths = 0;
  };

  // NamespaceScanner::Listener
  Status OnPathAdded(host::NamespaceScanner* scanner, host::PathNs* path,
                     const host::NamespaceInfo& info) override;
  void OnPathRemoved(host::NamespaceScanner* scanner, host::PathNs* path,
                     std::function<void()> done) override;
  void OnControllerStateChanged(host::NamespaceScanner* scanner) override;
  void OnScanDone(host::NamespaceScanner* scanner, const Status& status) override;
  void OnAnaLogDone(host::NamespaceScanner* scanner, const Status& status) override;
  void OnError(host::NamespaceScanner* scanner, const Status& error) override;

  PathCtl* Find(host::NamespaceScanner* scanner);
  // The controller and scanner of `p`, made from the options (not started).
  void MakePath(PathCtl& p);
  // recreate_lost_paths: probe p's address after reconnect_delay; remake it if it answers.
  void ScheduleProbe(PathCtl* p);
  void Probe(PathCtl* p);
  void Recreate(PathCtl* p);
  // Whether p's bring-up has a result: false while it may still become live and scanned.
  bool Settled(PathCtl& p);
  void MaybeFinishStart(PathCtl& p);
  void MaybeFinishAdd(PathCtl* p);
  // RemoveController's last step: p leaves paths_ for retired_.
  void Retire(PathCtl* p);
  void CancelTimer(reactor::TimerId& timer);
  // True once none of the path's namespaces waits for its ANA state (or the controller left
  // live, or start_ana_wait passed since its first scan).
  bool AnaKnown(PathCtl& p);
  void OnAnaWaitOver(PathCtl* p);
  void FinishStart();
  void OnStartTimeout();
  void AddError(Status error);

  MultipathHostOptions options_;
  std::vector<reactor::Reactor*> reactors_;
  unsigned home_;
  // unique_ptr: timers and callbacks hold a PathCtl* across paths_ changing.
  std::vector<std::unique_ptr<PathCtl>> paths_;
  // Controllers (and their scanners) replaced by Recreate or removed by RemoveController: kept
  // until the host is destroyed, so nothing they still have posted or armed can find them gone.
  std::vector<std::unique_ptr<PathCtl>> retired_;
  std::map<uint32_t, HeadEntry> heads_;
  std::vector<Status> errors_;
  MultipathHostCounters counters_;
  std::function<void(Status)> start_done_;
  size_t starts_pending_ = 0;
  reactor::TimerId start_timer_ = reactor::kNoTimer;
  MultipathHostObserver* observer_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for timer callbacks
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace nvmpath::mpath
