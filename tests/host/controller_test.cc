// host::Controller against the project's target (target::Target) over reactor::Sim, and once over
// reactor::Uring on 127.0.0.1.
//
// Goal: the controller's life as Linux's fabrics host lives it — bring-up to live (admin queue,
// CC.EN/CSTS.RDY, Identify, one I/O queue per reactor, AER), admin helpers, I/O round trips on
// every reactor, keep-alive traffic, error recovery after the target drops its connections,
// reconnect attempts every reconnect_delay until ctrl_loss_tmo deletes the controller, and the
// fast_io_fail flag. Method: host and target run in one SimWorld (two host reactors, one target
// reactor); the virtual clock is advanced; target faults are set through its control methods.
#include "host/controller.h"

#include <gtest/gtest.h>

#include <optional>

#include "reactor/sim.h"
#include "reactor/sim_network.h"
#include "reactor/uring.h"
#include "target/target.h"

namespace nvmpath::host {
namespace {

using nvme::NvmeStatus;
namespace sc = nvme::sc;

constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:ctrl-test";
constexpr char kHostnqn[] = "nqn.2024-01.io.nvmpath:host";
constexpr uint32_t kBs = 512;

std::vector<uint8_t> Pattern(size_t n, uint32_t salt) {
  std::vector<uint8_t> v(n);
  uint32_t x = salt * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1103515245u + 12345u;
    b = static_cast<uint8_t>(x >> 16);
  }
  return v;
}

// A fixed port on Sim, so a re-enabled port comes back where the host looks for it.
target::TargetConfig MakeTargetConfig(uint16_t port) {
  target::TargetConfig c;
  c.ports = {{.id = 1, .address = "127.0.0.1", .port = port}};
  target::SubsystemConfig s;
  s.nqn = kSubnqn;
  s.namespaces = {{.nsid = 1, .size_bytes = 4 << 20, .block_size = kBs, .ana_group = 1},
                  {.nsid = 2, .size_bytes = 1 << 20, .block_size = kBs, .ana_group = 2}};
  c.subsystems.push_back(s);
  return c;
}

struct StateLog : ControllerObserver {
  std::vector<std::pair<TimePoint, CtrlState>> states;
  std::vector<AsyncEvent> events;
  reactor::Reactor* clock = nullptr;
  void OnStateChanged(Controller* c) override { states.emplace_back(clock->now(), c->state()); }
  void OnAsyncEvent(Controller*, const AsyncEvent& e) override { events.push_back(e); }
  int Count(CtrlState s) const {
    int n = 0;
    for (auto& [t, x] : states) n += x == s;
    return n;
  }
};

class ControllerSimTest : public ::testing::Test {
 protected:
  ControllerSimTest() : world_(7) {
    h0_ = world_.AddReactor();
    h1_ = world_.AddReactor();
    t_ = world_.AddReactor();
    log_.clock = h0_;
    auto t = target::Target::Create(MakeTargetConfig(4420), {t_});
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    EXPECT_TRUE(target_->Start().ok());
    port_ = target_->BoundPort(1);
    opts_.address = "127.0.0.1";
    opts_.port = port_;
    opts_.subnqn = kSubnqn;
    opts_.hostnqn = kHostnqn;
    opts_.hostid[15] = 1;
    opts_.reconnect_delay = std::chrono::seconds(1);
    opts_.ctrl_loss_tmo = std::chrono::seconds(5);
  }
  ~ControllerSimTest() override {
    if (ctrl_ && ctrl_->state() != CtrlState::kNew && ctrl_->state() != CtrlState::kDeletingNoIo) {
      bool done = false;
      ctrl_->Delete([&] { done = true; });
      EXPECT_TRUE(world_.RunUntil([&] { return done; }, std::chrono::seconds(5)));
    }
    ctrl_.reset();
    bool stopped = false;
    target_->Stop([&] { stopped = true; });
    world_.RunUntil([&] { return stopped; }, std::chrono::seconds(5));
  }

  Status StartController() {
    ctrl_ = std::make_unique<Controller>(opts_, std::vector<reactor::Reactor*>{h0_, h1_}, 0);
    ctrl_->SetObserver(&log_);
    std::optional<Status> st;
    ctrl_->Start([&](Status s) { st = s; });
    EXPECT_TRUE(world_.RunUntil([&] { return st.has_value(); }, std::chrono::seconds(30)));
    return st.value_or(Internal("no start result"));
  }

