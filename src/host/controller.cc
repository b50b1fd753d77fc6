#include "host/controller.h"

#include "host/numa_node.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/assert.h"
#include "base/log.h"

namespace nvmpath::host {

using nvme::NvmeStatus;
namespace sc = nvme::sc;

namespace {
constexpr Duration kReadyPollInterval = std::chrono::milliseconds(20);
constexpr uint32_t kAdminInCapsule = 8192;  // NVMe/TCP admin and Fabrics commands (facts 5.3)
const std::string kDiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

bool IsHostAbort(NvmeStatus s) {
  return s.code() == sc::kAbortedByHost || s.code() == sc::kHostPathError;
}
}  // namespace

// One reactor's I/O queue. `qp` is created, used and destroyed only on `reactor`.
Controller::Controller(ControllerOptions options, std::vector<reactor::Reactor*> reactors,
                       unsigned home)
    : options_(std::move(options)), home_(reactors.at(home)) {
  NVMP_ASSERT(!reactors.empty());
  if (options_.name.empty()) options_.name = fmt::format("{}:{}", options_.address, options_.port);
  UpdateWriteFence();
  for (unsigned i = 0; i < reactors.size(); ++i) {
    auto c = std::make_unique<IoChannel>();
    c->ctrl_ = this;
    c->index_ = i;
    c->reactor_ = reactors[i];
    channels_.push_back(std::move(c));
  }
}

Controller::~Controller() {
  NVMP_ASSERT(state_ == CtrlState::kNew || state_ == CtrlState::kDeletingNoIo,
              "destroy a controller only after Delete() finished");
  NVMP_ASSERT(teardown_acks_pending_ == 0);
}

void Controller::SetState(CtrlState to) {
  NVMP_ASSERT(CtrlTransitionAllowed(state_, to), "controller state transition not allowed");
  NVMP_LOG_INFO("ctrl {}: {} -> {}", options_.name, CtrlStateName(state_), CtrlStateName(to));
  state_ = to;
}

void Controller::Notify() {
  if (observer_) observer_->OnStateChanged(this);
}

void Controller::CancelTimer(reactor::TimerId& id) {
  if (id != reactor::kNoTimer) home_->CancelTimer(id);
  id = reactor::kNoTimer;
}

QueuePairOptions Controller::QueueOptions(uint16_t qid) const {
  QueuePairOptions q;
  q.name = fmt::format("ctrl {} q{}", options_.name, qid);
  q.qid = qid;
  q.subnqn = options_.subnqn;
  q.hostnqn = options_.hostnqn;
  q.hostid = options_.hostid;
  q.hdgst = options_.hdgst;
  q.ddgst = options_.ddgst;
  q.connect_timeout = options_.connect_timeout;
  if (qid == 0) {
    q.queue_size = options_.admin_queue_size;
    q.cntlid = nvme::kCntlidDynamic;
    q.kato_ms = static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.kato).count());
    q.in_capsule_max = kAdminInCapsule;
    q.max_transfer_bytes = std::max<uint32_t>(options_.max_transfer_bytes, 64 * 1024);
    q.command_timeout = options_.admin_timeout;
  } else {
    q.queue_size = io_queue_size_;
    q.cntlid = cntlid_;
    q.in_capsule_max = io_in_capsule_;
    q.max_transfer_bytes = max_transfer_;
    q.command_timeout = options_.io_timeout;
  }
  return q;
}

void Controller::UpdateWriteFence() {
  Duration fence = Duration::zero();
  if (options_.TEST_disable_write_fence) {
    fence = Duration::zero();
  } else if (options_.fence_delay >= Duration::zero()) {
    fence = options_.fence_delay;
  } else {
    fence = std::chrono::milliseconds(id_.cqt);  // the last association's; 0 before identify
  }
  write_fence_ns_.store(fence.count(), std::memory_order_relaxed);
}

// ---------------------------------------------------------------- lifecycle

void Controller::Start(std::function<void(Status)> done) {
  NVMP_ASSERT(state_ == CtrlState::kNew);
  start_done_ = std::move(done);
  SetState(CtrlState::kConnecting);
  Notify();
  StartAttempt();
}

void Controller::StartAttempt() {
  NVMP_ASSERT(state_ == CtrlState::kConnecting);
  const uint64_t e = ++epoch_;
  ++associations_;
  connect_dnr_ = false;
  admin_ = std::make_unique<QueuePair>(
      home_, QueueOptions(0),
      QueuePair::Events{
          .on_failed = [this, e](const Status& why) { ErrorRecovery(e, why); },
          .on_timeout = [this, e](const Status& why) { OnAdminTimeout(e, why); }});
  admin_->Connect(options_.address, options_.port, [this, e](Result<uint16_t> r) {
    if (e != epoch_) return;
    if (!r.ok()) {
      connect_dnr_ = admin_->connect_status().dnr();
      return AttemptFailed(e, r.status());
    }
    cntlid_ = *r;
    numa_node_ = NumaNodeOfLocalAddress(admin_->local_address());
    ReadCap(e);
  });
}

