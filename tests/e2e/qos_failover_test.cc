// Seed 000's guarantee on the real NVMe/TCP path: a QoS ticket belongs to the attempt on the path
// whose limiter issued it, and goes back there exactly once, whatever ends the attempt.
//
// Goal: a Bio admitted by path A's limiter that fails over to path B gives A its ticket back once
// (A: issued == released), B's limiter sees only B's own admissions (B: issued == the attempts B
// received), the head's ticket is returned once, and nothing is held or waiting at quiesce —
// through every way an attempt on a TCP path ends: completion, a path error status, a command
// timeout, connection loss, controller deletion and namespace removal behind the path (seed 000
// in shared history: per-path QoS state rode on a failed-over request and was released into the
// wrong path's accounting). Method: mpath::MultipathHost against the project's target, port 1
// optimized (path A) and port 2 non-optimized (path B), both paths and the head with QoS limits;
// the target holds or breaks the attempt on A; the limiters' counters are read per reactor. Each
// ending runs on reactor::Sim (virtual time) and on reactor::Uring (127.0.0.1).
#include <gtest/gtest.h>

#include <optional>

#include "mpath/multipath_host.h"
#include "reactor/sim.h"
#include "reactor/uring.h"
#include "target/target.h"

namespace nvmpath {
namespace {

using namespace std::chrono_literals;

constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:qos";
constexpr char kHostnqn[] = "nqn.2024-01.io.nvmpath:qos-host";
constexpr uint32_t kBs = 512;

target::TargetConfig TargetConfigOn(uint16_t p1, uint16_t p2) {
  target::TargetConfig c;
  c.ports = {{.id = 1, .address = "127.0.0.1", .port = p1},
             {.id = 2, .address = "127.0.0.1", .port = p2}};
  target::SubsystemConfig s;
  s.nqn = kSubnqn;
  s.namespaces = {{.nsid = 1, .size_bytes = 1 << 20, .block_size = kBs, .ana_group = 1}};
  c.subsystems.push_back(s);
  c.ana = {{.port_id = 1, .group = 1, .state = nvme::AnaState::kOptimized},
           {.port_id = 2, .group = 1, .state = nvme::AnaState::kNonOptimized}};
  return c;
}

// The target and the host on one set of reactors, Sim or Uring.
class Rig {
 public:
  virtual ~Rig() = default;
  virtual bool RunUntil(const std::function<bool()>& done, Duration limit) = 0;
  virtual reactor::Reactor* host_reactor() = 0;
  virtual reactor::Reactor* target_reactor() = 0;
  virtual std::pair<uint16_t, uint16_t> ports() = 0;
  void RunFor(Duration d) { RunUntil([] { return false; }, d); }
};

class SimRig final : public Rig {
 public:
  SimRig() : world_(17) {
    h_ = world_.AddReactor();
    t_ = world_.AddReactor();
  }
  bool RunUntil(const std::function<bool()>& done, Duration limit) override {
    return world_.RunUntil(done, limit);
  }
  reactor::Reactor* host_reactor() override { return h_; }
  reactor::Reactor* target_reactor() override { return t_; }
  std::pair<uint16_t, uint16_t> ports() override { return {4420, 4421}; }

 private:
  reactor::SimWorld world_;
  reactor::Sim* h_;
  reactor::Sim* t_;
};

class UringRig final : public Rig {
 public:
  UringRig() {
    auto u = reactor::Uring::Create(0);
    NVMP_ASSERT(u.ok(), "io_uring unavailable");
    r_ = std::move(*u);
  }
  bool RunUntil(const std::function<bool()>& done, Duration limit) override {
    const TimePoint end = r_->now() + limit;
    while (!done() && r_->now() < end) r_->RunOnce(2ms);
    return done();
  }
  reactor::Reactor* host_reactor() override { return r_.get(); }
  reactor::Reactor* target_reactor() override { return r_.get(); }
  // Two free ports: bound once on port 0 by a throw-away target.
  std::pair<uint16_t, uint16_t> ports() override {
    auto probe = target::Target::Create(TargetConfigOn(0, 0), {r_.get()});
    NVMP_ASSERT(probe.ok() && (*probe)->Start().ok());
    std::pair<uint16_t, uint16_t> out{(*probe)->BoundPort(1), (*probe)->BoundPort(2)};
    bool stopped = false;
    (*probe)->Stop([&] { stopped = true; });
    NVMP_ASSERT(RunUntil([&] { return stopped; }, 5s));
    return out;
  }