  // Runs `fn` on the target's control reactor.
  void OnTarget(std::function<void()> fn) {
    bool done = false;
    t_->Post([&] {
      fn();
      done = true;
    });
    ASSERT_TRUE(world_.RunUntil([&] { return done; }, std::chrono::seconds(1)));
  }

  // The controller's I/O channel on `r` (tests look it up; the data path keeps it).
  Controller::IoChannel& ChannelOn(reactor::Reactor* r) {
    for (unsigned i = 0; i < ctrl_->io_queue_count(); ++i) {
      if (ctrl_->io_channel(i).reactor() == r) return ctrl_->io_channel(i);
    }
    ADD_FAILURE() << "no I/O channel on that reactor";
    return ctrl_->io_channel(0);
  }

  // Runs one I/O command on reactor `r` and waits for it.
  CommandResult Io(reactor::Sim* r, const nvme::Command& cmd, std::span<uint8_t> data) {
    std::optional<CommandResult> res;
    r->Post([&] {
      Status st = ChannelOn(r).Submit(cmd, data, [&](const CommandResult& x) { res = x; });
      EXPECT_TRUE(st.ok()) << st.ToString();
    });
    EXPECT_TRUE(world_.RunUntil([&] { return res.has_value(); }, std::chrono::seconds(60)));
    return res.value_or(CommandResult{NvmeStatus::Of(sc::kInternalError)});
  }

  reactor::SimWorld world_;
  reactor::Sim* h0_;
  reactor::Sim* h1_;
  reactor::Sim* t_;
  std::unique_ptr<target::Target> target_;
  uint16_t port_ = 0;
  ControllerOptions opts_;
  std::unique_ptr<Controller> ctrl_;
  StateLog log_;
};

TEST_F(ControllerSimTest, BringUpToLive) {
  Status st = StartController();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ctrl_->state(), CtrlState::kLive);
  EXPECT_EQ(ctrl_->identify().subnqn, kSubnqn);
  EXPECT_NE(ctrl_->cntlid(), 0xFFFF);
  EXPECT_EQ(ctrl_->identify().cntlid, ctrl_->cntlid());
  EXPECT_EQ(ctrl_->io_queue_count(), 2u);
  EXPECT_GE(ctrl_->vs().mjr(), 1u);
  EXPECT_GT(ctrl_->cap().mqes(), 0u);
  ASSERT_EQ(log_.states.size(), 2u);
  EXPECT_EQ(log_.states[0].second, CtrlState::kConnecting);
  EXPECT_EQ(log_.states[1].second, CtrlState::kLive);
}

TEST_F(ControllerSimTest, WrongSubsystemFailsAndDeletes) {
  opts_.subnqn = "nqn.2024-01.io.nvmpath:nope";
  Status st = StartController();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("Connect"), std::string::npos) << st.ToString();
  world_.RunFor(std::chrono::seconds(1));
  EXPECT_EQ(ctrl_->state(), CtrlState::kDeletingNoIo);
}

TEST_F(ControllerSimTest, IdentifyAndLogPages) {
  ASSERT_TRUE(StartController().ok());
  std::optional<Result<std::vector<uint32_t>>> nsids;
  ctrl_->IdentifyActiveNamespaces(0, [&](auto r) { nsids = std::move(r); });
  std::optional<Result<nvme::IdentifyNamespace>> ns;
  ctrl_->IdentifyNamespace(1, [&](auto r) { ns = std::move(r); });
  std::optional<Result<nvme::NsIdentifiers>> ids;
  ctrl_->IdentifyNsDescriptors(1, [&](auto r) { ids = std::move(r); });
  std::optional<Result<nvme::AnaLog>> ana;
  ctrl_->GetAnaLog([&](auto r) { ana = std::move(r); });
  std::optional<Result<nvme::ChangedNsList>> changed;
  ctrl_->GetChangedNamespaces([&](auto r) { changed = std::move(r); });
  ASSERT_TRUE(world_.RunUntil([&] { return nsids && ns && ids && ana && changed; },
                              std::chrono::seconds(5)));
  ASSERT_TRUE(nsids->ok()) << nsids->status().ToString();
  EXPECT_EQ(**nsids, (std::vector<uint32_t>{1, 2}));
  ASSERT_TRUE(ns->ok());
  EXPECT_EQ((*ns)->nsze, (4u << 20) / kBs);
  EXPECT_EQ(*(*ns)->BlockSize(), kBs);
  ASSERT_TRUE(ids->ok());
  EXPECT_TRUE((*ids)->uuid.has_value() || (*ids)->nguid.has_value());
  ASSERT_TRUE(ana->ok()) << ana->status().ToString();
  EXPECT_EQ((*ana)->groups.size(), 2u);
  EXPECT_TRUE(changed->ok()) << changed->status().ToString();
}

