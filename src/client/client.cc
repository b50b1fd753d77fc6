// Client::Connect / Discover and client::ClientImpl (client_impl.h).
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>

#include "base/assert.h"
#include "base/log.h"
#include "client/client_impl.h"
#include "client/connect_failure.h"
#include "client/discovery.h"
#include "client/resolve_endpoint.h"
#include "client/waiter.h"
#include "mpath/path_set.h"

namespace nvmpath {

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  return client::ClientImpl::Connect(options);
}

Result<std::vector<DiscoveryEntry>> Client::Discover(const Endpoint& discovery,
                                                     const ClientOptions& options) {
  if (reactor::Current() != nullptr) {
    return InvalidArgument(
        "Client::Discover blocks: call it from an application thread, not "
        "from a reactor thread");
  }
  auto ep = Endpoint::Parse(discovery.ToString());
  if (!ep.ok()) return ep.status().WithContext("discovery");
  auto identity = client::ResolveHostIdentity(options);
  if (!identity.ok()) return identity.status();
  auto log = client::ReadDiscoveryLog(*ep, options, *identity);
  if (!log.ok()) return log.status();
  std::vector<DiscoveryEntry> out;
  for (const auto& e : log->entries) out.push_back(client::ToDiscoveryEntry(e));
  return out;
}

