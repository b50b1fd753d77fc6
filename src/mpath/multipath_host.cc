#include "mpath/multipath_host.h"

#include <fmt/format.h>

#include "base/assert.h"
#include "base/log.h"

namespace nvmpath::mpath {

namespace {
bool HasAnyId(const nvme::NsIdentifiers& ids) { return ids.nguid || ids.eui64 || ids.uuid; }
}  // namespace

MultipathHost::MultipathHost(MultipathHostOptions options, std::vector<reactor::Reactor*> reactors,
                             unsigned home)
    : options_(std::move(options)), reactors_(std::move(reactors)), home_(home) {
  NVMP_ASSERT(!reactors_.empty() && home_ < reactors_.size());
  NVMP_ASSERT(!options_.paths.empty());
}

MultipathHost::~MultipathHost() {
  NVMP_ASSERT(!started_ || shut_down_, "MultipathHost destroyed without Shutdown");
  for (auto& p : paths_) p.scanner.reset();  // before its controller: it is the observer
  paths_.clear();
}

void MultipathHost::Start(std::function<void(Status)> done) {
  NVMP_ASSERT(!started_, "MultipathHost started twice");
  started_ = true;
  start_done_ = std::move(done);
  paths_.resize(options_.paths.size());
  starts_pending_ = paths_.size();
  for (size_t i = 0; i < paths_.size(); ++i) {
    host::ControllerOptions c = options_.controller;
    c.address = options_.paths[i].address;
    c.port = options_.paths[i].port;
    c.name = fmt::format("{}:{}", c.address, c.port);
    c.subnqn = options_.subnqn;
    c.hostnqn = options_.hostnqn;
    c.hostid = options_.hostid;
    PathCtl& p = paths_[i];
    p.ctrl = std::make_unique<host::Controller>(std::move(c), reactors_, home_);
    p.scanner = std::make_unique<host::NamespaceScanner>(
        p.ctrl.get(), static_cast<host::NamespaceScanner::Listener*>(this), reactors_, home_);
    p.start_pending = true;
  }
  // Started after every PathCtl exists: a callback may look any of them up.
  for (size_t i = 0; i < paths_.size(); ++i) {
    paths_[i].ctrl->Start([this, i](Status st) {
      PathCtl& p = paths_[i];
      p.start_status = st;
      p.start_ok = st.ok();
      MaybeFinishStart(p);
    });
  }
}

void MultipathHost::MaybeFinishStart(PathCtl& p) {
  if (!p.start_pending) return;
  if (p.start_ok && !p.first_scan_done) return;  // live: wait for its namespaces
  if (!p.start_ok && p.start_status.ok()) return;  // no result yet
  p.start_pending = false;
  if (--starts_pending_ > 0 || !start_done_) return;
  Status result = Status::Ok();
  bool any_live = false;
  for (auto& q : paths_) any_live |= q.start_ok;
  if (!any_live) {
    result = paths_.front().start_status;
    for (auto& q : paths_) {
      if (!q.start_status.ok()) {
        result = q.start_status;
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
  if (!started_) {
    if (done) done();
    return;
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
  for (auto& p : paths_) {
    p.ctrl->Delete([shared_finish] { (*shared_finish)(); });
    p.scanner->RemoveAll([shared_finish] { (*shared_finish)(); });
  }
}

Head* MultipathHost::head(uint32_t nsid) const {
  auto it = heads_.find(nsid);
  return it == heads_.end() ? nullptr : it->second.head.get();
}

std::vector<uint32_t> MultipathHost::nsids() const {
  std::vector<uint32_t> out;
  for (auto& [nsid, e] : heads_) out.push_back(nsid);
  return out;
}

MultipathHost::PathCtl* MultipathHost::Find(host::NamespaceScanner* scanner) {
  for (auto& p : paths_) {
    if (p.scanner.get() == scanner) return &p;
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
  const std::string where = fmt::format("{}:ns{} via {}", options_.subnqn, info.nsid,
                                        scanner->controller()->name());
  // Linux refuses identifiers that another namespace of the subsystem already uses.
  if (HasAnyId(info.ids)) {
    for (auto& [nsid, e] : heads_) {
      if (nsid != info.nsid && e.ids == info.ids && e.paths > 0) {
        ++counters_.identity_mismatches;
        return Status(Code::kAlreadyExists,
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
    e.ids = info.ids;
    it = heads_.emplace(info.nsid, std::move(e)).first;
    ++counters_.heads_created;
  } else if (it->second.ids != info.ids) {
    if (it->second.paths > 0) {
      ++counters_.identity_mismatches;
      return Status(Code::kAlreadyExists,
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

void MultipathHost::OnScanDone(host::NamespaceScanner* scanner, const Status& status) {
  (void)status;
  PathCtl* p = Find(scanner);
  if (p == nullptr || p->first_scan_done) return;
  p->first_scan_done = true;
  MaybeFinishStart(*p);
}

void MultipathHost::OnError(host::NamespaceScanner* scanner, const Status& error) {
  (void)scanner;
  AddError(error);
}

}  // namespace nvmpath::mpath
