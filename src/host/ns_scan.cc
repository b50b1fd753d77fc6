#include "host/ns_scan.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "base/assert.h"
#include "base/log.h"

namespace nvmpath::host {

namespace {
// A namespace whose ANA group is missing from the log is read again after this long.
constexpr Duration kAnaRetryDelay = std::chrono::seconds(1);

bool AllZero(std::span<const uint8_t> v) {
  return std::all_of(v.begin(), v.end(), [](uint8_t b) { return b == 0; });
}

std::string DescribeIds(const nvme::NsIdentifiers& ids) {
  std::string out;
  auto hex = [](std::span<const uint8_t> v) {
    std::string s;
    for (uint8_t b : v) s += fmt::format("{:02x}", b);
    return s;
  };
  if (ids.nguid) out += " nguid " + hex(*ids.nguid);
  if (ids.eui64) out += " eui64 " + hex(*ids.eui64);
  if (ids.uuid) out += " uuid " + hex(*ids.uuid);
  return out.empty() ? " (none)" : out;
}
}  // namespace

NamespaceScanner::NamespaceScanner(Controller* ctrl, Listener* listener,
                                   std::vector<reactor::Reactor*> reactors, unsigned home,
                                   blk::QosLimits path_qos)
    : ctrl_(ctrl), listener_(listener), reactors_(std::move(reactors)), home_index_(home),
      path_qos_(path_qos), home_(reactors_.at(home)) {
  last_ctrl_state_ = ctrl_->state();
  ctrl_->SetObserver(this);
}

NamespaceScanner::~NamespaceScanner() {
  *alive_ = false;
  NVMP_ASSERT(paths_.empty() && removing_.empty(), "NamespaceScanner destroyed with paths");
  if (ana_retry_timer_ != reactor::kNoTimer) home_->CancelTimer(ana_retry_timer_);
  if (anatt_timer_ != reactor::kNoTimer) home_->CancelTimer(anatt_timer_);
  ctrl_->SetObserver(nullptr);
}

const NamespaceInfo* NamespaceScanner::info(uint32_t nsid) const {
  auto it = paths_.find(nsid);
  return it == paths_.end() ? nullptr : &it->second.info;
}

PathNs* NamespaceScanner::path(uint32_t nsid) const {
  auto it = paths_.find(nsid);
  return it == paths_.end() ? nullptr : it->second.path.get();
}

std::vector<uint32_t> NamespaceScanner::nsids() const {
  std::vector<uint32_t> out;
  for (auto& [nsid, e] : paths_) out.push_back(nsid);
  return out;
}

bool NamespaceScanner::AnaReporting() const {
  return (ctrl_->identify().cmic & nvme::kCmicAnaReporting) != 0;
}

void NamespaceScanner::Report(Status error) {
  NVMP_LOG_WARN("ctrl {}: {}", ctrl_->name(), error.ToString());
  listener_->OnError(this, error);
}

blk::PathState NamespaceScanner::BaseState() const {
  blk::PathState s;
  s.ctrl = ctrl_->state();
  s.failfast_expired = ctrl_->failfast_expired();
  s.crdt = ctrl_->identify().crdt;
  s.numa_node = ctrl_->numa_node();
  return s;
}

// ---- controller events ----

void NamespaceScanner::OnStateChanged(Controller* ctrl) {
  NVMP_ASSERT(ctrl == ctrl_);
  const CtrlState now = ctrl_->state();
  const bool became_live = now == CtrlState::kLive && last_ctrl_state_ != CtrlState::kLive;
  last_ctrl_state_ = now;
  for (auto& [nsid, e] : paths_) {
    blk::PathState s = e.path->state();
    s.ctrl = now;
    s.failfast_expired = ctrl_->failfast_expired();
    s.crdt = ctrl_->identify().crdt;
    // The group states may have moved while the controller was away: use none of them until the
    // new association's log is read.
    if (became_live && AnaReporting()) s.ana_pending = true;
    e.path->UpdateState(s);
  }
  listener_->OnControllerStateChanged(this);
  if (became_live) {
    ReadAnaLog();
    Rescan();
  } else if (now == CtrlState::kDeleting || now == CtrlState::kDeletingNoIo ||
             now == CtrlState::kDead) {
    // ctrl_loss_tmo or Delete: the controller will not come back; its paths leave their heads.
    RemoveAll(nullptr);
  }
}

void NamespaceScanner::OnAsyncEvent(Controller* ctrl, const AsyncEvent& event) {
  NVMP_ASSERT(ctrl == ctrl_);
  if (event.ns_attribute_changed()) {
    // Reading the Changed Namespace List (RAE 0) re-arms the event; like Linux, its content is
    // not trusted to be complete: the whole list is rescanned.
    std::weak_ptr<bool> alive = alive_;
    ctrl_->GetChangedNamespaces([this, alive](Result<nvme::ChangedNsList> r) {
      if (alive.expired()) return;
      if (!r.ok()) NVMP_LOG_DEBUG("ctrl {}: changed namespace list: {}", ctrl_->name(), r.status().ToString());
      Rescan();
    });
  } else if (event.ana_change()) {
    ReadAnaLog();
  }
}

// ---- scan ----

void NamespaceScanner::Rescan() {
  if (closing_ || !ctrl_->live()) return;
  if (scanning_) {
    scan_again_ = true;
    return;
  }
  scanning_ = true;
  scan_again_ = false;
  scan_status_ = Status::Ok();
  ++counters_.scans;
  ListActive(0, std::make_shared<std::vector<uint32_t>>());
}

void NamespaceScanner::ListActive(uint32_t after, std::shared_ptr<std::vector<uint32_t>> list) {
  std::weak_ptr<bool> alive = alive_;
  ctrl_->IdentifyActiveNamespaces(after, [this, alive, list](Result<std::vector<uint32_t>> r) {
    if (alive.expired()) return;
    if (!r.ok()) return FinishScan({}, r.status());
    list->insert(list->end(), r->begin(), r->end());
    // A full page may have more after it.
    if (r->size() == nvme::kActiveNsListMax) return ListActive(r->back(), list);
    ProcessNext(list, 0);
  });
}

void NamespaceScanner::ProcessNext(std::shared_ptr<std::vector<uint32_t>> list, size_t index) {
  if (closing_) return FinishScan({}, Status(Code::kCancelled, "controller deleted"));
  if (index == list->size()) return FinishScan(*list, Status::Ok());
  const uint32_t nsid = (*list)[index];
  std::weak_ptr<bool> alive = alive_;
  ctrl_->IdentifyNsDescriptors(nsid, [this, alive, list, index, nsid](Result<nvme::NsIdentifiers> ids) {
    if (alive.expired()) return;
    if (!ids.ok()) {
      if (ids.status().code() == Code::kUnavailable) return FinishScan({}, ids.status());
      if (descriptors_supported_) {
        // The namespace went away between the list and now (Invalid Namespace). Taking the
        // identifiers from an Identify Namespace that may already see it re-added would give the
        // path fewer identifiers (no UUID) than its head has, and the other paths would then be
        // refused as mismatched (found by the TCP storm). Not seen: the next scan settles it.
        Report(Status(ids.status().code(), fmt::format("nsid {}: Namespace Identification "
                                                       "Descriptor list: {}",
                                                       nsid, ids.status().message())));
        (*list)[index] = 0;
        return ProcessNext(list, index + 1);
      }
      // Some controllers do not support the descriptor list: identifiers come from Identify
      // Namespace then (NGUID / EUI-64).
      ids = nvme::NsIdentifiers{};
    } else {
      descriptors_supported_ = true;
    }
    ctrl_->IdentifyNamespace(nsid, [this, alive, list, index, nsid,
                                    ids = *ids](Result<nvme::IdentifyNamespace> id) {
      if (alive.expired()) return;
      if (!id.ok()) {
        if (id.status().code() == Code::kUnavailable) return FinishScan({}, id.status());
        // The namespace may have gone between the list and now; the next scan settles it.
        Report(Status(id.status().code(),
                      fmt::format("nsid {}: Identify Namespace: {}", nsid, id.status().message())));
        (*list)[index] = 0;  // not seen: an existing path is removed
        return ProcessNext(list, index + 1);
      }
      if (!closing_) Apply(nsid, ids, *id);
      if (paths_.find(nsid) == paths_.end()) (*list)[index] = 0;
      ProcessNext(list, index + 1);
    });
  });
}

void NamespaceScanner::Apply(uint32_t nsid, nvme::NsIdentifiers ids, const nvme::IdentifyNamespace& id) {
  if (id.ncap == 0 || id.nsze == 0) return;  // allocated but not attached: absent
  Result<uint32_t> bs = id.BlockSize();
  if (!bs.ok()) {
    Report(Status(Code::kInvalidArgument, fmt::format("nsid {}: {}", nsid, bs.status().message())));
    return;
  }
  if (!ids.nguid && !AllZero(id.nguid)) ids.nguid = id.nguid;
  if (!ids.eui64 && !AllZero(id.eui64)) ids.eui64 = id.eui64;
  NamespaceInfo info{.nsid = nsid, .ids = ids, .capacity_blocks = id.nsze, .block_size = *bs,
                     .anagrpid = id.anagrpid};

  auto it = paths_.find(nsid);
  if (it != paths_.end()) {
    Entry& e = it->second;
    if (e.info.ids != ids) {
      ++counters_.ids_changed;
      Report(Status(Code::kProtocol,
                    fmt::format("nsid {}: identifiers changed ({} ->{}); removing the old path",
                                nsid, DescribeIds(e.info.ids), DescribeIds(ids))));
      return Remove(nsid, /*rescan_after=*/true);
    }
    if (e.info.capacity_blocks != info.capacity_blocks || e.info.block_size != info.block_size) {
      ++counters_.resizes;
      NVMP_LOG_INFO("ctrl {}: nsid {}: {} -> {} blocks of {} B", ctrl_->name(), nsid,
                    e.info.capacity_blocks, info.capacity_blocks, info.block_size);
    }
    e.info = info;
    blk::PathState s = e.path->state();
    s.ready = true;
    s.capacity_blocks = info.capacity_blocks;
    s.block_size = info.block_size;
    e.path->UpdateState(s);
    return;
  }

  blk::PathState s = BaseState();
  s.ready = true;
  s.capacity_blocks = info.capacity_blocks;
  s.block_size = info.block_size;
  ApplyAna(s, info.anagrpid);
  auto path = std::make_unique<PathNs>(ctrl_->name(), nsid, ctrl_, static_cast<PathNsOwner*>(this),
                                       reactors_, home_index_, s, path_qos_);
  Status st = listener_->OnPathAdded(this, path.get(), info);
  if (!st.ok()) {
    ++counters_.paths_refused;
    Report(st);
    return;  // never in a head: destroyed here
  }
  ++counters_.paths_added;
  paths_.emplace(nsid, Entry{std::move(path), info});
}

void NamespaceScanner::FinishScan(const std::vector<uint32_t>& seen, const Status& status) {
  if (!status.ok()) {
    ++counters_.scan_errors;
    NVMP_LOG_DEBUG("ctrl {}: scan stopped: {}", ctrl_->name(), status.ToString());
  } else {
    // NSIDs missing from the list (or absent on identify) are gone from this controller.
    std::set<uint32_t> present(seen.begin(), seen.end());
    std::vector<uint32_t> gone;
    for (auto& [nsid, e] : paths_) {
      if (!present.count(nsid)) gone.push_back(nsid);
    }
    for (uint32_t nsid : gone) Remove(nsid, /*rescan_after=*/false);
  }
  scanning_ = false;
  if (status.ok()) ReadAnaLog();
  listener_->OnScanDone(this, status);
  if (scan_again_) Rescan();
}

// ---- ANA ----

void NamespaceScanner::ApplyAna(blk::PathState& s, uint32_t grpid) const {
  if (!AnaReporting()) {
    s.ana = blk::AnaState::kOptimized;
    s.ana_pending = false;
    return;
  }
  auto it = ana_groups_.find(grpid);
  if (!have_ana_log_ || it == ana_groups_.end()) {
    s.ana_pending = true;
    return;
  }
  s.ana = it->second;
  s.ana_pending = false;
}

void NamespaceScanner::ReadAnaLog() {
  if (closing_ || !ctrl_->live()) return;
  if (!AnaReporting()) {
    for (auto& [nsid, e] : paths_) {
      blk::PathState s = e.path->state();
      ApplyAna(s, e.info.anagrpid);
      e.path->UpdateState(s);
    }
    listener_->OnAnaLogDone(this, Status::Ok());
    return;
  }
  if (ana_reading_) {
    ana_again_ = true;
    return;
  }
  ana_reading_ = true;
  ana_again_ = false;
  ++counters_.ana_reads;
  std::weak_ptr<bool> alive = alive_;
  ctrl_->GetAnaLog([this, alive](Result<nvme::AnaLog> r) {
    if (alive.expired()) return;
    if (test_hold_ana_) {
      test_parked_ana_ = std::move(r);
      return;
    }
    AnaLogReadDone(std::move(r));
  });
}

void NamespaceScanner::AnaLogReadDone(Result<nvme::AnaLog> r) {
  ana_reading_ = false;
  if (r.ok()) {
    OnAnaLog(*r);
  } else {
    ++counters_.ana_read_errors;
    // kUnavailable: the controller went away; becoming live reads it again.
    if (r.status().code() != Code::kUnavailable) Report(r.status());
  }
  std::weak_ptr<bool> alive = alive_;
  listener_->OnAnaLogDone(this, r.ok() ? Status::Ok() : r.status());
  if (alive.expired()) return;
  if (ana_again_) ReadAnaLog();
}

void NamespaceScanner::TEST_HoldAnaLogReads(bool hold) {
  test_hold_ana_ = hold;
  if (hold || !test_parked_ana_) return;
  Result<nvme::AnaLog> r = std::move(*test_parked_ana_);
  test_parked_ana_.reset();
  AnaLogReadDone(std::move(r));
}

void NamespaceScanner::OnAnaLog(const nvme::AnaLog& log) {
  have_ana_log_ = true;
  ana_groups_.clear();
  bool change = false;
  for (const auto& g : log.groups) {
    ana_groups_[g.grpid] = g.state;
    change |= g.state == nvme::AnaState::kChange;
  }
  bool missing = false;
  for (auto& [nsid, e] : paths_) {
    blk::PathState s = e.path->state();
    ApplyAna(s, e.info.anagrpid);
    missing |= s.ana_pending;
    e.path->UpdateState(s);
  }
  if (missing && ana_retry_timer_ == reactor::kNoTimer) {
    std::weak_ptr<bool> alive = alive_;
    ana_retry_timer_ = home_->AddTimer(kAnaRetryDelay, [this, alive] {
      if (alive.expired()) return;
      ana_retry_timer_ = reactor::kNoTimer;
      ReadAnaLog();
    });
  }
  // Linux: one timer per controller, restarted by every log that shows a group in CHANGE.
  if (anatt_timer_ != reactor::kNoTimer) {
    home_->CancelTimer(anatt_timer_);
    anatt_timer_ = reactor::kNoTimer;
  }
  if (change) {
    const Duration limit = 2 * std::chrono::seconds(std::max<int>(ctrl_->identify().anatt, 1));
    std::weak_ptr<bool> alive = alive_;
    anatt_timer_ = home_->AddTimer(limit, [this, alive] {
      if (alive.expired()) return;
      anatt_timer_ = reactor::kNoTimer;
      ++counters_.anatt_resets;
      ctrl_->Reset(Status(Code::kTimedOut, fmt::format("ctrl {}: ANA transition outlasted 2 x ANATT",
                                                       ctrl_->name())));
    });
  }
}

// ---- removal ----

void NamespaceScanner::Remove(uint32_t nsid, bool rescan_after) {
  auto it = paths_.find(nsid);
  if (it == paths_.end()) return;
  std::unique_ptr<PathNs> path = std::move(it->second.path);
  paths_.erase(it);
  // Linux nvme_ns_remove: not ready, capacity 0, before it leaves the head.
  blk::PathState s = path->state();
  s.ready = false;
  s.capacity_blocks = 0;
  path->UpdateState(s);
  PathNs* raw = path.get();
  removing_.push_back(std::move(path));
  std::weak_ptr<bool> alive = alive_;
  listener_->OnPathRemoved(this, raw, [this, alive, raw, rescan_after] {
    if (alive.expired()) return;
    auto it = std::find_if(removing_.begin(), removing_.end(),
                           [raw](const std::unique_ptr<PathNs>& p) { return p.get() == raw; });
    NVMP_ASSERT(it != removing_.end(), "removal callback for an unknown path");
    removing_.erase(it);
    ++counters_.paths_removed;
    if (rescan_after) Rescan();
    MaybeFinishRemoveAll();
  });
}

void NamespaceScanner::RemoveAll(std::function<void()> done) {
  closing_ = true;
  if (done) remove_all_done_.push_back(std::move(done));
  std::vector<uint32_t> all = nsids();
  for (uint32_t nsid : all) Remove(nsid, /*rescan_after=*/false);
  MaybeFinishRemoveAll();
}

void NamespaceScanner::MaybeFinishRemoveAll() {
  if (!closing_ || !paths_.empty() || !removing_.empty()) return;
  auto done = std::move(remove_all_done_);
  remove_all_done_.clear();
  for (auto& d : done) d();
}

}  // namespace nvmpath::host