namespace client {
namespace {

using namespace std::chrono_literals;

constexpr unsigned kIoThreadsMax = 64;
// PathNs: one I/O moves at most 65536 blocks.
constexpr uint32_t kIoBlocksMax = 65536;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

std::string JoinNsids(const std::vector<uint32_t>& nsids) {
  if (nsids.empty()) return "none";
  std::string out;
  for (uint32_t n : nsids) out += (out.empty() ? "" : ", ") + std::to_string(n);
  return out;
}

Status ValidateOptions(const ClientOptions& o) {
  if (o.io_threads == 0 || o.io_threads > kIoThreadsMax) {
    return InvalidArgument(
        fmt::format("io_threads {}: must be between 1 and {}", o.io_threads, kIoThreadsMax));
  }
  if (o.queue_size < 2) {
    return InvalidArgument(fmt::format("queue_size {}: must be at least 2", o.queue_size));
  }
  if (o.subnqn.empty() && !o.discovery) {
    return InvalidArgument(
        "subnqn is empty: name the NVM subsystem (or give a discovery endpoint)");
  }
  if (o.subnqn.size() > kNqnMaxBytes) {
    return InvalidArgument(fmt::format("subnqn \"{}\" is {} bytes; an NQN has at most {}", o.subnqn,
                                       o.subnqn.size(), kNqnMaxBytes));
  }
  if (o.paths.empty() && !o.discovery) {
    return InvalidArgument("no path: give paths (ADDR:PORT) or a discovery endpoint");
  }
  for (size_t i = 0; i < o.paths.size(); ++i) {
    auto ep = Endpoint::Parse(o.paths[i].ToString());
    if (!ep.ok()) return ep.status().WithContext(fmt::format("paths[{}]", i));
  }
  if (o.discovery) {
    auto ep = Endpoint::Parse(o.discovery->ToString());
    if (!ep.ok()) return ep.status().WithContext("discovery");
  }
  if (o.connect_timeout <= Duration::zero()) {
    return InvalidArgument(
        fmt::format("connect_timeout {}ms: must be positive", o.connect_timeout.count()));
  }
  if (o.keep_alive_tmo <= Duration::zero()) {
    return InvalidArgument(
        fmt::format("keep_alive_tmo {}ms: must be positive", o.keep_alive_tmo.count()));
  }
  if (o.io_timeout <= Duration::zero()) {
    return InvalidArgument(fmt::format("io_timeout {}ms: must be positive", o.io_timeout.count()));
  }
  if (o.no_path_timeout < Duration::zero()) {
    return InvalidArgument(
        fmt::format("no_path_timeout {}ms: must not be negative", o.no_path_timeout.count()));
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Connect

Result<std::unique_ptr<Client>> ClientImpl::Connect(const ClientOptions& options) {
  auto c = Make(options, nullptr);
  if (!c.ok()) return c.status();
  return std::unique_ptr<Client>(std::move(c).value());
}

Result<std::unique_ptr<ClientImpl>> ClientImpl::ConnectOn(const ClientOptions& options,
                                                          std::shared_ptr<IoThreads> threads) {
  NVMP_ASSERT(threads != nullptr);
  ClientOptions o = options;
  o.io_threads = threads->size();
  return Make(o, std::move(threads));
}

Result<std::unique_ptr<ClientImpl>> ClientImpl::Make(const ClientOptions& options,
                                                     std::shared_ptr<IoThreads> threads) {
  if (reactor::Current() != nullptr) {
    return InvalidArgument(
        "Client::Connect blocks: call it from an application thread, not "
        "from a reactor thread");
  }
  NVMP_RETURN_IF_ERROR(ValidateOptions(options));
  auto identity = ResolveHostIdentity(options);
  if (!identity.ok()) return identity.status();

  ClientOptions resolved = options;
  std::vector<Endpoint> paths;
  std::vector<Endpoint> discovered;
  auto add_path = [&](const Endpoint& e) {
    if (std::find(paths.begin(), paths.end(), e) == paths.end()) paths.push_back(e);
  };
  for (const auto& e : options.paths) add_path(e);
  if (options.discovery) {
    auto log = ReadDiscoveryLog(*options.discovery, options, *identity);
    if (!log.ok()) return log.status();
    std::vector<DiscoveryEntry> entries;
    for (const auto& e : log->entries) entries.push_back(ToDiscoveryEntry(e));
    auto found = PathsFromDiscovery(entries, options.subnqn, *options.discovery);
    if (!found.ok()) return found.status();
    resolved.subnqn = found->subnqn;
    for (const auto& e : found->paths) {
      if (std::find(paths.begin(), paths.end(), e) == paths.end()) discovered.push_back(e);
      add_path(e);
    }
  }
  if (paths.size() > static_cast<size_t>(mpath::kMaxPaths)) {
    return InvalidArgument(
        fmt::format("{} paths: a device has at most {}", paths.size(), mpath::kMaxPaths));
  }

  std::unique_ptr<ClientImpl> c(
      new ClientImpl(std::move(resolved), *identity, std::move(paths), std::move(threads)));
  c->discovered_ = std::move(discovered);
  Status st = c->Start();
  if (!st.ok()) {
    c->Close();
    return st;
  }
  if (options.discovery && options.persistent_discovery) {
    auto ctrl = DiscoveryControllerOptions(*options.discovery, options, *identity);
    if (!ctrl.ok()) {
      c->Close();
      return ctrl.status();
    }
    DiscoveryFollower::Options f;
    f.controller = *ctrl;
    f.subnqn = c->options_.subnqn;
    f.discovery = *options.discovery;
    f.fixed = options.paths;
    f.managed = c->discovered_;
    c->follower_ = std::make_unique<DiscoveryFollower>(c.get(), c->io_.get(), std::move(f));
    c->follower_->Start();
  }
  return c;
}

ClientImpl::ClientImpl(ClientOptions options, HostIdentity identity, std::vector<Endpoint> paths,
                       std::shared_ptr<IoThreads> threads)
    : options_(std::move(options)),
      identity_(std::move(identity)),
      paths_(std::move(paths)),
      io_(std::move(threads)),
      owns_threads_(io_ == nullptr) {}

namespace {
blk::QosLimits ToBlkLimits(const QosLimits& q) {
  blk::QosLimits out;
  out.max_in_flight = q.depth;
  out.iops = q.iops;
  out.bytes_per_s = q.bytes_per_s;
  return out;
}
}  // namespace

ClientImpl::~ClientImpl() { Close(); }

Status ClientImpl::Start() {
  if (owns_threads_) {
    auto io = IoThreads::Create(options_.io_threads);
    if (!io.ok()) return io.status();
    io_ = std::move(io).value();
  }

  mpath::MultipathHostOptions mo;
  mo.subnqn = options_.subnqn;
  mo.hostnqn = identity_.hostnqn;
  mo.hostid = identity_.hostid;
  for (const auto& e : paths_) {
    auto a = ResolvePathAddress(e);
    if (!a.ok()) return a.status();
    mo.paths.push_back(*a);
  }
  host::ControllerOptions& c = mo.controller;
  c.kato = options_.keep_alive_tmo;
  c.reconnect_delay = options_.reconnect_delay;
  c.ctrl_loss_tmo = options_.ctrl_loss_tmo;
  c.fast_io_fail_tmo = options_.fast_io_fail_tmo;
  c.io_timeout = options_.io_timeout;
  c.connect_timeout = options_.connect_timeout;
  c.queue_size = options_.queue_size;
  c.hdgst = options_.hdr_digest;
  c.ddgst = options_.data_digest;
  c.retry_initial_connect = options_.retry_unreachable_paths;
  c.fence_delay = options_.fence_delay;  // same meaning: negative = the controller's CQT
  mo.head.policy = static_cast<mpath::Policy>(options_.policy);
  mo.head.queue_timeout = options_.no_path_timeout;
  mo.head.queue_if_no_path = options_.queue_if_no_path;
  // Each I/O thread has its own limiters: each enforces its share.
  mo.head.qos = blk::SplitAcross(ToBlkLimits(options_.head_qos), io_->size());
  mo.path_qos = blk::SplitAcross(ToBlkLimits(options_.path_qos), io_->size());
  mo.start_timeout = options_.connect_timeout;
  mo.recreate_lost_paths = options_.recreate_lost_paths;

  Waiter started;
  Status result;
  io_->RunAndWait(0, [&] {
    host_ = std::make_unique<mpath::MultipathHost>(mo, io_->reactors(), 0);
    host_->SetObserver(this);
    host_->Start([&](Status st) {
      result = std::move(st);
      started.Signal();
    });
  });
  started.Wait();  // bounded: start_timeout

  Status out;
  io_->RunAndWait(0, [&] {
    if (!result.ok()) {
      out = StartFailure(result);
      return;
    }
    for (uint32_t nsid : host_->nsids()) DeviceFor(nsid, host_->head(nsid));
  });
  return out;
}

Status ClientImpl::StartFailure(const Status& overall) const {
  std::string msg;
  Code code = overall.code();
  for (size_t i = 0; i < host_->controller_count(); ++i) {
    const Status& st = host_->start_status(i);
    ConnectFailure f =
        DescribeConnectFailure(st.ok() ? overall : st, options_.subnqn, identity_.hostnqn);
    if (i == 0) code = f.code;
    msg += fmt::format("{}{}: {}", msg.empty() ? "" : "; ", host_->path_address(i).ToString(),
                       f.reason);
  }
  return Status(code, fmt::format("cannot connect to {}: {}", options_.subnqn, msg));
}

// ---------------------------------------------------------------------------------------------
// Devices

DeviceImpl* ClientImpl::DeviceFor(uint32_t nsid, mpath::Head* head) {
  auto it = devices_.find(nsid);
  if (it != devices_.end()) return it->second.get();
  auto d = std::make_unique<DeviceImpl>(this, io_.get(), head, nsid);
  DeviceImpl* raw = d.get();
  devices_.emplace(nsid, std::move(d));
  Refresh(raw);
  return raw;
}

void ClientImpl::Refresh(DeviceImpl* d) {
  mpath::Head* h = d->head();
  d->Refresh(h->capacity_blocks(), h->block_size(), MaxIoBlocks(h->block_size()));
}

void ClientImpl::OnHeadGeometryChanged(uint32_t nsid) {
  // A head with no Device yet gets its geometry when DeviceFor makes one.
  auto it = devices_.find(nsid);
  if (it != devices_.end()) Refresh(it->second.get());
}

void ClientImpl::OnTransferLimitChanged() {
  for (auto& [nsid, d] : devices_) Refresh(d.get());
}

uint32_t ClientImpl::MaxIoBlocks(uint32_t block_size) const {
  uint32_t bytes = 0;
  for (size_t i = 0; i < host_->controller_count(); ++i) {
    const uint32_t m = host_->controller(i)->max_transfer_bytes();
    if (m != 0) bytes = bytes == 0 ? m : std::min(bytes, m);
  }
  if (bytes == 0) bytes = host::ControllerOptions{}.max_transfer_bytes;
  return std::clamp<uint32_t>(bytes / std::max<uint32_t>(block_size, 1), 1, kIoBlocksMax);
}

Result<Device*> ClientImpl::Open(uint32_t nsid) {
  Result<Device*> out = Status(Code::kCancelled, options_.subnqn + ": the client is closed");
  WithHost([&](mpath::MultipathHost* host) {
    if (host == nullptr) return;
    mpath::Head* head = host->head(nsid);
    if (head == nullptr) {
      out = NotFound(fmt::format("{} has no namespace {} (NSIDs: {})", options_.subnqn, nsid,
                                 JoinNsids(host->nsids())));
      return;
    }
    out = static_cast<Device*>(DeviceFor(nsid, head));
  });
  return out;
}

Result<Device*> ClientImpl::OpenFirst() {
  std::vector<uint32_t> ids = nsids();
  if (ids.empty()) {
    return NotFound(fmt::format("{} shows no namespace", options_.subnqn));
  }
  return Open(ids.front());
}

std::vector<uint32_t> ClientImpl::nsids() const {
  std::vector<uint32_t> out;
  WithHost([&](mpath::MultipathHost* host) {
    if (host != nullptr) out = host->nsids();
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Describe

DeviceInfo ClientImpl::DescribeDevice(uint32_t nsid) const {
  mpath::Head* head = host_->head(nsid);
  NVMP_ASSERT(head != nullptr);
  DeviceInfo d;
  d.nsid = nsid;
  d.name = head->name();
  d.capacity_blocks = head->capacity_blocks();
  d.block_size = head->block_size();
  if (const nvme::NsIdentifiers* ids = host_->head_ids(nsid)) {
    auto hex = [](std::span<const uint8_t> b) {
      std::string s;
      for (uint8_t v : b) s += fmt::format("{:02x}", v);
      return s;
    };
    if (ids->nguid) d.nguid = hex(*ids->nguid);
    if (ids->eui64) d.eui64 = hex(*ids->eui64);
    if (ids->uuid) {
      const std::string u = hex(*ids->uuid);
      d.uuid = fmt::format("{}-{}-{}-{}-{}", u.substr(0, 8), u.substr(8, 4), u.substr(12, 4),
                           u.substr(16, 4), u.substr(20));
    }
  }
  for (size_t i = 0; i < host_->controller_count(); ++i) {
    host::Controller* ctrl = host_->controller(i);
    PathInfo p;
    p.name = ctrl->name();
    p.endpoint = ToEndpoint(host_->path_address(i));
    p.controller_state = blk::CtrlStateName(ctrl->state());
    p.ana_state = "unknown";
    if (host::PathNs* path = host_->scanner(i)->path(nsid)) {
      const blk::PathState s = path->state();
      p.ana_state = s.ana_pending ? "pending" : nvme::AnaStateName(s.ana);
      p.ready = s.ready;
      p.usable = mpath::IsUsable(s, head->capacity_blocks());
      if (const host::NamespaceInfo* ns = host_->scanner(i)->info(nsid)) p.ana_group = ns->anagrpid;
      if (!p.usable) {
        if (p.controller_state != "live") {
          p.unusable_reason = "controller " + p.controller_state;
        } else if (!s.ready) {
          p.unusable_reason = "namespace not ready";
        } else if (s.ana_pending) {
          p.unusable_reason = "ANA state not read yet";
        } else if (p.ana_state != "optimized" && p.ana_state != "non-optimized") {
          p.unusable_reason = "ANA " + p.ana_state;
        } else {
          p.unusable_reason = "capacity differs from the head's";
        }
      }
    } else {
      p.unusable_reason = "namespace not on this controller";
    }
    d.paths.push_back(std::move(p));
  }
  d.time_without_usable_path = head->time_without_usable_path();
  return d;
}

SubsystemInfo ClientImpl::Describe() const {
  SubsystemInfo info;
  info.subnqn = options_.subnqn;
  info.hostnqn = identity_.hostnqn;
  WithHost([&](mpath::MultipathHost* host) {
    if (host == nullptr) return;
    for (size_t i = 0; i < host->controller_count(); ++i) {
      host::Controller* ctrl = host->controller(i);
      ControllerInfo c;
      c.name = ctrl->name();
      c.endpoint = ToEndpoint(host->path_address(i));
      c.state = blk::CtrlStateName(ctrl->state());
      c.cntlid = ctrl->cntlid();
      c.model = Trim(ctrl->identify().mn);
      c.serial = Trim(ctrl->identify().sn);
      c.firmware = Trim(ctrl->identify().fr);
      c.io_queues = ctrl->live() ? ctrl->io_queue_count() : 0;
      c.reconnect_attempts = ctrl->reconnect_attempts();
      c.connect_attempts = ctrl->associations();
      c.keep_alive_timeouts = ctrl->keep_alive_timeouts();
      if (!ctrl->last_error().ok()) c.last_error = ctrl->last_error().message();
      info.controllers.push_back(std::move(c));
    }
    for (uint32_t nsid : host->nsids()) info.devices.push_back(DescribeDevice(nsid));
    for (const Status& e : host->errors()) info.problems.push_back(e.message());
  });
  return info;
}

// ---------------------------------------------------------------------------------------------
// Threads and control

void ClientImpl::RunOnIoThread(unsigned thread, std::function<void()> fn) {
  NVMP_ASSERT(thread < io_->size(), "RunOnIoThread: no such I/O thread");
  // Counted, so Close waits for a task posted before it (the I/O it submits is then cancelled
  // or drained like any other). Once Close began, the task runs only if the thread is still up.
  if (io_->ReservePost()) return io_->PostReserved(thread, std::move(fn));
  io_->reactor(thread)->Post(std::move(fn));
}

void ClientImpl::WithHost(const std::function<void(mpath::MultipathHost*)>& fn) const {
  if (std::optional<unsigned> here = io_->Current()) {
    // Home never waits for another thread, so hopping to it from an I/O thread is safe.
    (void)here;
    io_->RunAndWait(0, [&] { fn(host_.get()); });
    return;
  }
  std::lock_guard<std::mutex> lock(control_mu_);
  if (closed_) return fn(nullptr);
  io_->RunAndWait(0, [&] { fn(host_.get()); });
}

void ClientImpl::WithHostAsync(
    const std::function<void(mpath::MultipathHost*, std::function<void()> finished)>& fn) const {
  NVMP_ASSERT(!io_->Current().has_value(), "WithHostAsync on an I/O thread");
  std::lock_guard<std::mutex> lock(control_mu_);
  if (closed_) return fn(nullptr, [] {});
  Waiter w;
  io_->reactor(0)->Post([&] { fn(host_.get(), [&w] { w.Signal(); }); });
  w.Wait();
}

void ClientImpl::Close() {
  NVMP_ASSERT(!io_ || !io_->Current().has_value(),
              "Client::Close on an I/O thread would wait for itself");
  // Before the lock: the follower's thread may be inside AddPath, which takes it.
  if (follower_) follower_->Stop();
  std::lock_guard<std::mutex> lock(control_mu_);
  if (closed_) return;
  closed_ = true;
  if (!io_) return;

  closing_.store(true, std::memory_order_seq_cst);
  // Shared threads stay open for the other clients; this client's devices check closing().
  // WaitIdle below then also waits for their I/O: Close shared threads' clients when they are
  // quiet (the host closes its exports first).
  if (owns_threads_) io_->BeginClose();
  Waiter down;
  io_->reactor(0)->Post([&] {
    if (!host_) return down.Signal();
    host_->Shutdown([&] { down.Signal(); });
  });
  down.Wait();
  io_->WaitIdle();

  // Each Device keeps what it counted (devices_ is home's: Open may run there meanwhile).
  Waiter counted;
  io_->reactor(0)->Post([&] {
    auto left = std::make_shared<size_t>(devices_.size() + 1);
    auto one_done = [left, &counted] {
      if (--*left == 0) counted.Signal();
    };
    for (auto& [nsid, d] : devices_) {
      DeviceImpl* dev = d.get();
      dev->head()->CollectStats([dev, one_done](mpath::HeadStats stats) {
        dev->SetFinalCounters(ToDeviceCounters(stats));
        one_done();
      });
    }
    one_done();
  });
  counted.Wait();

  // Heads message each other's threads in chains (a shard acknowledges to home, home answers a
  // shard; CollectStats just did): the host goes once no head has one on its way.
  Waiter quiet;
  io_->reactor(0)->Post([&] {
    if (!host_) return quiet.Signal();
    host_->WhenHeadsQuiet([&] { quiet.Signal(); });
  });
  quiet.Wait();
  io_->RunAndWait(0, [&] {
    if (host_) host_->SetObserver(nullptr);
    host_.reset();
  });
  // Destroying the host posted the teardown of its streams to their threads: let it run there.
  io_->Barrier();
  if (owns_threads_) io_->StopAndJoin();
}

}  // namespace client
}  // namespace nvmpath