void Controller::SetupCommand(uint64_t epoch, const nvme::Command& cmd, std::span<uint8_t> data,
                              const char* what, std::function<void(const CommandResult&)> next) {
  Status st = admin_->Submit(cmd, data, [this, epoch, what, next = std::move(next)](
                                               const CommandResult& r) {
    if (epoch != epoch_) return;
    if (!r.status.ok()) {
      return AttemptFailed(epoch, IoError(fmt::format("ctrl {}: {} failed: {}", options_.name,
                                                      what, r.status.ToString())));
    }
    next(r);
  });
  if (!st.ok()) AttemptFailed(epoch, st);
}

void Controller::ReadCap(uint64_t e) {
  SetupCommand(e, nvme::MakePropertyGet(0, nvme::kRegCap, true), {}, "Property Get CAP",
               [this, e](const CommandResult& r) {
                 cap_.raw = r.result64();
                 if (cap_.mpsmin() != 0) {
                   return AttemptFailed(
                       e, Status(Code::kUnsupported,
                                 fmt::format("ctrl {}: CAP.MPSMIN {} (pages over 4 KiB)",
                                             options_.name, cap_.mpsmin())));
                 }
                 EnableController(e);
               });
}

void Controller::EnableController(uint64_t e) {
  nvme::CcRegister cc;
  cc.set_css(0).set_mps(0).set_ams(0).set_iosqes(6).set_iocqes(4).set_en(1);
  SetupCommand(e, nvme::MakePropertySet(0, nvme::kRegCc, false, cc.raw), {}, "Property Set CC",
               [this, e](const CommandResult&) {
                 const Duration to = std::max<Duration>(
                     std::chrono::milliseconds(cap_.ready_timeout_ms()), std::chrono::milliseconds(500));
                 PollReady(e, home_->now() + to);
               });
}

void Controller::PollReady(uint64_t e, TimePoint deadline) {
  SetupCommand(e, nvme::MakePropertyGet(0, nvme::kRegCsts, false), {}, "Property Get CSTS",
               [this, e, deadline](const CommandResult& r) {
                 nvme::CstsRegister csts{r.dw0};
                 if (csts.cfs()) {
                   return AttemptFailed(e, IoError(fmt::format("ctrl {}: CSTS.CFS (controller "
                                                               "fatal status) while enabling",
                                                               options_.name)));
                 }
                 if (csts.rdy()) return ReadVersionAndIdentify(e);
                 if (home_->now() >= deadline) {
                   return AttemptFailed(e, Status(Code::kTimedOut,
                                                  fmt::format("ctrl {}: CSTS.RDY not set within "
                                                              "CAP.TO ({} ms)",
                                                              options_.name, cap_.ready_timeout_ms())));
                 }
                 step_timer_ = home_->AddTimer(kReadyPollInterval, [this, e, deadline] {
                   step_timer_ = reactor::kNoTimer;
                   if (e == epoch_) PollReady(e, deadline);
                 });
               });
}

void Controller::ReadVersionAndIdentify(uint64_t e) {
  SetupCommand(e, nvme::MakePropertyGet(0, nvme::kRegVs, false), {}, "Property Get VS",
               [this, e](const CommandResult& r) {
                 vs_.raw = r.dw0;
                 auto buf = std::make_shared<std::vector<uint8_t>>(nvme::kIdentifySize);
                 SetupCommand(e, nvme::MakeIdentify(0, nvme::Cns::kController, 0, {}), *buf,
                              "Identify Controller", [this, e, buf](const CommandResult&) {
                                auto id = nvme::IdentifyController::Decode(*buf);
                                if (!id.ok()) return AttemptFailed(e, id.status());
                                OnIdentify(e, *id);
                              });
               });
}

