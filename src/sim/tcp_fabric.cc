#include "sim/tcp_fabric.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/assert.h"
#include "sim/bounded_run.h"
#include "sim/host_faults.h"
#include "sim/runner.h"

namespace nvmpath::sim {

using namespace std::chrono_literals;
using nvme::AnaState;

namespace {

constexpr char kSubnqn[] = "nqn.2026-11.io.nvmpath:tcp-storm";
constexpr char kHostnqn[] = "nqn.2026-11.io.nvmpath:tcp-storm-host";
constexpr uint16_t kFirstTcpPort = 4420;
constexpr Duration kReconnectDelay = 1ms;
constexpr Duration kConnectTimeout = 4ms;
constexpr Duration kAdminTimeout = 8ms;

}  // namespace

TcpFabric::TcpFabric(const TcpFabricOptions& o)
    : o_(o), world_(o.seed), rng_(o.seed ^ 0x7C95A3D1E4B2F068ull) {
  NVMP_ASSERT(o.heads >= 1 && o.heads <= 4 && o.ports >= 2 && o.ports <= 4);
  NVMP_ASSERT(o.reactors >= 1 && o.blocks >= 8 * static_cast<uint64_t>(o.reactors));
}

TcpFabric::~TcpFabric() {
  NVMP_ASSERT(!stuck_, "a TcpFabric that did not stop cannot be destroyed");
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool TcpFabric::RunUntil(const std::function<bool()>& done, Duration limit) {
  return RunBounded(world_, done, limit, &spinning_);
}

Status TcpFabric::OnTarget(const std::function<Status()>& fn) {
  std::optional<Status> result;
  t_->Post([&] { result = fn(); });
  if (!RunUntil([&] { return result.has_value(); }, 1s)) {
    return Status(Code::kTimedOut, "the target's reactor did not run a control task");
  }
  return *result;
}

Status TcpFabric::MakeFiles() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = fmt::format("{}/nvmpath-tcp-storm-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("mkdtemp " + tmpl, errno);
  dir_ = tmpl;
  std::vector<std::string> files;
  const uint64_t bytes = o_.blocks * o_.block_size;
  for (int h = 0; h < o_.heads; ++h) {
    files.push_back(fmt::format("{}/ns{}", dir_, h + 1));
    int fd = ::open(files.back().c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd < 0) return ErrnoStatus("create " + files.back(), errno);
    int rc = ::ftruncate(fd, static_cast<off_t>(bytes));
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus("ftruncate " + files.back(), err);
  }
  model_ = TargetModel::Make(kSubnqn, o_.ports, kFirstTcpPort, o_.heads, bytes, files,
                             AnaState::kInaccessible);
  model_.serial = "nvmpath-storm";
  model_.block_size = o_.block_size;
  model_.cqt = kTcpFabricCqt;
  for (int h = 0; h < o_.heads; ++h) {
    model_.ana[h % o_.ports][h] = AnaState::kOptimized;
    model_.ana[(h + 1) % o_.ports][h] = AnaState::kNonOptimized;
    for (int p = 0; p < o_.ports; ++p) {
      model_.healed_ana[p][h] = p == h % o_.ports ? AnaState::kOptimized : AnaState::kNonOptimized;
    }
  }
  if (o_.adjust_model) o_.adjust_model(model_);
  return Status::Ok();
}

Status TcpFabric::StartTarget() {
  NVMP_ASSERT(!target_ && !target_dying_);
  auto t = target::Target::Create(model_.Config(), {t_});
  if (!t.ok()) return t.status().WithContext("target Create");
  std::unique_ptr<target::Target> target = std::move(*t);
  NVMP_RETURN_IF_ERROR(target->Start().WithContext("target Start"));
  target_ = std::move(target);
  return Status::Ok();
}

Status TcpFabric::StartHost() {
  mpath::MultipathHostOptions o;
  o.subnqn = kSubnqn;
  o.hostnqn = kHostnqn;
  o.hostid[15] = 0x5;
  for (int p = 0; p < o_.ports; ++p) o.paths.push_back({model_.address, model_.tcp_ports[p]});
  o.controller.io_timeout = kTcpFabricIoTimeout;
  o.controller.kato = kTcpFabricKato;
  o.controller.reconnect_delay = kReconnectDelay;
  o.controller.connect_timeout = kConnectTimeout;
  o.controller.admin_timeout = kAdminTimeout;
  o.controller.ctrl_loss_tmo = Duration(-1);  // a path never gives up: every fault heals
  o.controller.retry_initial_connect = true;
  // A write held in a black-holed link reaches the target when the link flows again, after the
  // host gave the connection up. The target drops such bytes only once its keep-alive timer has
  // closed the association, so the fence must cover KATO as well as CQT (docs/ARCHITECTURE.md
  // "Stale-write fencing", what the fence does not cover).
  o.controller.fence_delay = o_.fence_delay.value_or(kTcpFabricKato + kTcpFabricCqt);
  o.controller.TEST_disable_write_fence = o_.TEST_disable_write_fence;
  o.head.policy = static_cast<mpath::Policy>(rng_.Below(3));
  // A namespace removed everywhere comes back: I/O waits for it (Linux's delayed removal).
  o.head.queue_if_no_path = true;
  if (o_.qos) {
    reactor::SimRandom q(o_.seed * 0x9E3779B97F4A7C15ull + 0x51);
    o.head.qos.max_in_flight = static_cast<uint32_t>(q.Between(1, 4));
    o.head.qos.iops = q.Between(20'000, 200'000);
    o.path_qos.max_in_flight = static_cast<uint32_t>(q.Between(1, 3));
    o.path_qos.bytes_per_s = q.Between(16, 256) << 20;
  }
  o.start_timeout = 1s;
  if (o_.adjust_host) o_.adjust_host(o);
  host_ = std::make_unique<mpath::MultipathHost>(o, host_reactors_, 0);
  std::optional<Status> started;
  host_reactors_[0]->Post([&] { host_->Start([&](Status s) { started = s; }); });
  if (!RunUntil([&] { return started.has_value(); }, 5s)) {
    return Status(Code::kTimedOut, "host Start did not finish");
  }
  if (!started->ok()) return *started;
  for (int h = 0; h < o_.heads; ++h) {
    mpath::Head* head = host_->head(model_.Nsid(h));
    if (head == nullptr) {
      return Status(Code::kNotFound, fmt::format("no head for NSID {}", model_.Nsid(h)));
    }
    heads_.push_back(head);
  }
  if (!RunUntil([&] { return AllPathsBack(); }, 2s)) {
    return Status(Code::kTimedOut, "paths not usable after Start: " + DescribePaths());
  }
  return Status::Ok();
}

Status TcpFabric::Start() {
  for (int r = 0; r < o_.reactors; ++r) host_reactors_.push_back(world_.AddReactor());
  t_ = world_.AddReactor();
  world_.network().SetDefaultLatency(o_.link_latency);
  NVMP_RETURN_IF_ERROR(MakeFiles().WithContext("set-up"));
  NVMP_RETURN_IF_ERROR(OnTarget([this] { return StartTarget(); }));
  return StartHost();
}

// SIGKILL as the simulator plays it: every listener and connection closes at once, nothing in
// flight is answered, no timer of the old target runs again. Data already in the files stays.
Status TcpFabric::Kill() {
  if (!target_) return Status::Ok();
  target_dying_ = true;
  std::shared_ptr<target::Target> dying(target_.release());
  dying->Stop([this, dying]() mutable {
    // Not inside the target's own callback: destroy from a fresh task.
    t_->Post([this, dying = std::move(dying)]() mutable {
      dying.reset();
      target_dying_ = false;
    });
  });
  return Status::Ok();
}

bool TcpFabric::WaitTargetGone() {
  return !target_dying_ || RunUntil([&] { return !target_dying_; }, 1s);
}

Status TcpFabric::Restart() {
  if (target_) return Status::Ok();
  if (!WaitTargetGone()) return Status(Code::kTimedOut, "the killed target did not close");
  // Runtime state does not survive: a restarted namespace is attached everywhere.
  for (TargetModel::Namespace& ns : model_.ns) ns.attached.assign(o_.ports, true);
  ++restarts_;
  return OnTarget([this] { return StartTarget(); });
}

Status TcpFabric::Apply(const Fault& fault) {
  if (std::holds_alternative<fault::TargetKill>(fault)) {
    return OnTarget([this] { return Kill(); });
  }
  if (std::holds_alternative<fault::TargetRestart>(fault)) return Restart();
  if (IsLinkFault(fault)) return ApplyToNetwork(world_.network(), model_, fault);
  if (IsHostFault(fault)) return ApplyToHost(*this, *host_reactors_[0], fault);
  if (const auto* remap = std::get_if<fault::NsRemapped>(&fault)) remapped_.insert(remap->ns);
  return OnTarget([&] { return ApplyToTarget(target_.get(), model_, fault); });
}

Status TcpFabric::Heal() {
  for (int p = 0; p < o_.ports; ++p) {
    reactor::SimNetwork& net = world_.network();
    net.SetRefuse(model_.address, model_.tcp_ports[p], false);
    net.Stall(model_.address, model_.tcp_ports[p], false);
    net.SetLatency(model_.address, model_.tcp_ports[p], o_.link_latency);
  }
  for (int h = 0; h < o_.heads; ++h) {
    if (model_.ns[h].present) continue;
    NVMP_RETURN_IF_ERROR(
        OnTarget([&] { return ApplyToTarget(target_.get(), model_, fault::NsPresent{h, true}); }));
  }
  model_.Heal();
  // A killed target restarts from the healed model.
  NVMP_RETURN_IF_ERROR(target_ ? OnTarget([this] { return HealTarget(*target_, model_); })
                               : Restart());
  return SettleRemaps();
}

// A remap can leave one controller's path refused for good: its scan saw the new identifiers
// while the head still had paths with the old ones (a controller that was away during the remap,
// or whose rescan raced it), and only the next namespace change makes it scan again — Linux
// refuses it the same way. So the heal plays one settled remap of every namespace remapped since
// the last heal, as blktests nvme/058's operator would: removed, every path gone from its head,
// added back with the new identifiers.
Status TcpFabric::SettleRemaps() {
  for (int h : remapped_) {
    NVMP_RETURN_IF_ERROR(
        OnTarget([&] { return ApplyToTarget(target_.get(), model_, fault::NsPresent{h, false}); }));
    if (!RunUntil([&] { return heads_[h]->path_count() == 0; }, std::chrono::seconds(10))) {
      return Status(Code::kTimedOut,
                    fmt::format("namespace {} removed to settle its remap, but its head kept "
                                "paths: {}",
                                h + 1, heads_[h]->DescribePathStates()));
    }
    NVMP_RETURN_IF_ERROR(
        OnTarget([&] { return ApplyToTarget(target_.get(), model_, fault::NsPresent{h, true}); }));
  }
  remapped_.clear();
  return Status::Ok();
}

// The path of head `h` through port `p` is back: live, attached, and in the ANA state the target
// gives it (not pending a re-read).
bool TcpFabric::PathBack(int p, int h) const {
  host::PathNs* path = host_->scanner(static_cast<size_t>(p))->path(model_.Nsid(h));
  if (path == nullptr) return false;
  blk::PathState s = path->state();
  return s.ctrl == blk::CtrlState::kLive && s.ready && !s.ana_pending && s.ana == model_.ana[p][h];
}

bool TcpFabric::AllPathsBack() const {
  if (!host_) return false;
  for (int h = 0; h < o_.heads; ++h) {
    for (int p = 0; p < o_.ports; ++p) {
      if (!PathBack(p, h)) return false;
    }
    if (static_cast<size_t>(h) < heads_.size() &&
        (heads_[h]->path_count() != static_cast<size_t>(o_.ports) || !heads_[h]->HasUsablePath())) {
      return false;
    }
  }
  return true;
}

std::string TcpFabric::DescribePaths() const {
  std::string out;
  for (size_t h = 0; h < heads_.size(); ++h) {
    out += fmt::format("{}head {}: {}", h ? "; " : "", h, heads_[h]->DescribePathStates());
  }
  for (size_t i = 0; host_ && i < host_->controller_count(); ++i) {
    host::Controller* c = host_->controller(i);
    out += fmt::format("; ctrl {}: {}, {} associations, namespaces [", c->name(),
                       blk::CtrlStateName(c->state()), c->associations());
    for (uint32_t nsid : host_->scanner(i)->nsids()) {
      const host::PathNs* p = host_->scanner(i)->path(nsid);
      out += fmt::format(" {}: {}", nsid, blk::DescribePathState(p->state()));
    }
    out += " ]";
  }
  if (host_ && !host_->errors().empty()) {
    out += "; last host error: " + host_->errors().back().ToString();
  }
  return out;
}

void TcpFabric::AddTotals(ScenarioReport& report) {
  report.ports = o_.ports;
  report.target_restarts = restarts_;
  // Every QoS limiter has every ticket back at quiesce (seed 000 over NVMe/TCP).
  auto check_qos = [&report](const std::string& who, const blk::QosCounters& q) {
    if (q.issued != q.released || q.waiting != 0) {
      report.violations.push_back(fmt::format("{}: {} tickets issued, {} released, {} waiting at quiesce",
                                              who, q.issued, q.released, q.waiting));
    }
  };
  for (mpath::Head* head : heads_) {
    mpath::HeadStats stats = head->TEST_Stats();
    report.failovers += stats.head.failovers;
    report.requeues += stats.head.requeues;
    report.retries += stats.head.retries;
    check_qos(head->name() + " head QoS", stats.head.qos);
  }
  for (size_t i = 0; host_ && i < host_->controller_count(); ++i) {
    report.associations += host_->controller(i)->associations();
    for (int h = 0; h < o_.heads; ++h) {
      if (host::PathNs* p = host_->scanner(i)->path(model_.Nsid(h))) {
        report.fenced_writes += p->TEST_Counters().fenced_writes;
        for (int r = 0; r < o_.reactors; ++r) {
          check_qos(fmt::format("path {} ns {} reactor {} QoS", p->name(), model_.Nsid(h), r),
                    p->qos(static_cast<unsigned>(r)));
        }
      }  // a removed path's limiters asserted nothing held or waiting when destroyed
    }
  }
}

Status TcpFabric::Stop() {
  if (host_) {
    bool host_down = false;
    host_reactors_[0]->Post([&] { host_->Shutdown([&] { host_down = true; }); });
    if (!RunUntil([&] { return host_down; }, 10s)) {
      stuck_ = true;
      return Status(Code::kTimedOut, "host Shutdown did not finish");
    }
    if (!RunUntil([&] { return host_->head_messages_in_flight() == 0; }, 10s)) {
      stuck_ = true;
      return Status(Code::kTimedOut, "head messages still in flight after host Shutdown");
    }
    heads_.clear();
    host_.reset();
  }
  if (!WaitTargetGone()) {
    stuck_ = true;
    return Status(Code::kTimedOut, "the killed target did not close");
  }
  if (target_) {
    bool stopped = false;
    t_->Post([&] { target_->Stop([&] { stopped = true; }); });
    if (!RunUntil([&] { return stopped; }, 10s)) {
      stuck_ = true;
      return Status(Code::kTimedOut, "target Stop did not finish");
    }
    target_.reset();
  }
  world_.RunUntilIdle(10'000'000);
  return Status::Ok();
}

}  // namespace nvmpath::sim