TEST_F(ControllerSimTest, ReadWriteRoundTripOnEveryReactor) {
  ASSERT_TRUE(StartController().ok());
  uint64_t lba = 0;
  for (reactor::Sim* r : {h0_, h1_}) {
    for (size_t bytes : {size_t{4096}, size_t{64 * 1024}}) {  // in capsule, then by R2T
      SCOPED_TRACE(bytes);
      auto data = Pattern(bytes, static_cast<uint32_t>(lba + 1));
      const auto nlb = static_cast<uint32_t>(bytes / kBs);
      auto w = Io(r, nvme::MakeWrite(0, 1, lba, nlb, {}), data);
      ASSERT_TRUE(w.status.ok()) << w.status.ToString();
      std::vector<uint8_t> back(bytes);
      auto rd = Io(r, nvme::MakeRead(0, 1, lba, nlb, {}), back);
      ASSERT_TRUE(rd.status.ok()) << rd.status.ToString();
      EXPECT_EQ(back, data);
      lba += nlb;
    }
  }
  // A target status comes back as it is.
  std::vector<uint8_t> buf(kBs);
  auto oob = Io(h0_, nvme::MakeRead(0, 1, (4u << 20) / kBs, 1, {}), buf);
  EXPECT_EQ(oob.status.code(), sc::kLbaOutOfRange);
}

TEST_F(ControllerSimTest, KeepAliveKeepsTheAssociation) {
  opts_.kato = std::chrono::seconds(2);
  ASSERT_TRUE(StartController().ok());
  world_.RunFor(std::chrono::seconds(20));
  EXPECT_EQ(ctrl_->state(), CtrlState::kLive);
  EXPECT_GE(ctrl_->keep_alives_sent(), 19u);
  EXPECT_EQ(ctrl_->associations(), 1u);
  EXPECT_EQ(ctrl_->keep_alive_timeouts(), 0u);
}

// A target that stops answering: the keep-alive goes unanswered for KATO, which ends the
// association (error recovery) and is counted as a keep-alive timeout.
TEST_F(ControllerSimTest, UnansweredKeepAliveIsCountedAndEndsTheAssociation) {
  opts_.kato = std::chrono::seconds(2);
  ASSERT_TRUE(StartController().ok());
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(std::nullopt, true).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return !ctrl_->live(); }, std::chrono::seconds(10)));
  EXPECT_EQ(ctrl_->keep_alive_timeouts(), 1u);
  EXPECT_NE(ctrl_->last_error().message().find("timed out"), std::string::npos)
      << ctrl_->last_error().ToString();
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(std::nullopt, false).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->live(); }, std::chrono::seconds(30)));
  EXPECT_EQ(ctrl_->keep_alive_timeouts(), 1u) << "a reconnect is not a keep-alive timeout";
}

TEST_F(ControllerSimTest, DropConnectionsResetsAndReconnects) {
  ASSERT_TRUE(StartController().ok());
  // An I/O outstanding when the connection drops fails over at once (0x371).
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(std::nullopt, true).ok()); });
  std::vector<uint8_t> buf(4096);
  std::optional<CommandResult> res;
  h1_->Post([&] {
    ASSERT_TRUE(ChannelOn(h1_).Submit(nvme::MakeRead(0, 1, 0, 8, {}), buf,
                                [&](const CommandResult& x) { res = x; })
                    .ok());
  });
  world_.RunFor(std::chrono::milliseconds(10));
  EXPECT_FALSE(res.has_value());
  OnTarget([&] { ASSERT_TRUE(target_->DropConnections(1).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return res.has_value(); }, std::chrono::seconds(1)));
  EXPECT_EQ(res->status.code(), sc::kAbortedByHost);
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(std::nullopt, false).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->live() && ctrl_->associations() == 2; },
                              std::chrono::seconds(10)));
  EXPECT_EQ(log_.Count(CtrlState::kResetting), 1);
  EXPECT_EQ(log_.Count(CtrlState::kConnecting), 2);
  EXPECT_EQ(log_.Count(CtrlState::kLive), 2);
  // Reconnected after reconnect_delay, not before.
  TimePoint resetting{}, live2{};
  for (auto& [t, s] : log_.states) {
    if (s == CtrlState::kResetting) resetting = t;
    if (s == CtrlState::kLive) live2 = t;
  }
  EXPECT_GE(live2 - resetting, opts_.reconnect_delay);
  auto data = Pattern(8192, 5);
  EXPECT_TRUE(Io(h0_, nvme::MakeWrite(0, 1, 100, 16, {}), data).status.ok());
  EXPECT_TRUE(Io(h1_, nvme::MakeRead(0, 1, 100, 16, {}), data).status.ok());
}