void Controller::OnIdentify(uint64_t e, const nvme::IdentifyController& id) {
  discovery_ = id.cntrltype == nvme::kCntrltypeDiscovery || options_.subnqn == kDiscoveryNqn;
  auto unusable = [&](std::string what) {
    AttemptFailed(e, Status(Code::kUnsupported,
                            fmt::format("ctrl {}: Identify Controller: {}", options_.name, what)));
  };
  // The fabrics rules Linux enforces (nvme_init_identify / nvmf checks).
  if (id.icdoff != 0) return unusable(fmt::format("ICDOFF {} (in-capsule data offset) is not 0", id.icdoff));
  if (!discovery_) {
    if (id.ioccsz < 4) return unusable(fmt::format("IOCCSZ {} is below 4", id.ioccsz));
    if (id.iorcsz < 1) return unusable(fmt::format("IORCSZ {} is below 1", id.iorcsz));
    if (id.kas == 0) return unusable("KAS is 0 on an I/O controller");
  }
  id_ = id;
  UpdateWriteFence();
  max_transfer_ = options_.max_transfer_bytes;
  if (id.mdts != 0 && id.mdts < 20) {
    max_transfer_ = std::min<uint64_t>(max_transfer_, (uint64_t{1} << id.mdts) * 4096);
  }
  io_in_capsule_ = discovery_ ? 0 : std::min<uint32_t>(id.ioccsz * 16 - 64, max_transfer_);
  uint32_t qs = std::min<uint32_t>(options_.queue_size, uint32_t(cap_.mqes()) + 1);
  if (id.maxcmd != 0) qs = std::min<uint32_t>(qs, id.maxcmd);
  io_queue_size_ = static_cast<uint16_t>(std::max<uint32_t>(qs, 2));
  if (discovery_) return ConfigureAsyncEvents(e);
  SetNumberOfQueues(e);
}

void Controller::SetNumberOfQueues(uint64_t e) {
  const auto n = static_cast<uint16_t>(channels_.size());
  SetupCommand(e, nvme::MakeSetNumberOfQueues(0, n, n), {}, "Set Features Number of Queues",
               [this, e, n](const CommandResult& r) {
                 const uint32_t nsqa = (r.dw0 & 0xFFFF) + 1;
                 const uint32_t ncqa = (r.dw0 >> 16) + 1;
                 const uint32_t granted = std::min(nsqa, ncqa);
                 if (granted < n) {
                   return AttemptFailed(
                       e, Status(Code::kUnsupported,
                                 fmt::format("ctrl {}: controller granted {} I/O queues, the host "
                                             "needs {} (one per reactor)",
                                             options_.name, granted, n)));
                 }
                 ConnectIoQueues(e);
               });
}

void Controller::ConnectIoQueues(uint64_t e) {
  io_queues_pending_ = static_cast<unsigned>(channels_.size());
  for (auto& cp : channels_) {
    IoChannel* s = cp.get();
    QueuePairOptions qo = QueueOptions(static_cast<uint16_t>(s->index_ + 1));
    // The queue's stream must be created on its own reactor: connect from there.
    s->reactor_->Post([this, s, e, qo] {
      NVMP_ASSERT(!s->qp_, "I/O queue of an old association still present");
      auto to_home = [this, e](const Status& why) {
        home_->Post([this, e, why] { ErrorRecovery(e, why); });
      };
      s->qp_ = std::make_unique<QueuePair>(
          s->reactor_, qo, QueuePair::Events{.on_failed = to_home, .on_timeout = to_home});
      s->qp_->Connect(options_.address, options_.port, [this, s, e](Result<uint16_t> r) {
        Status st = r.ok() ? Status::Ok() : r.status();
        home_->Post([this, s, e, st] { OnIoQueueConnected(e, s->index_, st); });
      });
    });
  }
}

void Controller::OnIoQueueConnected(uint64_t e, unsigned shard, const Status& st) {
  if (e != epoch_) return;
  if (!st.ok()) {
    return AttemptFailed(e, st.WithContext(fmt::format("I/O queue {}", shard + 1)));
  }
  NVMP_ASSERT(io_queues_pending_ > 0);
  if (--io_queues_pending_ == 0) ConfigureAsyncEvents(e);
}

void Controller::ConfigureAsyncEvents(uint64_t e) {
  const uint32_t wanted = nvme::kOaesNsAttribute | nvme::kOaesAnaChange |
                          nvme::kOaesFwActivation | nvme::kOaesDiscoveryLogChange;
  const uint32_t aec = id_.oaes & wanted;
  if (aec == 0) return BecomeLive(e);
  SetupCommand(e, nvme::MakeSetFeatures(0, nvme::FeatureId::kAsyncEventConfig, aec), {},
               "Set Features Async Event Configuration",
               [this, e](const CommandResult&) { BecomeLive(e); });
}

void Controller::BecomeLive(uint64_t e) {
  ArmAer(e);
  SetState(CtrlState::kLive);
  nr_reconnects_ = 0;
  failfast_expired_ = false;
  CancelTimer(failfast_timer_);
  last_error_ = Status::Ok();
  ScheduleKeepAlive(e);
  Notify();
  if (start_done_) {
    auto done = std::move(start_done_);
    start_done_ = nullptr;
    done(Status::Ok());
  }
}

