// host::NamespaceScanner — what namespaces one controller has, and their ANA states: it owns the
// controller's PathNs objects and keeps them true to the controller
// (shared/reference/multipath-and-nvme-tcp-facts.md 2.1, 2.4, 2.6).
//
// Scan (when the controller becomes live — first time and after every reconnect —, on a
// Namespace Attribute Changed AEN, on a namespace-gone error from a head, on request): Identify
// Active Namespace list (paged) → for each NSID, Namespace Identification Descriptors and
// Identify Namespace → a new NSID gets a PathNs, offered to the listener (which puts it in a
// head, or refuses it: identifiers that do not match the head's are reported, never merged); an
// NSID gone from the list (or NCAP 0) has its path removed — the listener takes it out of its
// head and only then is it destroyed; a changed size or block size updates the path (the head
// follows); changed identifiers remove the old path and, once it is gone, rescan to add the new
// one. Scans never overlap: a request during a scan runs one more scan after it.
//
// ANA log (when live, on an ANA Change AEN, after each scan, on an ANA error from a head): every
// path takes the state of its ANA group (ANAGRPID from Identify Namespace); a path whose group is
// missing stays ANA-pending and the log is read again a second later. If any group is in CHANGE,
// a 2 x ANATT timer (re)starts for the controller; its expiry resets the controller (Linux).
// Reads never overlap either. The listener hears when each scan ends (OnScanDone) and when each
// ANA log read ends (OnAnaLogDone), so nothing above has to poll the paths' states.
//
// Controller state changes reach every path (and so its head). When the controller is deleted
// (ctrl_loss_tmo or Delete), every path is removed from its head.
//
// Thread: everything on the controller's home reactor. The scanner is the controller's observer.
// Invariants: one PathNs per NSID in `paths_`; a path is destroyed only after the listener's
// removal callback ran; admin callbacks that outlive the scanner do nothing (alive token).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blk/qos.h"
#include "host/controller.h"
#include "host/path_ns.h"
#include "nvme/identify.h"

namespace nvmpath::host {

// What a scan learned about one namespace on one controller.
struct NamespaceInfo {
  uint32_t nsid = 0;
  nvme::NsIdentifiers ids;
  uint64_t capacity_blocks = 0;
  uint32_t block_size = 512;
  uint32_t anagrpid = 0;
};

struct ScannerCounters {
  uint64_t scans = 0;
  uint64_t scan_errors = 0;
  uint64_t ana_reads = 0;
  uint64_t ana_read_errors = 0;
  uint64_t paths_added = 0;
  uint64_t paths_refused = 0;
  uint64_t paths_removed = 0;
  uint64_t ids_changed = 0;
  uint64_t resizes = 0;
  uint64_t anatt_resets = 0;
};

class NamespaceScanner final : private ControllerObserver, private PathNsOwner {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // A namespace appeared. OK: the path is in a head now. An error (identifiers mismatch, head
    // full): the scanner reports it and destroys the path.
    virtual Status OnPathAdded(NamespaceScanner* scanner, PathNs* path, const NamespaceInfo& info) = 0;
    // The path must leave its head; `done` (home) once it has, then the scanner destroys it.
    virtual void OnPathRemoved(NamespaceScanner* scanner, PathNs* path, std::function<void()> done) = 0;
    // The controller's state changed (after the paths were told).
    virtual void OnControllerStateChanged(NamespaceScanner* scanner) { (void)scanner; }
    // A scan ended (the ANA log read it starts follows); `status` is its error, if any.
    virtual void OnScanDone(NamespaceScanner* scanner, const Status& status) {
      (void)scanner;
      (void)status;
    }
    // An ANA log read ended and its states are on the paths — or, for a controller without ANA
    // reporting, the paths were set optimized without a read. `status` is the read's error, if
    // any (the paths then keep their states; pending ones stay pending). A path whose group the
    // log lacks stays pending, and the scanner reads again later: another report follows.
    virtual void OnAnaLogDone(NamespaceScanner* scanner, const Status& status) {
      (void)scanner;
      (void)status;
    }
    // Something the operator should see (identifiers mismatch or changed, bad identify data).
    virtual void OnError(NamespaceScanner* scanner, const Status& error) {
      (void)scanner;
      (void)error;
    }
  };