TEST_F(ControllerSimTest, PortDisabledReconnectsUntilCtrlLossThenDeletes) {
  ASSERT_TRUE(StartController().ok());
  OnTarget([&] { ASSERT_TRUE(target_->SetPortEnabled(1, false).ok()); });
  const TimePoint lost = world_.now();
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->state() == CtrlState::kDeletingNoIo; },
                              std::chrono::seconds(30)));
  const Duration took = world_.now() - lost;
  // ctrl_loss_tmo 5 s / reconnect_delay 1 s = 5 attempts, one per second.
  EXPECT_EQ(ctrl_->associations(), 1u + 5u);
  EXPECT_GE(took, std::chrono::seconds(5));
  EXPECT_LT(took, std::chrono::seconds(7));
  EXPECT_EQ(log_.Count(CtrlState::kDeleting), 1);
  EXPECT_FALSE(ctrl_->last_error().ok());
  // No I/O path any more: 0x370.
  std::vector<uint8_t> buf(512);
  EXPECT_EQ(Io(h0_, nvme::MakeRead(0, 1, 0, 1, {}), buf).status.code(), sc::kHostPathError);
}

TEST_F(ControllerSimTest, FastIoFailFlagAndRecovery) {
  opts_.fast_io_fail_tmo = std::chrono::seconds(3);
  opts_.ctrl_loss_tmo = Duration(-1);
  ASSERT_TRUE(StartController().ok());
  OnTarget([&] { ASSERT_TRUE(target_->SetPortEnabled(1, false).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->state() == CtrlState::kConnecting; },
                              std::chrono::seconds(1)));
  world_.RunFor(std::chrono::milliseconds(2900));
  EXPECT_FALSE(ctrl_->failfast_expired());
  world_.RunFor(std::chrono::milliseconds(200));
  EXPECT_TRUE(ctrl_->failfast_expired());
  EXPECT_EQ(ctrl_->state(), CtrlState::kConnecting);
  world_.RunFor(std::chrono::seconds(10));
  EXPECT_EQ(ctrl_->state(), CtrlState::kConnecting) << "ctrl_loss_tmo -1: forever";
  OnTarget([&] { ASSERT_TRUE(target_->SetPortEnabled(1, true).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->live(); }, std::chrono::seconds(3)));
  EXPECT_FALSE(ctrl_->failfast_expired());
  EXPECT_EQ(ctrl_->reconnect_attempts(), 0u);
}

TEST_F(ControllerSimTest, AsyncEventsReachTheObserver) {
  ASSERT_TRUE(StartController().ok());
  OnTarget([&] { ASSERT_TRUE(target_->SetAnaState(1, 2, nvme::AnaState::kInaccessible).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return !log_.events.empty(); }, std::chrono::seconds(2)));
  EXPECT_TRUE(log_.events[0].ana_change()) << log_.events[0].raw;
  EXPECT_EQ(log_.events[0].log_page(), 0x0C);
  std::optional<Result<nvme::AnaLog>> ana;
  ctrl_->GetAnaLog([&](auto r) { ana = std::move(r); });
  ASSERT_TRUE(world_.RunUntil([&] { return ana.has_value(); }, std::chrono::seconds(2)));
  ASSERT_TRUE(ana->ok());
  bool found = false;
  for (auto& g : (*ana)->groups) found |= g.grpid == 2 && g.state == nvme::AnaState::kInaccessible;
  EXPECT_TRUE(found);
  OnTarget([&] { ASSERT_TRUE(target_->RemoveNamespace(kSubnqn, 2).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return log_.events.size() >= 2; }, std::chrono::seconds(2)));
  EXPECT_TRUE(log_.events[1].ns_attribute_changed());
}