// ---------------------------------------------------------------- AER and keep-alive

void Controller::ArmAer(uint64_t e) {
  Status st = admin_->Submit(
      nvme::MakeAsyncEventRequest(0), {},
      [this, e](const CommandResult& r) {
        if (e != epoch_ || IsHostAbort(r.status)) return;
        if (!r.status.ok()) {
          NVMP_LOG_WARN("ctrl {}: AER completed with {}; not re-armed", options_.name,
                        r.status.ToString());
          return;
        }
        ArmAer(e);  // before telling the observer, so no event is missed while it works
        if (observer_) observer_->OnAsyncEvent(this, AsyncEvent{r.dw0});
      },
      QueuePair::kNoTimeout);
  if (!st.ok()) NVMP_LOG_WARN("ctrl {}: AER not armed: {}", options_.name, st.ToString());
}

void Controller::ScheduleKeepAlive(uint64_t e) {
  if (options_.kato <= Duration::zero()) return;
  keepalive_timer_ = home_->AddTimer(options_.kato / 2, [this, e] {
    keepalive_timer_ = reactor::kNoTimer;
    if (e != epoch_ || state_ != CtrlState::kLive) return;
    ++keep_alives_;
    keep_alive_deadlines_.push_back(home_->now() + options_.kato);
    // A keep-alive that does not come back within KATO means the association is gone.
    Status st = admin_->Submit(
        nvme::MakeKeepAlive(0), {},
        [this, e](const CommandResult& r) {
          if (!keep_alive_deadlines_.empty()) keep_alive_deadlines_.pop_front();
          if (e != epoch_) return;
          if (!r.status.ok()) {
            ErrorRecovery(e, Unavailable(fmt::format("ctrl {}: keep-alive failed: {}",
                                                     options_.name, r.status.ToString())));
          }
        },
        options_.kato);
    if (!st.ok()) NVMP_LOG_WARN("ctrl {}: keep-alive not sent: {}", options_.name, st.ToString());
    ScheduleKeepAlive(e);
  });
}

// ---------------------------------------------------------------- recovery and deletion

void Controller::OnAdminTimeout(uint64_t e, const Status& why) {
  // The queue names only the command that timed out; a keep-alive still out past its own
  // deadline is the one (what operators count as a keep-alive timeout).
  if (e == epoch_ && !keep_alive_deadlines_.empty() &&
      home_->now() >= keep_alive_deadlines_.front()) {
    ++keep_alive_timeouts_;
  }
  ErrorRecovery(e, why);
}

void Controller::AttemptFailed(uint64_t e, const Status& why) {
  if (e != epoch_ || state_ != CtrlState::kConnecting) return;
  last_error_ = why;
  NVMP_LOG_WARN("ctrl {}: connect attempt failed: {}", options_.name, why.ToString());
  TeardownQueues(why, [this, why] {
    if (state_ != CtrlState::kConnecting) return;
    const bool first = static_cast<bool>(start_done_);
    if (first) {
      auto done = std::move(start_done_);
      start_done_ = nullptr;
      done(why);
      if (!options_.retry_initial_connect) return Delete(nullptr);
    }
    ++nr_reconnects_;
    if (!ShouldReconnect()) {
      NVMP_LOG_WARN("ctrl {}: giving up after {} attempts{}", options_.name, nr_reconnects_,
                    connect_dnr_ ? " (Connect failed with DNR)" : "");
      return Delete(nullptr);
    }
    ScheduleReconnect();
  });
}

bool Controller::ShouldReconnect() const {
  if (connect_dnr_) return false;
  if (options_.ctrl_loss_tmo < Duration::zero()) return true;
  const Duration delay = std::max<Duration>(options_.reconnect_delay, std::chrono::milliseconds(1));
  const auto max = static_cast<uint32_t>((options_.ctrl_loss_tmo + delay - Duration(1)) / delay);
  return nr_reconnects_ < max;
}

void Controller::ScheduleReconnect() {
  CancelTimer(reconnect_timer_);
  reconnect_timer_ = home_->AddTimer(options_.reconnect_delay, [this] {
    reconnect_timer_ = reactor::kNoTimer;
    if (state_ == CtrlState::kConnecting) StartAttempt();
  });
}

void Controller::Reset(const Status& why) { ErrorRecovery(epoch_, why); }

