#include "export/host_service.h"

#include <fmt/format.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "base/log.h"
#include "base/time.h"
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
  clients_.clear();
  if (threads_) threads_->StopAndJoin();
  if (!failed.empty()) return IoError("flush at stop failed: " + failed);
  return Status::Ok();
}

}  // namespace nvmpath::exports