TEST_F(ControllerSimTest, CommandTimeoutResetsController) {
  opts_.io_timeout = std::chrono::seconds(2);
  opts_.kato = std::chrono::seconds(30);
  ASSERT_TRUE(StartController().ok());
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(1, true).ok()); });
  std::vector<uint8_t> buf(512);
  auto r = Io(h0_, nvme::MakeRead(0, 1, 0, 1, {}), buf);
  EXPECT_EQ(r.status.code(), sc::kAbortedByHost);
  EXPECT_EQ(ctrl_->state(), CtrlState::kResetting);
  EXPECT_NE(ctrl_->last_error().message().find("timed out"), std::string::npos);
  OnTarget([&] { ASSERT_TRUE(target_->SetStalled(1, false).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->live(); }, std::chrono::seconds(10)));
}

TEST(ControllerStateTest, LinuxTransitions) {
  EXPECT_TRUE(CtrlTransitionAllowed(CtrlState::kConnecting, CtrlState::kLive));
  EXPECT_TRUE(CtrlTransitionAllowed(CtrlState::kLive, CtrlState::kResetting));
  EXPECT_TRUE(CtrlTransitionAllowed(CtrlState::kResetting, CtrlState::kConnecting));
  EXPECT_TRUE(CtrlTransitionAllowed(CtrlState::kConnecting, CtrlState::kDeleting));
  EXPECT_TRUE(CtrlTransitionAllowed(CtrlState::kDeleting, CtrlState::kDeletingNoIo));
  EXPECT_FALSE(CtrlTransitionAllowed(CtrlState::kResetting, CtrlState::kLive));
  EXPECT_FALSE(CtrlTransitionAllowed(CtrlState::kConnecting, CtrlState::kResetting));
  EXPECT_FALSE(CtrlTransitionAllowed(CtrlState::kDeletingNoIo, CtrlState::kConnecting));
  EXPECT_FALSE(CtrlTransitionAllowed(CtrlState::kLive, CtrlState::kDead));
}

// The same bring-up and I/O over real sockets: one Uring reactor runs host and target.
TEST(ControllerUringTest, BringUpAndIoOverLoopback) {
  auto u = reactor::Uring::Create(0);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  reactor::Uring* r = u->get();
  auto t = target::Target::Create(MakeTargetConfig(0), {r});
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Start().ok());
  ControllerOptions o;
  o.address = "127.0.0.1";
  o.port = (*t)->BoundPort(1);
  o.subnqn = kSubnqn;
  o.hostnqn = kHostnqn;
  Controller ctrl(o, {r}, 0);
  auto run_until = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 5000 && !done(); ++i) r->RunOnce(std::chrono::milliseconds(2));
    return done();
  };
  std::optional<Status> st;
  r->Post([&] { ctrl.Start([&](Status s) { st = s; }); });
  ASSERT_TRUE(run_until([&] { return st.has_value(); }));
  ASSERT_TRUE(st->ok()) << st->ToString();
  auto data = Pattern(128 * 1024, 3);
  std::vector<uint8_t> back(data.size());
  std::optional<CommandResult> w, rd;
  r->Post([&] {
    ASSERT_TRUE(ctrl.io_channel(0).Submit(nvme::MakeWrite(0, 1, 8, 256, {}), data,
                              [&](const CommandResult& x) {
                                w = x;
                                ASSERT_TRUE(ctrl.io_channel(0).Submit(nvme::MakeRead(0, 1, 8, 256, {}), back,
                                                          [&](const CommandResult& y) { rd = y; })
                                                .ok());
                              })
                    .ok());
  });
  ASSERT_TRUE(run_until([&] { return rd.has_value(); }));
  EXPECT_TRUE(w->status.ok());
  EXPECT_TRUE(rd->status.ok());
  EXPECT_EQ(back, data);
  bool deleted = false, stopped = false;
  r->Post([&] { ctrl.Delete([&] { deleted = true; }); });
  ASSERT_TRUE(run_until([&] { return deleted; }));
  r->Post([&] { (*t)->Stop([&] { stopped = true; }); });
  ASSERT_TRUE(run_until([&] { return stopped; }));
}

}  // namespace
}  // namespace nvmpath::host