 private:
  std::unique_ptr<reactor::Uring> r_;
};

enum class Ending {
  kCompletion,          // the attempt on A completes: nothing fails over
  kPathError,           // A answers with a path error status (0x300): failover
  kTimeout,             // A's response never comes: the command timeout resets A
  kConnectionLoss,      // A's connections drop with the command outstanding
  kConnectionLossWrite, // the same for a write: held for the write fence, then failover
  kWaiterOnLoss,        // A's limiter full: a second Bio waits for admission, then A drops
  kControllerDeletion,  // A's controller is deleted with the command outstanding
  kNamespaceRemoval,    // the namespace leaves port 1: A answers Invalid Namespace
};

const char* EndingName(Ending e) {
  switch (e) {
    case Ending::kCompletion: return "Completion";
    case Ending::kPathError: return "PathError";
    case Ending::kTimeout: return "Timeout";
    case Ending::kConnectionLoss: return "ConnectionLoss";
    case Ending::kConnectionLossWrite: return "ConnectionLossWrite";
    case Ending::kWaiterOnLoss: return "WaiterOnLoss";
    case Ending::kControllerDeletion: return "ControllerDeletion";
    case Ending::kNamespaceRemoval: return "NamespaceRemoval";
  }
  return "?";
}

struct Case {
  bool uring;
  Ending ending;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << (c.uring ? "Uring " : "Sim ") << EndingName(c.ending);
}

class QosFailoverTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (GetParam().uring) {
      rig_ = std::make_unique<UringRig>();
    } else {
      rig_ = std::make_unique<SimRig>();
    }
    auto [p1, p2] = rig_->ports();
    auto t = target::Target::Create(TargetConfigOn(p1, p2), {rig_->target_reactor()});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    ASSERT_TRUE(target_->Start().ok());

    mpath::MultipathHostOptions o;
    o.subnqn = kSubnqn;
    o.hostnqn = kHostnqn;
    o.paths = {{"127.0.0.1", p1}, {"127.0.0.1", p2}};
    o.controller.reconnect_delay = 100ms;
    o.controller.ctrl_loss_tmo = 30s;
    o.controller.io_timeout = 300ms;
    o.controller.kato = 5s;
    o.controller.fence_delay = 5ms;
    o.head.qos.max_in_flight = 8;
    o.head.qos.iops = 1'000'000;
    // Depth 1 on A: the waiter case fills it with one Bio.
    o.path_qos.max_in_flight = GetParam().ending == Ending::kWaiterOnLoss ? 1 : 4;
    o.path_qos.bytes_per_s = 1ull << 30;
    host_ = std::make_unique<mpath::MultipathHost>(
        o, std::vector<reactor::Reactor*>{rig_->host_reactor()}, 0);
    std::optional<Status> st;
    rig_->host_reactor()->Post([&] { host_->Start([&](Status s) { st = s; }); });
    ASSERT_TRUE(rig_->RunUntil([&] { return st.has_value(); }, 10s));
    ASSERT_TRUE(st->ok()) << st->ToString();
    ASSERT_TRUE(rig_->RunUntil([&] { return Usable(0) && Usable(1); }, 5s))
        << host_->head(1)->DescribePathStates();
  }

  void TearDown() override {
    if (host_) {
      bool done = false;
      rig_->host_reactor()->Post([&] { host_->Shutdown([&] { done = true; }); });
      EXPECT_TRUE(rig_->RunUntil([&] { return done; }, 10s)) << "host shutdown hung";
      rig_->RunUntil([&] { return host_->head_messages_in_flight() == 0; }, 1s);
      host_.reset();
    }
    if (target_) {
      bool stopped = false;
      target_->Stop([&] { stopped = true; });
      rig_->RunUntil([&] { return stopped; }, 5s);
    }
  }

