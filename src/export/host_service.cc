#include "export/host_service.h"

#include <fmt/format.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "base/log.h"
#include "base/time.h"
#include "client/discovery.h"
#include "export/metrics_host.h"

namespace nvmpath::exports {

Result<std::unique_ptr<HostService>> HostService::Start(HostServiceOptions options) {
  if (options.subsystems.empty()) return InvalidArgument("no subsystem to connect");
  std::unique_ptr<HostService> s(new HostService());
  s->options_ = std::move(options);
  auto threads = client::IoThreads::Create(s->options_.io_threads);
  if (!threads.ok()) return threads.status();
  s->threads_ = std::move(threads).value();

  std::vector<Client*> raw;
  for (size_t i = 0; i < s->options_.subsystems.size(); ++i) {
    ClientOptions o = s->options_.subsystems[i];
    o.recreate_lost_paths = true;
    auto c = client::ClientImpl::ConnectOn(o, s->threads_);
    if (!c.ok()) {
      s->Stop().IgnoreError();
      return c.status().WithContext(fmt::format("subsystem {}", i));
    }
    raw.push_back(c->get());
    s->clients_.push_back(std::move(c).value());
  }
  s->heads_ = std::make_unique<HeadTable>(raw);

  if (!s->options_.nbd.empty()) {
    auto nbd = NbdServer::Start(s->options_.nbd, s->heads_.get(), s->threads_.get());
    if (!nbd.ok()) {
      s->Stop().IgnoreError();
      return nbd.status();
    }
    s->nbd_ = std::move(nbd).value();
  }
  if (!s->options_.fuse.empty()) {
    auto fuse = FuseExport::Mount(s->options_.fuse, s->heads_.get());
    if (!fuse.ok()) {
      s->Stop().IgnoreError();
      return fuse.status();
    }
    s->fuse_ = std::move(fuse).value();
  }
  if (s->options_.metrics) {
    MetricsServerOptions mo;
    mo.host = s->options_.metrics->address;
    mo.port = s->options_.metrics->port;
    auto m = MetricsServer::Start(mo, [raw] { return RenderHostMetrics(TakeHostSnapshot(raw)); });
    if (!m.ok()) {
      s->Stop().IgnoreError();
      return m.status();
    }
    s->metrics_ = std::move(m).value();
  }
  return s;
}

HostService::~HostService() { Stop().IgnoreError(); }

client::ClientImpl* HostService::client(unsigned subsystem) const {
  std::lock_guard<std::mutex> lock(clients_mu_);
  return clients_.at(subsystem).get();
}

size_t HostService::subsystem_count() const {
  std::lock_guard<std::mutex> lock(clients_mu_);
  return clients_.size();
}

std::optional<unsigned> HostService::FindSubsystem(const std::string& nqn) const {
  std::lock_guard<std::mutex> lock(clients_mu_);
  for (unsigned s = 0; s < clients_.size(); ++s) {
    if (clients_[s]->subnqn() == nqn) return s;
  }
  return std::nullopt;
}

Result<HostService::ConnectResult> HostService::Connect(ClientOptions options) {
  if (stopped_) return Status(Code::kCancelled, "the host is stopping");
  options.recreate_lost_paths = true;
  options.io_threads = options_.io_threads;
  std::vector<Endpoint> wanted = options.paths;
  std::string subnqn = options.subnqn;
  if (options.discovery) {
    auto entries = Client::Discover(*options.discovery, options);
    if (!entries.ok()) return entries.status().WithContext("discovery");
    auto found = client::PathsFromDiscovery(*entries, options.subnqn, *options.discovery);
    if (!found.ok()) return found.status();
    subnqn = found->subnqn;
    for (const Endpoint& e : found->paths) {
      if (std::find(wanted.begin(), wanted.end(), e) == wanted.end()) wanted.push_back(e);
    }
  }
  ConnectResult out;
  std::optional<unsigned> existing = FindSubsystem(subnqn);
  if (!existing) {
    // The client reads the log once more (and follows it, with persistent_discovery).
    options.subnqn = subnqn;
    auto c = client::ClientImpl::ConnectOn(options, threads_);
    if (!c.ok()) return c.status();
    out.new_subsystem = true;
    out.added = (*c)->paths();
    client::ClientImpl* raw = c->get();
    {
      std::lock_guard<std::mutex> lock(clients_mu_);
      clients_.push_back(std::move(c).value());
    }
    out.subsystem = heads_->Add(raw);
    NVMP_LOG_INFO("{}: connected as subsystem {} ({} paths)", subnqn, out.subsystem,
                  out.added.size());
    return out;
  }
  out.subsystem = *existing;
  client::ClientImpl* c = client(*existing);
  Status first_failure;
  size_t already = 0;
  for (const Endpoint& e : wanted) {
    Status st = c->AddPath(e);
    if (st.ok()) {
      out.added.push_back(e);
    } else if (st.code() == Code::kAlreadyExists) {
      ++already;
    } else {
      if (first_failure.ok()) first_failure = st;
      out.errors.push_back(st.message());
    }
  }
  if (out.added.empty()) {
    if (!first_failure.ok()) return first_failure;
    return Status(Code::kAlreadyExists,
                  fmt::format("{}: every path given is already connected", subnqn));
  }
  return out;
}

Status HostService::DisconnectSubsystem(const std::string& nqn,
                                        std::chrono::milliseconds drain_timeout) {
  std::optional<unsigned> s = FindSubsystem(nqn);
  if (!s) {
    std::string names;
    for (size_t i = 0; i < subsystem_count(); ++i) {
      names += (names.empty() ? "" : ", ") + client(static_cast<unsigned>(i))->subnqn();
    }
    return NotFound(fmt::format("no subsystem {} (subsystems: {})", nqn,
                                names.empty() ? "none" : names));
  }
  client::ClientImpl* c = client(*s);
  std::string failed;
  for (const Endpoint& e : c->paths()) {
    Status st = c->RemovePath(e, drain_timeout);
    if (!st.ok()) failed += (failed.empty() ? "" : "; ") + st.message();
  }
  if (!failed.empty()) return Status(Code::kIoError, fmt::format("{}: {}", nqn, failed));
  return Status::Ok();
}

Status HostService::DisconnectPath(const Endpoint& path, std::chrono::milliseconds drain_timeout) {
  std::string known;
  for (size_t i = 0; i < subsystem_count(); ++i) {
    client::ClientImpl* c = client(static_cast<unsigned>(i));
    for (const Endpoint& e : c->paths()) {
      known += fmt::format("{}{} ({})", known.empty() ? "" : ", ", e.ToString(), c->subnqn());
    }
    Status st = c->RemovePath(path, drain_timeout);
    if (st.code() != Code::kNotFound) return st;
  }
  return NotFound(fmt::format("{} is not a path of this host (paths: {})", path.ToString(),
                              known.empty() ? "none" : known));
}

std::vector<uint16_t> HostService::nbd_ports() const {
  return nbd_ ? nbd_->ports() : std::vector<uint16_t>{};
}

std::string HostService::FlushAll() {
  // Shared with the callbacks: a flush still waiting for a path when the bound passes completes
  // later, when Close fails it.
  struct Flushes {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
    std::map<std::string, Status> done;
  };
  auto f = std::make_shared<Flushes>();
  const auto heads = heads_->List();
  f->left = heads.size();
  for (const ExportedHead& h : heads) {
    h.device->FlushAsync([f, name = h.name](Status st) {
      std::lock_guard<std::mutex> lock(f->mu);
      f->done[name] = std::move(st);
      if (--f->left == 0) f->cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(f->mu);
  f->cv.wait_for(lock, options_.stop_flush_timeout, [&] { return f->left == 0; });
  std::string failed;
  auto add = [&](const std::string& name, const std::string& why) {
    NVMP_LOG_ERROR("{}: flush at stop: {}", name, why);
    failed += fmt::format("{}{}: {}", failed.empty() ? "" : "; ", name, why);
  };
  for (const ExportedHead& h : heads) {
    auto it = f->done.find(h.name);
    if (it == f->done.end()) {
      std::string paths;
      for (const PathInfo& p : h.device->info().paths) {
        paths += fmt::format("{}{} {} {}", paths.empty() ? "" : ", ", p.name, p.controller_state,
                             p.ana_state);
      }
      add(h.name, fmt::format("not done after {:.3g}s (paths: {})",
                              ToSeconds(options_.stop_flush_timeout), paths));
    } else if (!it->second.ok()) {
      add(h.name, it->second.message());
    }
  }
  return failed;
}

Status HostService::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  metrics_.reset();
  if (nbd_) nbd_->Stop();
  if (fuse_) fuse_->Stop();
  std::string failed = heads_ ? FlushAll() : std::string();
  nbd_.reset();
  fuse_.reset();
  for (auto& c : clients_) c->Close();
  std::lock_guard<std::mutex> lock(clients_mu_);
  clients_.clear();
  if (threads_) threads_->StopAndJoin();
  if (!failed.empty()) return IoError("flush at stop failed: " + failed);
  return Status::Ok();
}

}  // namespace nvmpath::exports
