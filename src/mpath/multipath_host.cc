#include "mpath/multipath_host.h"

#include <fmt/format.h>

#include "base/assert.h"
#include "base/log.h"

namespace nvmpath::mpath {

namespace {
bool HasAnyId(const nvme::NsIdentifiers& ids) { return ids.nguid || ids.eui64 || ids.uuid; }
}  // namespace

std::string PathAddress::ToString() const {
  if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

MultipathHost::MultipathHost(MultipathHostOptions options, std::vector<reactor::Reactor*> reactors,
                             unsigned home)
    : options_(std::move(options)), reactors_(std::move(reactors)), home_(home) {
  NVMP_ASSERT(!reactors_.empty() && home_ < reactors_.size());
  NVMP_ASSERT(!options_.paths.empty());
}

MultipathHost::~MultipathHost() {
  NVMP_ASSERT(!started_ || shut_down_, "MultipathHost destroyed without Shutdown");
  for (auto* list : {&paths_, &retired_}) {
    for (auto& p : *list) p->scanner.reset();  // before its controller: it is the observer
    list->clear();
  }
}

void MultipathHost::CancelTimer(reactor::TimerId& timer) {
  if (timer != reactor::kNoTimer) reactors_[home_]->CancelTimer(timer);
  timer = reactor::kNoTimer;
}

void MultipathHost::MakePath(PathCtl& p) {
  host::ControllerOptions c = options_.controller;
  c.address = p.address.address;
  c.port = p.address.port;
  c.name = p.address.ToString();
  c.subnqn = options_.subnqn;
  c.hostnqn = options_.hostnqn;
  c.hostid = options_.hostid;
  p.ctrl = std::make_unique<host::Controller>(std::move(c), reactors_, home_);
  p.scanner = std::make_unique<host::NamespaceScanner>(
      p.ctrl.get(), static_cast<host::NamespaceScanner::Listener*>(this), reactors_, home_,
      options_.path_qos);
}

void MultipathHost::Start(std::function<void(Status)> done) {
  NVMP_ASSERT(!started_, "MultipathHost started twice");
  started_ = true;
  start_done_ = std::move(done);
  starts_pending_ = options_.paths.size();
  for (const PathAddress& a : options_.paths) {
    auto p = std::make_unique<PathCtl>();
    p->address = a;
    MakePath(*p);
    p->start_pending = true;
    paths_.push_back(std::move(p));
  }
  if (options_.start_timeout > Duration::zero()) {
    std::weak_ptr<bool> alive = alive_;
    start_timer_ = reactors_[home_]->AddTimer(options_.start_timeout, [this, alive] {
      if (alive.expired()) return;
      start_timer_ = reactor::kNoTimer;
      OnStartTimeout();
    });
  }
  // Started after every PathCtl exists: a callback may look any of them up.
  for (auto& path : paths_) {
    PathCtl* p = path.get();
    p->ctrl->Start([this, p](Status st) {
      if (!p->start_pending) return;  // Start already reported (start_timeout) or shut down
      p->start_status = st;
      p->start_ok = st.ok();
      MaybeFinishStart(*p);
    });
  }
}

bool MultipathHost::Settled(PathCtl& p) {
  if (p.start_ok && !p.first_scan_done) return false;    // live: wait for its namespaces
  if (!p.start_ok && p.start_status.ok()) return false;  // no result yet
  if (p.start_ok && !AnaKnown(p)) return false;          // and for their ANA states
  return true;
}

void MultipathHost::MaybeFinishStart(PathCtl& p) {
  if (p.add_done) return MaybeFinishAdd(&p);
  if (!p.start_pending || !start_done_) return;
  if (!Settled(p)) return;
  p.start_pending = false;
  CancelTimer(p.ana_wait_timer);
  if (--starts_pending_ > 0) return;
  FinishStart();
}

// ---- run-time changes ----

int MultipathHost::FindPath(const PathAddress& address) const {
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (paths_[i]->address == address) return static_cast<int>(i);
  }
  return -1;
}

void MultipathHost::AddController(PathAddress address, std::function<void(Status)> done) {
  NVMP_ASSERT(started_, "AddController before Start");
  if (shut_down_) return done(Status(Code::kCancelled, "the host is shutting down"));
  if (FindPath(address) >= 0) {
    return done(Status(Code::kAlreadyExists, fmt::format("{} is already a path of {}",
                                                         address.ToString(), options_.subnqn)));
  }
  if (paths_.size() >= static_cast<size_t>(kMaxPaths)) {
    return done(InvalidArgument(fmt::format("{} has {} paths: a device has at most {}",
                                            options_.subnqn, paths_.size(), kMaxPaths)));
  }
  auto owned = std::make_unique<PathCtl>();
  PathCtl* p = owned.get();
  p->address = std::move(address);
  p->add_done = std::move(done);
  MakePath(*p);
  paths_.push_back(std::move(owned));
  ++counters_.controllers_added;
  if (options_.start_timeout > Duration::zero()) {
    std::weak_ptr<bool> alive = alive_;
    p->add_timer = reactors_[home_]->AddTimer(options_.start_timeout, [this, alive, p] {
      if (alive.expired()) return;
      p->add_timer = reactor::kNoTimer;
      if (!p->add_done) return;
      if (!p->start_ok) {
        p->start_status = Status(Code::kTimedOut,
                                 fmt::format("{}: not live within {:.3g}s ({})", p->ctrl->name(),
                                             ToSeconds(options_.start_timeout),
                                             blk::CtrlStateName(p->ctrl->state())));
      }
      p->ana_known = true;  // live but still scanning: report it started, as Start does
      p->first_scan_done |= p->start_ok;
      MaybeFinishAdd(p);
    });
  }
  p->ctrl->Start([this, p](Status st) {
    if (!p->add_done) return;
    p->start_status = st;
    p->start_ok = st.ok();
    MaybeFinishAdd(p);
  });
}

void MultipathHost::MaybeFinishAdd(PathCtl* p) {
  if (!p->add_done || !Settled(*p)) return;
  CancelTimer(p->ana_wait_timer);
  CancelTimer(p->add_timer);
  auto done = std::move(p->add_done);
  p->add_done = nullptr;
  if (p->start_ok) return done(Status::Ok());
  // A failed connect leaves nothing behind.
  Status why = p->start_status;
  RemoveController(p->address, Duration::zero(),
                   [why, done = std::move(done)](Status) { done(why); });
}

void MultipathHost::RemoveController(const PathAddress& address, Duration drain_timeout,
                                     std::function<void(Status)> done) {
  const int i = FindPath(address);
  if (i < 0) {
    std::string names;
    for (auto& q : paths_) names += (names.empty() ? "" : ", ") + q->address.ToString();
    return done(NotFound(fmt::format("{} is not a path of {} (paths: {})", address.ToString(),
                                     options_.subnqn, names.empty() ? "none" : names)));
  }
  PathCtl* p = paths_[i].get();
  if (p->leaving) {
    return done(Status(Code::kAlreadyExists,
                       fmt::format("{} is already being removed", address.ToString())));
  }
  p->leaving = true;
  CancelTimer(p->probe_timer);
  CancelTimer(p->add_timer);
  // Told before the path goes, so a bring-up that was still waiting hears why it ended.
  if (p->add_done) {
    auto add_done = std::move(p->add_done);
    p->add_done = nullptr;
    add_done(Status(Code::kCancelled, fmt::format("{} was removed", address.ToString())));
  }
  if (p->start_pending) {
    p->start_pending = false;
    if (--starts_pending_ == 0) FinishStart();
  }
  struct Progress {
    bool drained = false;
    bool delete_asked = false;
    bool deleted = false;
    reactor::TimerId timer = reactor::kNoTimer;
    std::function<void(Status)> done;
  };
  auto progress = std::make_shared<Progress>();
  progress->done = std::move(done);
  std::weak_ptr<bool> alive = alive_;
  auto finish = [this, alive, p, progress] {
    if (alive.expired() || !progress->drained || !progress->deleted || !progress->done) return;
    CancelTimer(progress->timer);
    Retire(p);
    auto d = std::move(progress->done);
    progress->done = nullptr;
    d(Status::Ok());
  };
  auto remove_controller = [this, alive, p, progress, finish] {
    if (alive.expired() || progress->delete_asked) return;
    progress->delete_asked = true;
    CancelTimer(progress->timer);
    p->ctrl->Delete([progress, finish] {
      progress->deleted = true;
      finish();
    });
  };
  // Draining needs a controller that can still complete what it has; otherwise there is
  // nothing to wait for and deleting it fails the rest over at once.
  if (drain_timeout > Duration::zero() && p->ctrl->live()) {
    progress->timer = reactors_[home_]->AddTimer(drain_timeout, [progress, remove_controller] {
      progress->timer = reactor::kNoTimer;
      remove_controller();
    });
  } else {
    remove_controller();
  }
  p->scanner->RemoveAll([progress, remove_controller, finish] {
    progress->drained = true;
    remove_controller();
    finish();
  });
}

void MultipathHost::Retire(PathCtl* p) {
  for (auto it = paths_.begin(); it != paths_.end(); ++it) {
    if (it->get() != p) continue;
    retired_.push_back(std::move(*it));
    paths_.erase(it);
    ++counters_.controllers_removed;
    return;
  }
  NVMP_ASSERT(false, "a removed path was not among the host's paths");
}

void MultipathHost::SetPolicy(Policy policy) {
  options_.head.policy = policy;
  for (auto& [nsid, e] : heads_) e.head->SetPolicy(policy);
}

void MultipathHost::SetNoPathTimeout(Duration timeout) {
  options_.head.queue_timeout = timeout;
  for (auto& [nsid, e] : heads_) e.head->SetQueueTimeout(timeout);
}

void MultipathHost::SetLossTimeouts(Duration ctrl_loss_tmo, Duration fast_io_fail_tmo) {
  options_.controller.ctrl_loss_tmo = ctrl_loss_tmo;
  options_.controller.fast_io_fail_tmo = fast_io_fail_tmo;
  for (auto& p : paths_) p->ctrl->SetLossTimeouts(ctrl_loss_tmo, fast_io_fail_tmo);
}

void MultipathHost::Rescan() {
  for (auto& p : paths_) {
    if (p->ctrl->live() && !p->leaving) p->scanner->Rescan();
  }
}

Status MultipathHost::ResetController(const PathAddress& address, const Status& why) {
  const int i = FindPath(address);
  if (i < 0) {
    return NotFound(
        fmt::format("{} is not a path of {}", address.ToString(), options_.subnqn));
  }
  paths_[i]->ctrl->Reset(why);
  return Status::Ok();
}

bool MultipathHost::AnaKnown(PathCtl& p) {
  if (p.ana_known) return true;
  bool pending = false;
  if (p.ctrl->live()) {
    for (uint32_t nsid : p.scanner->nsids()) {
      host::PathNs* path = p.scanner->path(nsid);
      pending |= path != nullptr && path->state().ana_pending;
    }
  }
  // A controller that left live has nothing more to learn for now. Otherwise the scanner's next
  // OnAnaLogDone, or the start_ana_wait timer (a group missing from the log keeps its paths
  // pending while the scanner re-reads it, which must not hold Start forever), asks again.
  if (pending) return false;
  p.ana_known = true;
  return true;
}

void MultipathHost::OnAnaWaitOver(PathCtl* p) {
  p->ana_wait_timer = reactor::kNoTimer;
  p->ana_known = true;
  MaybeFinishStart(*p);
}

void MultipathHost::OnStartTimeout() {
  if (!start_done_) return;
  for (auto& p : paths_) {
    if (!p->start_pending) continue;
    if (!p->start_ok) {
      p->start_status =
          Status(Code::kTimedOut, fmt::format("{}: not live within {:.3g}s ({})", p->ctrl->name(),
                                              ToSeconds(options_.start_timeout),
                                              blk::CtrlStateName(p->ctrl->state())));
    }
    p->start_pending = false;
  }
  starts_pending_ = 0;
  FinishStart();
}

void MultipathHost::FinishStart() {
  CancelTimer(start_timer_);
  for (auto& p : paths_) {
    if (!p->add_done) CancelTimer(p->ana_wait_timer);  // an AddController's wait is its own
  }
  if (!start_done_) return;
  Status result = Status::Ok();
  bool any_live = false;
  for (auto& q : paths_) any_live |= q->start_ok;
  if (!any_live) {
    result = paths_.empty() ? Status(Code::kCancelled, "every path was removed")
                            : paths_.front()->start_status;
    for (auto& q : paths_) {
      if (!q->start_status.ok()) {
        result = q->start_status;
        break;
      }
    }
  }
  auto done = std::move(start_done_);
  start_done_ = nullptr;
  done(result);
}

void MultipathHost::Shutdown(std::function<void()> done) {
  NVMP_ASSERT(!shut_down_, "MultipathHost shut down twice");
  shut_down_ = true;
  // A Start still waiting never reports now.
  start_done_ = nullptr;
  for (auto& p : paths_) p->start_pending = false;
  starts_pending_ = 0;
  FinishStart();
  if (!started_) {
    if (done) done();
    return;
  }
  for (auto& p : paths_) {
    CancelTimer(p->probe_timer);
    CancelTimer(p->add_timer);
    CancelTimer(p->ana_wait_timer);
    if (p->add_done) {
      auto add_done = std::move(p->add_done);
      p->add_done = nullptr;
      add_done(Status(Code::kCancelled, "the host is shutting down"));
    }
  }
  // Controllers first, so in-flight I/O fails over at once instead of draining through a dead
  // or stalled connection; each scanner then removes its paths from their heads.
  auto pending = std::make_shared<size_t>(paths_.size() * 2);
  auto finish = [this, pending, done = std::move(done)]() mutable {
    if (--*pending > 0) return;
    auto heads_left = std::make_shared<size_t>(heads_.size());
    if (heads_.empty()) {
      if (done) done();
      return;
    }
    for (auto& [nsid, e] : heads_) {
      e.head->Shutdown([heads_left, done] {
        if (--*heads_left == 0 && done) done();
      });
    }
  };
  auto shared_finish = std::make_shared<decltype(finish)>(std::move(finish));
  // A path RemoveController is removing counts too: its Delete and RemoveAll report again here.
  for (auto& p : paths_) {
    p->ctrl->Delete([shared_finish] { (*shared_finish)(); });
    p->scanner->RemoveAll([shared_finish] { (*shared_finish)(); });
  }
}

Head* MultipathHost::head(uint32_t nsid) const {
  auto it = heads_.find(nsid);
  return it == heads_.end() ? nullptr : it->second.head.get();
}

void MultipathHost::WhenHeadsQuiet(std::function<void()> done) {
  if (heads_.empty()) {
    reactors_[home_]->Post(std::move(done));
    return;
  }
  auto left = std::make_shared<size_t>(heads_.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& [nsid, e] : heads_) {
    e.head->WhenQuiet([left, shared_done] {
      if (--*left == 0) (*shared_done)();
    });
  }
}

int MultipathHost::head_messages_in_flight() const {
  int n = 0;
  for (auto& [nsid, e] : heads_) n += e.head->messages_in_flight();
  return n;
}

std::vector<uint32_t> MultipathHost::nsids() const {
  std::vector<uint32_t> out;
  for (auto& [nsid, e] : heads_) out.push_back(nsid);
  return out;
}

MultipathHost::PathCtl* MultipathHost::Find(host::NamespaceScanner* scanner) {
  for (auto& p : paths_) {
    if (p->scanner.get() == scanner) return p.get();
  }
  return nullptr;
}

void MultipathHost::AddError(Status error) {
  errors_.push_back(std::move(error));
  if (errors_.size() > options_.errors_max) errors_.erase(errors_.begin());
}

// ---- NamespaceScanner::Listener ----

Status MultipathHost::OnPathAdded(host::NamespaceScanner* scanner, host::PathNs* path,
                                  const host::NamespaceInfo& info) {
  const std::string where =
      fmt::format("{}:ns{} via {}", options_.subnqn, info.nsid, scanner->controller()->name());
  // Linux refuses identifiers that another namespace of the subsystem already uses.
  if (HasAnyId(info.ids)) {
    for (auto& [nsid, e] : heads_) {
      if (nsid != info.nsid && e.ids == info.ids && e.paths > 0) {
        ++counters_.identity_mismatches;
        return Status(
            Code::kAlreadyExists,
            fmt::format("{}: identifiers already used by nsid {}; not merged", where, nsid));
      }
    }
  }
  auto it = heads_.find(info.nsid);
  if (it == heads_.end()) {
    HeadOptions ho = options_.head;
    ho.name = fmt::format("{}:ns{}", options_.subnqn, info.nsid);
    HeadEntry e;
    e.head = std::make_unique<Head>(std::move(ho), reactors_, home_);
    e.head->SetGeometryObserver([this, nsid = info.nsid] {
      if (observer_ != nullptr) observer_->OnHeadGeometryChanged(nsid);
    });
    e.ids = info.ids;
    it = heads_.emplace(info.nsid, std::move(e)).first;
    ++counters_.heads_created;
  } else if (it->second.ids != info.ids) {
    if (it->second.paths > 0) {
      ++counters_.identity_mismatches;
      return Status(
          Code::kAlreadyExists,
          fmt::format("{}: identifiers don't match the shared namespace's; not merged", where));
    }
    // No controller shows the old namespace any more: it was replaced. The head (and any I/O
    // it queues) moves on to the new one, as Linux re-creates the head.
    ++counters_.identity_replaced;
    NVMP_LOG_INFO("{}: namespace replaced (new identifiers)", where);
    it->second.ids = info.ids;
  }
  Status st = it->second.head->AddPath(path);
  if (!st.ok()) return st;
  ++it->second.paths;
  ++counters_.paths_added;
  return Status::Ok();
}

void MultipathHost::OnPathRemoved(host::NamespaceScanner* scanner, host::PathNs* path,
                                  std::function<void()> done) {
  (void)scanner;
  auto it = heads_.find(path->nsid());
  NVMP_ASSERT(it != heads_.end(), "a path was removed from a head that does not exist");
  --it->second.paths;
  ++counters_.paths_removed;
  it->second.head->RemovePath(path, std::move(done));
}

void MultipathHost::OnControllerStateChanged(host::NamespaceScanner* scanner) {
  const blk::CtrlState s = scanner->controller()->state();
  if (s == blk::CtrlState::kLive && observer_ != nullptr) observer_->OnTransferLimitChanged();
  // A controller that left live no longer holds Start for its ANA states.
  if (PathCtl* p = Find(scanner)) MaybeFinishStart(*p);
  if (!options_.recreate_lost_paths || shut_down_) return;
  if (s != blk::CtrlState::kDeletingNoIo && s != blk::CtrlState::kDead) return;
  PathCtl* p = Find(scanner);
  if (p == nullptr || p->probing || p->leaving) return;
  p->probing = true;
  NVMP_LOG_WARN("{}: controller {} given up; probing its address every {:.3g}s to make it again",
                options_.subnqn, scanner->controller()->name(),
                ToSeconds(options_.controller.reconnect_delay));
  ScheduleProbe(p);
}

void MultipathHost::ScheduleProbe(PathCtl* p) {
  std::weak_ptr<bool> alive = alive_;
  const Duration delay =
      std::max<Duration>(options_.controller.reconnect_delay, std::chrono::milliseconds(1));
  p->probe_timer = reactors_[home_]->AddTimer(delay, [this, alive, p] {
    if (alive.expired()) return;
    p->probe_timer = reactor::kNoTimer;
    Probe(p);
  });
}

void MultipathHost::Probe(PathCtl* p) {
  if (shut_down_ || p->leaving) return;
  std::weak_ptr<bool> alive = alive_;
  const PathAddress& a = p->address;
  reactors_[home_]->Connect(a.address, a.port,
                            [this, alive, p](Result<std::unique_ptr<reactor::Stream>> st) {
                              if (alive.expired() || shut_down_ || p->leaving) return;
                              // The probe only asks whether the address answers; the new
                              // controller makes its own connections.
                              const bool answered = st.ok();
                              if (answered) (*st)->Close();
                              // Its paths must have left their heads before it is replaced.
                              if (!answered || !p->scanner->nsids().empty()) {
                                return ScheduleProbe(p);
                              }
                              Recreate(p);
                            });
}

void MultipathHost::Recreate(PathCtl* p) {
  auto old = std::make_unique<PathCtl>();
  old->address = p->address;
  old->ctrl = std::move(p->ctrl);
  old->scanner = std::move(p->scanner);
  retired_.push_back(std::move(old));
  p->probing = false;
  MakePath(*p);
  ++counters_.paths_recreated;
  NVMP_LOG_INFO("{}: {} answers again: new controller", options_.subnqn, p->ctrl->name());
  p->ctrl->Start([](Status) {});
}

void MultipathHost::OnScanDone(host::NamespaceScanner* scanner, const Status& status) {
  (void)status;
  PathCtl* p = Find(scanner);
  if (p == nullptr || p->first_scan_done) return;
  p->first_scan_done = true;
  if (options_.start_ana_wait <= Duration::zero()) {
    p->ana_known = true;
  } else if ((start_done_ && p->start_pending) || p->add_done) {
    std::weak_ptr<bool> alive = alive_;
    p->ana_wait_timer = reactors_[home_]->AddTimer(options_.start_ana_wait, [this, alive, p] {
      if (alive.expired()) return;
      OnAnaWaitOver(p);
    });
  }
  MaybeFinishStart(*p);
}

void MultipathHost::OnAnaLogDone(host::NamespaceScanner* scanner, const Status& status) {
  (void)status;  // a failed read leaves its paths pending: start_ana_wait bounds that
  if (PathCtl* p = Find(scanner)) MaybeFinishStart(*p);
}

void MultipathHost::OnError(host::NamespaceScanner* scanner, const Status& error) {
  (void)scanner;
  AddError(error);
}

}  // namespace nvmpath::mpath