  host::PathNs* Path(size_t i) const { return host_->scanner(i)->path(1); }
  bool Usable(size_t i) const {
    host::PathNs* p = Path(i);
    if (!p) return false;
    auto s = p->state();
    return s.ctrl == blk::CtrlState::kLive && s.ready && !s.ana_pending;
  }
  // The path's QoS counters and attempts, read while the reactors are not running. A path that
  // left its head keeps its PathNs in the scanner's removing list until destroyed: `last_` keeps
  // the last figures seen.
  blk::QosCounters Qos(size_t i) {
    if (host::PathNs* p = Path(i)) last_qos_[i] = p->qos(0);
    return last_qos_[i];
  }
  uint64_t Attempts(size_t i) {
    if (host::PathNs* p = Path(i)) last_attempts_[i] = p->counters(0).submitted;
    return last_attempts_[i];
  }

  void OnTarget(const std::function<void()>& fn) {
    bool done = false;
    rig_->target_reactor()->Post([&] {
      fn();
      done = true;
    });
    ASSERT_TRUE(rig_->RunUntil([&] { return done; }, 1s));
  }

  // Submits `n` Bios of `op` at LBA 8.. through the head's channel.
  void Submit(int n, blk::Op op) {
    for (int i = 0; i < n; ++i) {
      auto b = std::make_unique<blk::Bio>();
      b->op = op;
      b->lba = 8 + 8 * static_cast<uint64_t>(i);
      b->nblocks = 8;
      bufs_.emplace_back(8 * kBs, static_cast<uint8_t>(0x30 + i));
      b->data = bufs_.back();
      b->on_done = [this](blk::Bio&) { ++done_; };
      blk::Bio* raw = b.get();
      bios_.push_back(std::move(b));
      rig_->host_reactor()->Post([this, raw] { host_->head(1)->Channel(0).Submit(raw); });
    }
  }

  std::unique_ptr<Rig> rig_;
  std::unique_ptr<target::Target> target_;
  std::unique_ptr<mpath::MultipathHost> host_;
  std::vector<std::unique_ptr<blk::Bio>> bios_;
  std::vector<std::vector<uint8_t>> bufs_;
  int done_ = 0;
  blk::QosCounters last_qos_[2];
  uint64_t last_attempts_[2] = {0, 0};
};

