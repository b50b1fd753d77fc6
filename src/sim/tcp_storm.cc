#include "sim/tcp_storm.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "base/assert.h"
#include "base/log.h"
#include "sim/tcp_storm_scenario.h"

namespace nvmpath::sim {
namespace tcp_storm_internal {

using namespace std::chrono_literals;

TcpStorm::~TcpStorm() {
  if (!dir_.empty() && !hung_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void TcpStorm::Violation(const std::string& what) {
  own_violations_.push_back(what);
  Log("VIOLATION: " + what);
}

void TcpStorm::Expect(const Status& st, const std::string& name) {
  if (!st.ok()) Violation(fmt::format("target {} failed: {}", name, st.ToString()));
}

bool TcpStorm::RunUntil(const std::function<bool()>& done, Duration limit) {
  constexpr uint64_t kMaxEvents = 20'000'000;
  const uint64_t start = world_.events_run();
  bool ok = world_.RunUntil(
      [&] {
        if (world_.events_run() - start > kMaxEvents) spinning_ = true;
        return spinning_ || done();
      },
      limit);
  return ok && !spinning_;
}

Status TcpStorm::MakeFiles() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = fmt::format("{}/nvmpath-tcp-storm-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("mkdtemp " + tmpl, errno);
  dir_ = tmpl;
  for (int h = 0; h < o_.heads; ++h) {
    NsModel& ns = ns_[h];
    ns.file = fmt::format("{}/ns{}", dir_, Nsid(h));
    ns.size_bytes = o_.blocks * o_.block_size;
    int fd = ::open(ns.file.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd < 0) return ErrnoStatus("create " + ns.file, errno);
    int rc = ::ftruncate(fd, static_cast<off_t>(ns.size_bytes));
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus("ftruncate " + ns.file, err);
  }
  return Status::Ok();
}

target::NamespaceConfig TcpStorm::NsConfig(int h) const {
  target::NamespaceConfig ns;
  ns.nsid = Nsid(h);
  ns.backend = target::BackendKind::kFile;
  ns.path = ns_[h].file;
  ns.block_size = o_.block_size;
  ns.ana_group = Group(h);
  return ns;
}

// The config a restarted target comes up with: the ports, namespaces and ANA states the storm
// has set so far (as an operator's start script would re-apply them); faults do not survive.
target::TargetConfig TcpStorm::ConfigFromModel() const {
  target::TargetConfig c;
  for (int p = 0; p < o_.ports; ++p) {
    c.ports.push_back(
        {.id = PortId(p), .address = kAddress, .port = TcpPort(p), .enabled = ports_[p].enabled});
    for (int h = 0; h < o_.heads; ++h) {
      c.ana.push_back({.port_id = PortId(p), .group = Group(h), .state = ana_[p][h]});
    }
  }
  target::SubsystemConfig s;
  s.nqn = kSubnqn;
  s.serial = "nvmpath-storm";
  for (int h = 0; h < o_.heads; ++h) {
    if (ns_[h].present) s.namespaces.push_back(NsConfig(h));
  }
  c.subsystems.push_back(s);
  c.cqt = kCqt;
  return c;
}

void TcpStorm::StartTarget() {
  NVMP_ASSERT(!target_ && !target_dying_);
  auto t = target::Target::Create(ConfigFromModel(), {t_});
  if (!t.ok()) {
    Violation("target Create failed: " + t.status().ToString());
    return;
  }
  target_ = std::move(*t);
  Status st = target_->Start();
  if (!st.ok()) {
    Violation("target Start failed: " + st.ToString());
    target_.reset();
  }
}

Status TcpStorm::StartHost() {
  mpath::MultipathHostOptions o;
  o.subnqn = kSubnqn;
  o.hostnqn = kHostnqn;
  o.hostid[15] = 0x5;
  for (int p = 0; p < o_.ports; ++p) o.paths.push_back({kAddress, TcpPort(p)});
  o.controller.io_timeout = kIoTimeout;
  o.controller.kato = kKato;
  o.controller.reconnect_delay = kReconnectDelay;
  o.controller.connect_timeout = kConnectTimeout;
  o.controller.admin_timeout = kAdminTimeout;
  o.controller.ctrl_loss_tmo = Duration(-1);  // a path never gives up: every fault heals
  o.controller.retry_initial_connect = true;
  // The storm black-holes links, and a write held in a black-holed link reaches the target when
  // the link flows again, after the host gave the connection up. The target drops such bytes
  // only once its keep-alive timer has closed the association, so the fence must cover KATO as
  // well as CQT (docs/ARCHITECTURE.md "Stale-write fencing", what the fence does not cover).
  o.controller.fence_delay = o_.fence_delay.value_or(kKato + kCqt);
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
  host_ = std::make_unique<mpath::MultipathHost>(o, host_reactors_, 0);
  std::optional<Status> started;
  host_reactors_[0]->Post([&] { host_->Start([&](Status s) { started = s; }); });
  if (!RunUntil([&] { return started.has_value(); }, 5s)) {
    return Status(Code::kTimedOut, "host Start did not finish");
  }
  if (!started->ok()) return *started;
  for (int h = 0; h < o_.heads; ++h) {
    mpath::Head* head = host_->head(Nsid(h));
    if (head == nullptr)
      return Status(Code::kNotFound, fmt::format("no head for NSID {}", Nsid(h)));
    heads_.push_back(head);
  }
  if (!RunUntil([&] { return AllPathsBack(); }, 2s)) {
    return Status(Code::kTimedOut, "paths not usable after Start: " + DescribePaths());
  }
  return Status::Ok();
}

// The path of head `h` through port `p` is back: live, attached, and in the ANA state the target
// gives it (not pending a re-read).
bool TcpStorm::PathBack(int p, int h) const {
  host::PathNs* path = host_->scanner(static_cast<size_t>(p))->path(Nsid(h));
  if (path == nullptr) return false;
  blk::PathState s = path->state();
  return s.ctrl == blk::CtrlState::kLive && s.ready && !s.ana_pending && s.ana == ana_[p][h];
}

bool TcpStorm::AllPathsBack() const {
  for (int h = 0; h < o_.heads; ++h) {
    for (int p = 0; p < o_.ports; ++p) {
      if (!PathBack(p, h)) return false;
    }
    if (!heads_.empty() &&
        (heads_[h]->path_count() != static_cast<size_t>(o_.ports) || !heads_[h]->HasUsablePath())) {
      return false;
    }
  }
  return true;
}

std::string TcpStorm::DescribePaths() const {
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

void TcpStorm::ScheduleEvent() {
  const uint64_t mean_us = Us(o_.mean_gap);
  t_->AddTimer(std::chrono::microseconds(rng_.Between(1, 2 * mean_us)), [this] { Event(); });
}

void TcpStorm::Event() {
  const int p = static_cast<int>(rng_.Below(o_.ports));
  const int h = static_cast<int>(rng_.Below(o_.heads));
  const uint64_t dice = rng_.Below(100);
  if (dice < 8) {
    TogglePort(p);
  } else if (dice < 22) {
    FlipAna(p, h);
  } else if (dice < 30) {
    RemoveNs(h);
  } else if (dice < 34) {
    Resize(h);
  } else if (dice < 47) {
    InjectError(p, h);
  } else if (dice < 53) {
    StallResponses(p);
  } else if (dice < 57) {
    DelayResponses(p);
  } else if (dice < 63) {
    DropConnections(p);
  } else if (dice < 67) {
    LateWrites(p);
  } else if (dice < 72) {
    CutLink(p);
  } else if (dice < 76) {
    RefuseLink(p);
  } else if (dice < 80) {
    StallLink(p);
  } else if (dice < 86) {
    SlowLink(p);
  } else if (dice < 88) {
    ToggleChunking();
  } else if (dice < 93) {
    KillTarget();
  } else {
    FlipAna(p, h);  // ANA changes are the storm's bread and butter (058)
  }
  if (o_.TEST_target_loses_data) LoseData();
  CheckAfterEvent();
  if (++events_done_ < o_.events) {
    ScheduleEvent();
  } else {
    events_over_ = true;
  }
}

// The checker records as Bios complete; after each event, name what broke since the last one, so
// the timeline shows which fault it followed.
void TcpStorm::CheckAfterEvent() {
  const auto& v = checker_.violations();
  for (; violations_seen_ < v.size(); ++violations_seen_) {
    Log(fmt::format("VIOLATION after event {}: {}", events_done_ + 1, v[violations_seen_]));
  }
}

void TcpStorm::Heal() {
  healed_ = true;
  Log("heal: target up, every port enabled and live, every namespace present, links clean");
  for (int p = 0; p < o_.ports; ++p) {
    ports_[p] = PortModel{};
    net().SetRefuse(kAddress, TcpPort(p), false);
    net().Stall(kAddress, TcpPort(p), false);
    net().SetLatency(kAddress, TcpPort(p), o_.link_latency);
    for (int h = 0; h < o_.heads; ++h) {
      ana_[p][h] = p == h % o_.ports ? AnaState::kOptimized : AnaState::kNonOptimized;
    }
  }
  std::vector<bool> was_present;
  for (NsModel& ns : ns_) {
    was_present.push_back(ns.present);
    ns.present = true;
  }
  HealTarget(std::move(was_present));
}

void TcpStorm::HealTarget(std::vector<bool> was_present) {
  if (target_dying_) {  // killed just before: wait until the old one is gone
    t_->AddTimer(100us, [this, was_present] { HealTarget(was_present); });
    return;
  }
  if (!target_) {
    restart_pending_ = false;
    ++restarts_;
    StartTarget();  // from the healed model
    heal_applied_ = true;
    return;
  }
  Expect(target_->SetStalled(std::nullopt, false), "SetStalled");
  Expect(target_->SetResponseDelay(std::nullopt, Duration(0)), "SetResponseDelay");
  for (int p = 0; p < o_.ports; ++p) {
    Expect(target_->SetStalled(PortId(p), false), "SetStalled");
    Expect(target_->SetResponseDelay(PortId(p), Duration(0)), "SetResponseDelay");
    Expect(target_->SetPortEnabled(PortId(p), true), "SetPortEnabled");
    Expect(target_->SetLateWrites(PortId(p), 0, Duration(0)), "SetLateWrites");
    for (int h = 0; h < o_.heads; ++h) {
      Expect(target_->SetAnaState(PortId(p), Group(h), ana_[p][h]), "SetAnaState");
    }
  }
  for (int h = 0; h < o_.heads; ++h) {
    if (!was_present[h]) Expect(target_->AddNamespace(kSubnqn, NsConfig(h)), "AddNamespace");
  }
  heal_applied_ = true;
}

void TcpStorm::Teardown() {
  bool host_down = false;
  host_reactors_[0]->Post([&] { host_->Shutdown([&] { host_down = true; }); });
  if (!RunUntil([&] { return host_down; }, kSettleLimit)) {
    Violation("host Shutdown did not finish");
    hung_ = true;
    return;
  }
  if (!RunUntil([&] { return host_->head_messages_in_flight() == 0; }, kSettleLimit)) {
    Violation("head messages still in flight after host Shutdown");
    hung_ = true;
    return;
  }
  workloads_.clear();
  heads_.clear();
  host_.reset();
  if (target_) {
    bool stopped = false;
    t_->Post([&] { target_->Stop([&] { stopped = true; }); });
    if (!RunUntil([&] { return stopped; }, kSettleLimit)) {
      Violation("target Stop did not finish");
      hung_ = true;
      return;
    }
    target_.reset();
  }
  world_.RunUntilIdle(10'000'000);
}

TcpStormResult TcpStorm::Run() {
  TcpStormResult result;
  result.seed = o_.seed;
  const TimePoint start = world_.now();
  if (o_.heads == 0) o_.heads = static_cast<int>(rng_.Between(1, 2));
  if (o_.ports == 0) o_.ports = static_cast<int>(rng_.Between(2, 4));
  NVMP_ASSERT(o_.heads >= 1 && o_.heads <= 4 && o_.ports >= 2 && o_.ports <= 4);
  NVMP_ASSERT(o_.reactors >= 1 && o_.blocks >= 8 * static_cast<uint64_t>(o_.reactors));
  result.heads = o_.heads;
  result.ports = o_.ports;

  for (int r = 0; r < o_.reactors; ++r) host_reactors_.push_back(world_.AddReactor());
  t_ = world_.AddReactor();
  net().SetDefaultLatency(o_.link_latency);
  ports_.resize(o_.ports);
  ns_.resize(o_.heads);
  ana_.assign(o_.ports, std::vector<AnaState>(o_.heads, AnaState::kInaccessible));
  for (int h = 0; h < o_.heads; ++h) {
    ana_[h % o_.ports][h] = AnaState::kOptimized;
    ana_[(h + 1) % o_.ports][h] = AnaState::kNonOptimized;
  }
  if (Status st = MakeFiles(); !st.ok()) {
    Violation("set-up: " + st.ToString());
    result.violations = own_violations_;
    return result;
  }
  t_->Post([this] { StartTarget(); });
  world_.RunUntilIdle(1000);
  if (!target_) {
    result.violations = own_violations_;
    return result;  // nothing was started that needs tearing down
  }
  if (Status st = StartHost(); !st.ok()) {
    Violation("set-up: " + st.ToString());
    Teardown();
    result.violations = own_violations_;
    return result;
  }

  const uint64_t per = o_.blocks / o_.reactors;
  for (int h = 0; h < o_.heads; ++h) {
    for (int r = 0; r < o_.reactors; ++r) {
      VerifyWorkloadOptions wo;
      wo.head_id = static_cast<uint32_t>(h);
      wo.first_lba = per * r;
      wo.blocks = per;
      wo.block_size = o_.block_size;
      wo.queue_depth = o_.queue_depth;
      wo.seed = o_.seed * 1000 + h * 10 + r;
      wo.error_backoff = 1ms;
      workloads_.push_back(std::make_unique<VerifyWorkload>(*heads_[h], *host_reactors_[r], wo,
                                                            &checker_, &next_bio_id_));
      VerifyWorkload* w = workloads_.back().get();
      host_reactors_[r]->Post([w] { w->Start(); });
    }
  }

  auto in_flight = [&] {
    uint64_t n = 0;
    for (auto& w : workloads_) n += w->in_flight();
    return n;
  };
  auto hang = [&](const std::string& phase) {
    checker_.OnDataError(fmt::format(
        "scenario did not finish ({}: {}): {} I/Os still in flight; {}", phase,
        spinning_ ? "livelock, 20M events without progress" : "hang, virtual time limit",
        in_flight(), DescribePaths()));
    hung_ = true;
    result.violations = own_violations_;
    for (const auto& v : checker_.violations()) result.violations.push_back(v);
    return result;
  };

  ScheduleEvent();
  if (!RunUntil([&] { return events_over_; }, 60s)) return hang("events");
  result.events = static_cast<uint64_t>(events_done_);

  t_->Post([this] { Heal(); });
  if (!RunUntil([&] { return heal_applied_; }, kSettleLimit) || !target_) {
    return hang("heal");
  }
  // Stop first: with no new I/O, waiting for paths costs little wall time.
  int left = static_cast<int>(workloads_.size());
  for (size_t i = 0; i < workloads_.size(); ++i) {
    VerifyWorkload* w = workloads_[i].get();
    host_reactors_[i % o_.reactors]->Post([w, &left] { w->Stop([&left] { --left; }); });
  }
  if (!RunUntil([&] { return left == 0; }, kSettleLimit)) return hang("drain");
  if (!RunUntil([&] { return AllPathsBack(); }, kSettleLimit)) {
    Violation("paths did not come back after the heal: " + DescribePaths());
  }
  left = static_cast<int>(workloads_.size());
  for (size_t i = 0; i < workloads_.size(); ++i) {
    VerifyWorkload* w = workloads_[i].get();
    host_reactors_[i % o_.reactors]->Post([w, &left] { w->VerifyAll([&left] { --left; }); });
  }
  if (!RunUntil([&] { return left == 0; }, kSettleLimit)) return hang("verify");

  checker_.CheckQuiesced();
  for (auto& w : workloads_) {
    result.ios += w->stats().ios;
    result.blocks_verified += w->stats().blocks_verified;
    result.mismatches += w->stats().mismatches;
  }
  for (mpath::Head* head : heads_) {
    mpath::HeadStats stats = head->TEST_Stats();
    result.failovers += stats.head.failovers;
    result.requeues += stats.head.requeues;
    CheckQosQuiesced(head->name() + " head QoS", stats.head.qos);
  }
  for (size_t i = 0; i < host_->controller_count(); ++i) {
    for (int h = 0; h < o_.heads; ++h) {
      host::PathNs* p = host_->scanner(i)->path(Nsid(h));
      if (p == nullptr) continue;  // a removed path's limiters asserted this when destroyed
      for (int r = 0; r < o_.reactors; ++r) {
        CheckQosQuiesced(fmt::format("path {} ns {} reactor {} QoS", p->name(), Nsid(h), r),
                         p->qos(static_cast<unsigned>(r)));
      }
    }
  }
  for (size_t i = 0; i < host_->controller_count(); ++i) {
    result.associations += host_->controller(i)->associations();
    for (int h = 0; h < o_.heads; ++h) {
      if (host::PathNs* p = host_->scanner(i)->path(Nsid(h))) {
        result.fenced_writes += p->TEST_Counters().fenced_writes;
      }
    }
  }
  result.app_errors = checker_.app_errors();
  result.target_restarts = restarts_;
  result.virtual_us = Us(world_.now() - start);
  Teardown();
  result.violations = own_violations_;
  for (const auto& v : checker_.violations()) result.violations.push_back(v);
  return result;
}

void TcpStorm::CheckQosQuiesced(const std::string& who, const blk::QosCounters& q) {
  if (q.issued != q.released || q.waiting != 0) {
    Violation(fmt::format("{}: {} tickets issued, {} released, {} waiting at quiesce", who,
                          q.issued, q.released, q.waiting));
  }
}

}  // namespace tcp_storm_internal

TcpStormResult RunTcpStorm(const TcpStormOptions& options,
                           const std::function<void(const std::string&)>& on_event) {
  const base::LogLevel level = base::CurrentLogLevel();
  if (options.quiet_logs) base::SetLogLevel(base::LogLevel::kOff);
  using tcp_storm_internal::TcpStorm;
  auto storm = std::make_unique<TcpStorm>(options, on_event);
  TcpStormResult result = storm->Run();
  base::SetLogLevel(level);
  // A hung run cannot be torn down (Bios are still owned by paths, streams by the world): keep
  // it reachable for the life of the process, so leak checkers stay quiet, and report the seed.
  if (storm->hung()) {
    static auto* hung_runs = new std::vector<std::unique_ptr<TcpStorm>>;
    hung_runs->push_back(std::move(storm));
  }
  return result;
}

std::string TcpStormReplayCommand(uint64_t seed) {
  return fmt::format("nvmpath sim --scenario tcp-storm --seeds {}", seed);
}

}  // namespace nvmpath::sim
