#include "export/host_service.h"

#include <fmt/format.h>

#include "base/log.h"

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
  return s;
}

HostService::~HostService() { Stop().IgnoreError(); }

std::vector<uint16_t> HostService::nbd_ports() const {
  return nbd_ ? nbd_->ports() : std::vector<uint16_t>{};
}

Status HostService::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  if (nbd_) nbd_->Stop();
  if (fuse_) fuse_->Stop();
  std::string failed;
  if (heads_) {
    for (const ExportedHead& h : heads_->List()) {
      Status st = h.device->Flush();
      if (!st.ok()) {
        NVMP_LOG_ERROR("{}: flush at stop: {}", h.name, st.ToString());
        failed += fmt::format("{}{}: {}", failed.empty() ? "" : "; ", h.name, st.message());
      }
    }
  }
  nbd_.reset();
  fuse_.reset();
  for (auto& c : clients_) c->Close();
  clients_.clear();
  if (threads_) threads_->StopAndJoin();
  if (!failed.empty()) return IoError("flush at stop failed: " + failed);
  return Status::Ok();
}

}  // namespace nvmpath::exports