TEST_P(QosFailoverTest, TicketGoesBackToItsPathExactlyOnce) {
  const Ending ending = GetParam().ending;
  const int bios = ending == Ending::kWaiterOnLoss ? 2 : 1;
  const blk::Op op = ending == Ending::kConnectionLossWrite ? blk::Op::kWrite : blk::Op::kRead;
  const bool hold = ending != Ending::kCompletion && ending != Ending::kPathError &&
                    ending != Ending::kNamespaceRemoval;

  if (hold) OnTarget([&] { ASSERT_TRUE(target_->SetStalled(1, true).ok()); });
  if (ending == Ending::kPathError) {
    OnTarget([&] {
      target::FailNextSpec f;
      f.status = nvme::NvmeStatus::Of(nvme::sc::kInternalPathError);
      f.port_id = 1;
      f.opcode = static_cast<uint8_t>(nvme::IoOpcode::kRead);
      ASSERT_TRUE(target_->FailNext(f).ok());
    });
  }
  if (ending == Ending::kNamespaceRemoval) {
    // The host learns of it by AEN and a log read; the Bio submitted now reaches the target first.
    OnTarget([&] { ASSERT_TRUE(target_->SetNamespaceAttached(kSubnqn, 1, 1, false).ok()); });
  }
  Submit(bios, op);

  if (hold) {
    // The attempt holds A's ticket (and, with depth 1, the second Bio waits for one).
    ASSERT_TRUE(rig_->RunUntil([&] { return Qos(0).issued == 1; }, 2s));
    rig_->RunFor(1ms);
    EXPECT_EQ(Qos(0).in_flight(), 1u);
    EXPECT_EQ(Qos(0).waiting, ending == Ending::kWaiterOnLoss ? 1u : 0u);
    EXPECT_EQ(Qos(1).issued, 0u);
  }
  switch (ending) {
    case Ending::kConnectionLoss:
    case Ending::kConnectionLossWrite:
    case Ending::kWaiterOnLoss:
      OnTarget([&] { ASSERT_TRUE(target_->DropConnections(1).ok()); });
      break;
    case Ending::kControllerDeletion: {
      bool deleted = false;
      rig_->host_reactor()->Post([&] { host_->controller(0)->Delete([&] { deleted = true; }); });
      ASSERT_TRUE(rig_->RunUntil([&] { return deleted; }, 5s));
      break;
    }
    default:
      break;  // the timeout fires by itself; the others end on their own
  }

  // The predicate samples both paths' figures as events run (a path whose namespace or
  // controller went away is destroyed later).
  ASSERT_TRUE(rig_->RunUntil(
      [&] {
        Qos(0);
        Qos(1);
        Attempts(1);
        return done_ == bios;
      },
      10s))
      << host_->head(1)->DescribePathStates();
  for (const auto& b : bios_) EXPECT_TRUE(b->status.ok()) << b->status.ToString();
  // Quiesce: nothing is in flight; let the stalled port go so every late reply is drained.
  if (hold) OnTarget([&] { ASSERT_TRUE(target_->SetStalled(1, false).ok()); });
  rig_->RunFor(50ms);

  const blk::QosCounters a = Qos(0);
  const blk::QosCounters b = Qos(1);
  const bool fails_over = ending != Ending::kCompletion;
  EXPECT_EQ(a.issued, static_cast<uint64_t>(bios)) << "A admitted each Bio once";
  if (Path(0) != nullptr) {
    EXPECT_EQ(a.released, a.issued) << "A's tickets came back exactly once";
    EXPECT_EQ(a.waiting, 0u);
  }  // else A was destroyed, and its limiters asserted nothing held or waiting (blk::Limiter)
  // B's limiter accounts for B's own attempts and nothing else.
  EXPECT_EQ(b.issued, Attempts(1));
  EXPECT_EQ(b.released, b.issued);
  EXPECT_EQ(b.waiting, 0u);
  if (fails_over) {
    EXPECT_EQ(Attempts(1), static_cast<uint64_t>(bios)) << "each Bio failed over to B once";
  } else {
    EXPECT_EQ(b.issued, 0u) << "B untouched";
  }
  // The head's tickets: one per Bio, each back once.
  bool collected = false;
  mpath::HeadStats stats;
  rig_->host_reactor()->Post([&] {
    host_->head(1)->CollectStats([&](mpath::HeadStats s) {
      stats = std::move(s);
      collected = true;
    });
  });
  ASSERT_TRUE(rig_->RunUntil([&] { return collected; }, 1s));
  EXPECT_EQ(stats.head.qos.issued, static_cast<uint64_t>(bios));
  EXPECT_EQ(stats.head.qos.released, stats.head.qos.issued);
  EXPECT_EQ(stats.head.qos.waiting, 0u);
  EXPECT_EQ(stats.head.failovers, fails_over ? static_cast<uint64_t>(bios) : 0u);
}

std::vector<Case> AllCases() {
  std::vector<Case> out;
  for (bool uring : {false, true}) {
    for (Ending e : {Ending::kCompletion, Ending::kPathError, Ending::kTimeout,
                     Ending::kConnectionLoss, Ending::kConnectionLossWrite, Ending::kWaiterOnLoss,
                     Ending::kControllerDeletion, Ending::kNamespaceRemoval}) {
      out.push_back({uring, e});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Endings, QosFailoverTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.uring ? "Uring_" : "Sim_") +
                                  EndingName(info.param.ending);
                         });

}  // namespace
}  // namespace nvmpath