void Controller::SetLossTimeouts(Duration ctrl_loss_tmo, Duration fast_io_fail_tmo) {
  options_.ctrl_loss_tmo = ctrl_loss_tmo;
  options_.fast_io_fail_tmo = fast_io_fail_tmo;
}

void Controller::ErrorRecovery(uint64_t e, const Status& why) {
  if (e != epoch_) return;
  if (state_ == CtrlState::kConnecting) return AttemptFailed(e, why);
  if (state_ != CtrlState::kLive) return;
  last_error_ = why;
  NVMP_LOG_WARN("ctrl {}: error recovery: {}", options_.name, why.ToString());
  SetState(CtrlState::kResetting);
  Notify();
  TeardownQueues(why, [this] {
    if (state_ != CtrlState::kResetting) return;  // deleted meanwhile
    SetState(CtrlState::kConnecting);
    if (options_.fast_io_fail_tmo >= Duration::zero()) {
      CancelTimer(failfast_timer_);
      failfast_timer_ = home_->AddTimer(options_.fast_io_fail_tmo, [this] {
        failfast_timer_ = reactor::kNoTimer;
        if (state_ != CtrlState::kConnecting) return;
        failfast_expired_ = true;
        NVMP_LOG_INFO("ctrl {}: fast_io_fail_tmo expired", options_.name);
        Notify();
      });
    }
    Notify();
    ScheduleReconnect();
  });
}

void Controller::TeardownQueues(const Status& why, std::function<void()> then) {
  ++epoch_;  // every callback of the old association is now ignored
  CancelTimer(step_timer_);
  CancelTimer(keepalive_timer_);
  io_queues_pending_ = 0;
  if (then) after_teardown_.push_back(std::move(then));
  if (admin_) {
    admin_->Fail(why);
    // We may be inside one of its callbacks: destroy it from a later loop turn.
    home_->Post([qp = std::shared_ptr<QueuePair>(std::move(admin_))] {});
  }
  teardown_acks_pending_ += static_cast<uint32_t>(channels_.size());
  for (auto& cp : channels_) {
    IoChannel* s = cp.get();
    s->reactor_->Post([this, s, why] {
      if (s->qp_) {
        s->qp_->Fail(why);  // outstanding I/O completes now with 0x371
        s->qp_.reset();
      }
      home_->Post([this] {
        NVMP_ASSERT(teardown_acks_pending_ > 0);
        if (--teardown_acks_pending_ > 0) return;
        auto conts = std::move(after_teardown_);
        after_teardown_.clear();
        for (auto& c : conts) c();
      });
    });
  }
}

void Controller::Delete(std::function<void()> done) {
  if (done) delete_done_.push_back(std::move(done));
  if (state_ == CtrlState::kDeleting) return;
  if (state_ == CtrlState::kDeletingNoIo) return FinishDelete();
  SetState(CtrlState::kDeleting);
  CancelTimer(reconnect_timer_);
  CancelTimer(failfast_timer_);
  Notify();
  if (start_done_) {
    auto d = std::move(start_done_);
    start_done_ = nullptr;
    d(Status(Code::kCancelled, fmt::format("ctrl {}: deleted", options_.name)));
  }
  TeardownQueues(Unavailable(fmt::format("ctrl {}: deleted", options_.name)), [this] {
    SetState(CtrlState::kDeletingNoIo);
    Notify();
    FinishDelete();
  });
}

void Controller::FinishDelete() {
  auto done = std::move(delete_done_);
  delete_done_.clear();
  for (auto& d : done) d();
}

// ---------------------------------------------------------------- I/O

Status Controller::IoChannel::Submit(const nvme::Command& cmd, std::span<uint8_t> data,
                                     Callback done) {
  if (!qp_ || !qp_->live()) {
    reactor_->Post([done = std::move(done)] {
      done(CommandResult{NvmeStatus::Of(sc::kHostPathError)});
    });
    return Status::Ok();
  }
  if (data.size() > ctrl_->max_transfer_) {
    return InvalidArgument(fmt::format("{} bytes over the controller's maximum transfer of {}",
                                       data.size(), ctrl_->max_transfer_));
  }
  return qp_->Submit(cmd, data, std::move(done));
}

// ---------------------------------------------------------------- admin helpers

Status Controller::SubmitAdmin(const nvme::Command& cmd, std::span<uint8_t> data, Callback done,
                               Duration timeout) {
  if (!admin_ || state_ != CtrlState::kLive) {
    home_->Post([done = std::move(done)] { done(CommandResult{NvmeStatus::Of(sc::kHostPathError)}); });
    return Status::Ok();
  }
  return admin_->Submit(cmd, data, std::move(done), timeout);
}

}  // namespace nvmpath::host