  // Becomes `ctrl`'s observer. `path_qos`: every path's per-reactor QoS limits (unlimited: no
  // limiter). REQUIRES: ctrl, listener and reactors outlive the scanner; `reactors`/`home` are
  // the controller's.
  NamespaceScanner(Controller* ctrl, Listener* listener, std::vector<reactor::Reactor*> reactors,
                   unsigned home, blk::QosLimits path_qos = {});
  // REQUIRES: no path left (RemoveAll finished, or none was ever added).
  ~NamespaceScanner() override;
  NamespaceScanner(const NamespaceScanner&) = delete;
  NamespaceScanner& operator=(const NamespaceScanner&) = delete;

  Controller* controller() const { return ctrl_; }
  // Starts a scan (or one more after the running one). Ignored while the controller is not live:
  // becoming live scans anyway.
  void Rescan();
  // Reads the ANA log (or once more after the running read).
  void ReadAnaLog();
  // Removes every path through the listener and stops adding new ones; `done` once all are gone.
  void RemoveAll(std::function<void()> done);

  PathNs* path(uint32_t nsid) const;
  // What the last scan learned about `nsid` (nullptr: no path for it here).
  const NamespaceInfo* info(uint32_t nsid) const;
  std::vector<uint32_t> nsids() const;
  size_t path_count() const { return paths_.size(); }
  bool scanning() const { return scanning_; }
  // Scans finished since construction (for tests waiting on a rescan).
  const ScannerCounters& counters() const { return counters_; }
  // Tests: while held, an ANA log read that completes is parked, not applied; releasing applies
  // the parked result at once (and reports it), as if the response had arrived only now.
  void TEST_HoldAnaLogReads(bool hold);

 private:
  struct Entry {
    std::unique_ptr<PathNs> path;
    NamespaceInfo info;
  };

  // ControllerObserver
  void OnStateChanged(Controller* ctrl) override;
  void OnAsyncEvent(Controller* ctrl, const AsyncEvent& event) override;
  // PathNsOwner
  void RequestAnaLogRead() override { ReadAnaLog(); }
  void RequestRescan() override { Rescan(); }

  void ListActive(uint32_t after, std::shared_ptr<std::vector<uint32_t>> list);
  void ProcessNext(std::shared_ptr<std::vector<uint32_t>> list, size_t index);
  void Apply(uint32_t nsid, nvme::NsIdentifiers ids, const nvme::IdentifyNamespace& id);
  void FinishScan(const std::vector<uint32_t>& seen, const Status& status);
  void OnAnaLog(const nvme::AnaLog& log);
  // The end of a read started by ReadAnaLog.
  void AnaLogReadDone(Result<nvme::AnaLog> r);
  // The ANA state a namespace of group `grpid` gets from the last log, or pending.
  void ApplyAna(blk::PathState& s, uint32_t grpid) const;
  void Remove(uint32_t nsid, bool rescan_after);
  void MaybeFinishRemoveAll();
  void Report(Status error);
  bool AnaReporting() const;
  blk::PathState BaseState() const;

  Controller* const ctrl_;
  Listener* const listener_;
  std::vector<reactor::Reactor*> reactors_;
  const unsigned home_index_;
  const blk::QosLimits path_qos_;
  reactor::Reactor* const home_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::map<uint32_t, Entry> paths_;
  std::vector<std::unique_ptr<PathNs>> removing_;
  CtrlState last_ctrl_state_ = CtrlState::kNew;
  bool closing_ = false;
  std::vector<std::function<void()>> remove_all_done_;

  bool scanning_ = false;
  bool scan_again_ = false;
  Status scan_status_;
  bool ana_reading_ = false;
  bool ana_again_ = false;
  bool have_ana_log_ = false;
  // The controller has answered a Namespace Identification Descriptor list: a later failure for
  // one NSID means that namespace is in flux, not that the list is unsupported.
  bool descriptors_supported_ = false;
  std::map<uint32_t, nvme::AnaState> ana_groups_;  // from the last ANA log
  reactor::TimerId ana_retry_timer_ = reactor::kNoTimer;
  reactor::TimerId anatt_timer_ = reactor::kNoTimer;
  ScannerCounters counters_;
  bool test_hold_ana_ = false;
  std::optional<Result<nvme::AnaLog>> test_parked_ana_;
};

}  // namespace nvmpath::host
