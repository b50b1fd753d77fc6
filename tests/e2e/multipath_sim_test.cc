// The multipath host end to end over NVMe/TCP: mpath::MultipathHost (controllers, namespace
// scans, heads) against the project's target, with the verify workload running through each
// fault the target can play.
//
// Goal: the seeds' guarantees over real NVMe/TCP — zero application errors while a path is
// usable, zero verify mismatches, every Bio completed exactly once — through port loss, ANA
// flips, namespace removal and re-add, resize, injected path errors, dropped connections and
// stalled responses. Method: host (two reactors) and target (one reactor) share one
// reactor::SimWorld; the target has one subsystem with one namespace behind two ports, ANA
// optimized on port 1 and non-optimized on port 2. A VerifyWorkload with an InvariantChecker runs
// on the head; the virtual clock advances. The fault tests are schedules of sim::Faults with
// per-step expectations, played by the scenario runner (sim::RunScenario) on sim::TcpFabric — the
// same runner, vocabulary and translation to the target as the storms and the demo; the other
// tests (bring-up, observers, Start) drive the host directly.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <optional>

#include "mpath/multipath_host.h"
#include "reactor/sim.h"
#include "reactor/sim_network.h"
#include "sim/fault.h"
#include "sim/invariants.h"
#include "sim/runner.h"
#include "sim/target_faults.h"
#include "sim/tcp_fabric.h"
#include "sim_e2e_fabric.h"
#include "sim/verify_workload.h"
#include "target/target.h"

namespace nvmpath {
namespace {

using namespace std::chrono_literals;
using blk::CtrlState;
using nvme::AnaState;
using nvme::NvmeStatus;

constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:e2e";
constexpr char kHostnqn[] = "nqn.2024-01.io.nvmpath:e2e-host";
constexpr uint32_t kBs = 512;
constexpr uint64_t kNsBytes = 1 << 20;
constexpr uint16_t kPort1 = 4420;
constexpr uint16_t kPort2 = 4421;

target::NamespaceConfig Namespace(const std::string& file) {
  target::NamespaceConfig ns{.nsid = 1, .size_bytes = kNsBytes, .block_size = kBs, .ana_group = 1};
  if (!file.empty()) {
    ns.backend = target::BackendKind::kFile;
    ns.path = file;
  }
  return ns;
}

// What the tests read of the host: its one head (NSID 1) and its paths through port i.
struct HostView {
  mpath::MultipathHost* host;

  mpath::Head* head() const { return host->head(1); }
  host::PathNs* path(size_t i) const { return host->scanner(i)->path(1); }
  bool Usable(size_t i) const {
    host::PathNs* p = path(i);
    if (!p) return false;
    auto s = p->state();
    return s.ctrl == CtrlState::kLive && s.ready && !s.ana_pending && nvme::AnaStateIsLive(s.ana);
  }
  bool BothUsable() const { return head() && Usable(0) && Usable(1) && head()->HasUsablePath(); }
  uint64_t PathIos(size_t i) const {
    host::PathNs* p = path(i);
    return p ? p->TEST_Counters().submitted : 0;
  }
};

class MultipathE2eTest : public ::testing::Test {
 protected:
  MultipathE2eTest() : world_(11) {
    h0_ = world_.AddReactor();
    h1_ = world_.AddReactor();
    t_ = world_.AddReactor();
  }

  ~MultipathE2eTest() override {
    if (host_) {
      bool done = false;
      h0_->Post([&] { host_->Shutdown([&] { done = true; }); });
      EXPECT_TRUE(world_.RunUntil([&] { return done; }, 30s)) << "host shutdown hung";
      // Shutdown's `done` comes once every head is quiet: the host may go at once.
      EXPECT_EQ(host_->head_messages_in_flight(), 0);
      host_.reset();
    }
    if (target_) {
      bool stopped = false;
      target_->Stop([&] { stopped = true; });
      world_.RunUntil([&] { return stopped; }, 5s);
    }
    if (!file_.empty()) ::unlink(file_.c_str());
  }

  // A file-backed namespace keeps its data across RemoveNamespace + AddNamespace.
  void StartTarget(bool file_backed = false) {
    if (file_backed) {
      char tmpl[] = "/tmp/nvmpath-e2e-XXXXXX";
      int fd = ::mkstemp(tmpl);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::ftruncate(fd, kNsBytes), 0);
      ::close(fd);
      file_ = tmpl;
    }
    // The target as every scenario describes it: port index 0 is port ID 1 (optimized), index 1
    // port ID 2 (non-optimized); namespace index 0 is NSID 1 in ANA group 1.
    model_ = sim::TargetModel::Make(kSubnqn, 2, kPort1, 1, kNsBytes,
                                    file_.empty() ? std::vector<std::string>{}
                                                  : std::vector<std::string>{file_});
    model_.block_size = kBs;
    model_.ana[1][0] = AnaState::kNonOptimized;
    auto t = target::Target::Create(model_.Config(), {t_});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    ASSERT_TRUE(target_->Start().ok());
  }

  mpath::MultipathHostOptions HostOptions() const {
    mpath::MultipathHostOptions o;
    o.subnqn = kSubnqn;
    o.hostnqn = kHostnqn;
    o.hostid[15] = 7;
    o.paths = {{"127.0.0.1", kPort1}, {"127.0.0.1", kPort2}};
    o.controller.reconnect_delay = 200ms;
    o.controller.ctrl_loss_tmo = 60s;
    o.controller.io_timeout = 1s;
    o.controller.kato = 2s;
    return o;
  }

  void StartHost(std::function<void(mpath::MultipathHostOptions&)> adjust = {}) {
    mpath::MultipathHostOptions o = HostOptions();
    if (adjust) adjust(o);
    host_ = std::make_unique<mpath::MultipathHost>(o, std::vector<reactor::Reactor*>{h0_, h1_}, 0);
    std::optional<Status> st;
    h0_->Post([&] { host_->Start([&](Status s) { st = s; }); });
    ASSERT_TRUE(world_.RunUntil([&] { return st.has_value(); }, 30s));
    ASSERT_TRUE(st->ok()) << st->ToString();
    ASSERT_TRUE(world_.RunUntil([&] { return BothUsable(); }, 5s)) << Describe();
  }

  HostView view() const { return {host_.get()}; }
  mpath::Head* head() const { return view().head(); }
  host::PathNs* path(size_t i) const { return view().path(i); }
  bool BothUsable() const { return view().BothUsable(); }
  std::string Describe() const { return head() ? head()->DescribePathStates() : "no head"; }
  uint64_t PathIos(size_t i) const { return view().PathIos(i); }

  void OnTarget(std::function<void()> fn) {
    bool done = false;
    t_->Post([&] {
      fn();
      done = true;
    });
    ASSERT_TRUE(world_.RunUntil([&] { return done; }, 1s));
  }

  void StartWorkload(uint64_t seed = 1) {
    sim::VerifyWorkloadOptions w;
    w.head_id = 1;
    w.blocks = 512;
    w.block_size = kBs;
    w.max_blocks_per_io = 8;
    w.queue_depth = 8;
    w.seed = seed;
    w.error_backoff = 1ms;
    workload_ = std::make_unique<sim::VerifyWorkload>(*head(), *h0_, w, &checker_, &next_id_);
    h0_->Post([this] { workload_->Start(); });
  }

  // Stops the workload, reads back every block, and checks the invariants.
  void FinishWorkload(bool expect_no_errors = true) {
    bool verified = false;
    h0_->Post([&] {
      workload_->Stop([&] { workload_->VerifyAll([&] { verified = true; }); });
    });
    ASSERT_TRUE(world_.RunUntil([&] { return verified; }, 60s)) << Describe();
    checker_.CheckQuiesced();
    const sim::VerifyStats& st = workload_->stats();
    EXPECT_GT(st.ios, 100u);
    EXPECT_EQ(st.mismatches, 0u);
    EXPECT_TRUE(checker_.ok()) << (checker_.violations().empty() ? "" : checker_.violations()[0]);
    if (expect_no_errors) {
      EXPECT_EQ(st.errors, 0u);
      EXPECT_EQ(checker_.app_errors(), 0u);
    }
  }

  reactor::SimWorld world_;
  reactor::Sim* h0_;
  reactor::Sim* h1_;
  reactor::Sim* t_;
  std::string file_;
  sim::TargetModel model_;
  std::unique_ptr<target::Target> target_;
  std::unique_ptr<mpath::MultipathHost> host_;
  sim::InvariantChecker checker_;
  uint64_t next_id_ = 1;
  std::unique_ptr<sim::VerifyWorkload> workload_;
};

// (a) Both paths come up in one head; I/O goes to the optimized path; verify passes.
TEST_F(MultipathE2eTest, BaselineVerifyPasses) {
  StartTarget();
  StartHost();
  EXPECT_EQ(host_->nsids(), std::vector<uint32_t>{1});
  EXPECT_EQ(head()->path_count(), 2u);
  EXPECT_EQ(head()->capacity_blocks(), kNsBytes / kBs);
  EXPECT_EQ(path(0)->state().ana, AnaState::kOptimized);
  EXPECT_EQ(path(1)->state().ana, AnaState::kNonOptimized);
  StartWorkload();
  world_.RunFor(200ms);
  FinishWorkload();
  EXPECT_GT(PathIos(0), 100u);
  EXPECT_EQ(PathIos(1), 0u) << "non-optimized path used while the optimized one is usable";
  EXPECT_TRUE(host_->errors().empty());
}

// ---- The fault tests: schedules the scenario runner plays on sim::TcpFabric ----
//
// Each test below is a schedule of sim::Faults whose steps carry the expectations the test makes
// (sim::Expectation: "within 2 s", "over the next 300 ms"), played by sim::RunScenario on the same
// world as above (the real target, the multipath host with this file's timeouts, 2 host reactors,
// one namespace on a file behind two ports, port 1 optimized). The runner adds what every scenario
// gets: the invariant checker after each event, the heal, a read-back of every block, and the
// quiesce check. A step at 0 plays as soon as the previous step's expectations are settled.

// The fabric and the views the expectations read.
class FaultSchedule {
 public:
  explicit FaultSchedule(uint64_t seed, std::function<void(mpath::MultipathHostOptions&)> adjust = {})
      : fabric_(e2e::SimE2eFabric(seed, 2, kNsBytes, kBs, Duration(0), std::move(adjust))) {}

  mpath::MultipathHost* host() const { return fabric_.host(); }
  HostView view() const { return {host()}; }
  mpath::Head* head() const { return view().head(); }
  host::PathNs* path(size_t i) const { return view().path(i); }
  bool BothUsable() const { return view().BothUsable(); }
  uint64_t PathIos(size_t i) const { return view().PathIos(i); }
  uint64_t Completed() const { return head()->TEST_Stats().head.completed; }
  const std::string& file() const { return fabric_.model().ns[0].file; }

  // Plays `schedule` and checks what every fault test checked at its end: enough I/O, no
  // mismatch, every invariant and expectation kept, and (unless the schedule makes errors on
  // purpose) no error reaching the application.
  sim::ScenarioReport Play(const sim::Schedule& schedule, uint64_t seed,
                           bool expect_no_errors = true) {
    sim::ScenarioOptions o{.seed = seed};
    o.blocks = 512;
    o.block_size = kBs;
    o.queue_depth = 8;
    o.max_blocks_per_io = 8;
    o.error_backoff = 1ms;
    o.settle_limit = 60s;
    o.on_line = [](const std::string& l) { std::printf("  %s\n", l.c_str()); };
    sim::ScenarioReport r = sim::RunScenario(fabric_, schedule, o);
    EXPECT_TRUE(r.ok()) << ::testing::PrintToString(r.violations);
    EXPECT_GT(r.ios, 100u);
    EXPECT_EQ(r.mismatches, 0u);
    EXPECT_GT(r.readback_blocks, 0u);
    if (expect_no_errors) {
      EXPECT_EQ(r.app_errors, 0u);
    }
    return r;
  }

 private:
  sim::TcpFabric fabric_;
};

// "`count` grows by more than `by` over `period`."
sim::Expectation Grows(std::string what, Duration period, std::function<uint64_t()> count,
                       uint64_t by) {
  return sim::Over(std::move(what), period, [count = std::move(count), by] {
    const uint64_t before = count();
    return [count, by, before] { return count() > before + by; };
  });
}
// "It holds now."
sim::Expectation Now(std::string what, std::function<bool()> condition) {
  return sim::Eventually(std::move(what), std::move(condition), Duration(0));
}
// The model runs on for `period` before the next step.
sim::Expectation Pause(Duration period) {
  return sim::Over(fmt::format("{} ms pass", ToMicros(period) / 1000), period,
                   [] { return [] { return true; }; });
}

sim::TimedFault Step(Duration at, sim::Fault fault, std::vector<sim::Expectation> expect) {
  return sim::TimedFault{.at = at, .fault = std::move(fault), .expect = std::move(expect)};
}

// (b) Port 1 disabled: zero application errors, I/O moves to port 2; re-enabled: it comes back.
TEST(MultipathFaultSchedule, PortDisabledFailsOverAndComesBack) {
  FaultSchedule f(2);
  f.Play({Step(50ms, sim::fault::PortEnabled{0, false},
               {sim::Eventually("port 1's controller leaves live",
                                [&] { return !f.host()->controller(0)->live(); }, 2s),
                Grows("I/O moves to port 2", 300ms, [&] { return f.PathIos(1); }, 50),
                Now("port 1's controller is connecting",
                    [&] { return f.host()->controller(0)->state() == CtrlState::kConnecting; })}),
          Step(0ms, sim::fault::PortEnabled{0, true},
               {sim::Eventually("both paths usable", [&] { return f.BothUsable(); }, 3s),
                Grows("I/O returns to the optimized path", 100ms, [&] { return f.PathIos(0); }, 50),
                Now("port 1 associated again",
                    [&] { return f.host()->controller(0)->associations() >= 2; })})},
         2);
}

// (c) ANA flips optimized <-> inaccessible on each port in turn.
TEST(MultipathFaultSchedule, AnaFlipsOnEachPort) {
  FaultSchedule f(3);
  sim::Schedule s;
  for (int port : {0, 1}) {
    const size_t i = static_cast<size_t>(port);
    const size_t other = 1 - i;
    const AnaState original = port == 0 ? AnaState::kOptimized : AnaState::kNonOptimized;
    s.push_back(Step(port == 0 ? 30ms : 0ms, sim::fault::Ana{port, 0, AnaState::kInaccessible},
                     {sim::Eventually(
                          "the path is inaccessible",
                          [&f, i] { return f.path(i)->state().ana == AnaState::kInaccessible; }, 1s),
                      sim::Over(fmt::format("I/O moves off port {} (20 more on the other), "
                                            "none sent to it, over 50 ms",
                                            port + 1),
                                50ms, [&f, i, other] {
                                  const uint64_t theirs = f.PathIos(other);
                                  const uint64_t mine = f.PathIos(i);
                                  return [&f, i, other, theirs, mine] {
                                    return f.PathIos(other) > theirs + 20 && f.PathIos(i) == mine;
                                  };
                                })}));
    s.push_back(Step(0ms, sim::fault::Ana{port, 0, AnaState::kOptimized},
                     {sim::Eventually(
                          "the path is optimized",
                          [&f, i] { return f.path(i)->state().ana == AnaState::kOptimized; }, 1s),
                      Pause(30ms)}));
    s.push_back(Step(0ms, sim::fault::Ana{port, 0, original}, {Pause(30ms)}));
  }
  f.Play(s, 3);
}
// (d) The namespace removed from the subsystem and added back: I/O queues while no path exists
// (queue_if_no_path) and resumes on the re-added namespace (file-backed, so the data stays).
TEST(MultipathFaultSchedule, NamespaceRemovedAndReaddedQueuesThenResumes) {
  FaultSchedule f(4, [](mpath::MultipathHostOptions& o) { o.head.queue_if_no_path = true; });
  uint64_t done_before = 0;
  f.Play({Step(30ms, sim::fault::NsPresent{0, false},
               {sim::Eventually("the head has no path", [&] { return f.head()->path_count() == 0; },
                                2s),
                sim::Over("no I/O completes with no path, and some waits", 100ms,
                          [&] {
                            done_before = f.Completed();
                            return [&] {
                              return f.Completed() == done_before &&
                                     f.head()->TEST_Stats().head.outstanding > 0;
                            };
                          })}),
          Step(0ms, sim::fault::NsPresent{0, true},
               {sim::Eventually("both paths usable", [&] { return f.BothUsable(); }, 3s),
                sim::Over("I/O resumes on the re-added namespace", 50ms,
                          [&] { return [&] { return f.Completed() > done_before + 50; }; }),
                Now("2 paths removed, 4 added, no identity refused", [&] {
                  const auto& c = f.host()->counters();
                  return c.paths_removed == 2 && c.paths_added == 4 && c.identity_mismatches == 0;
                })})},
         4);
}

// (d'') The namespace detached behind port 1 only (the optimized path): that path leaves the
// head, I/O moves to port 2 with zero errors; attached again, the path returns and I/O with it.
TEST(MultipathFaultSchedule, NamespaceDetachedBehindOnePortFailsOverAndReturns) {
  FaultSchedule f(14);
  f.Play({Step(30ms, sim::fault::NsAttached{0, 0, false},
               {sim::Eventually("one path left", [&] { return f.head()->path_count() == 1; }, 2s),
                Now("port 1's path gone, port 2's there",
                    [&] { return f.path(0) == nullptr && f.path(1) != nullptr; }),
                Grows("I/O moves to port 2", 100ms, [&] { return f.PathIos(1); }, 50),
                Now("the controller itself stays up",
                    [&] { return f.host()->controller(0)->live(); })}),
          Step(0ms, sim::fault::NsAttached{0, 0, true},
               {sim::Eventually("both paths usable", [&] { return f.BothUsable(); }, 3s),
                Grows("I/O returns to the optimized path", 100ms, [&] { return f.PathIos(0); }, 50),
                Now("1 path removed, 3 added, no identity refused", [&] {
                  const auto& c = f.host()->counters();
                  return c.paths_removed == 1 && c.paths_added == 3 && c.identity_mismatches == 0;
                })})},
         14);
}

// (d') ... and if it never comes back, queued I/O fails with kNoPath after queue_timeout (errors
// the application sees, allowed only while no path is usable). The runner's heal then adds it
// back and reads every block.
TEST(MultipathFaultSchedule, NamespaceRemovedForGoodFailsWithNoPath) {
  FaultSchedule f(5, [](mpath::MultipathHostOptions& o) {
    o.head.queue_if_no_path = true;
    o.head.queue_timeout = 200ms;
  });
  const sim::ScenarioReport r = f.Play(
      {Step(30ms, sim::fault::NsPresent{0, false},
            {sim::Eventually("the head has no path", [&] { return f.head()->path_count() == 0; }, 2s),
             sim::Over("queued I/O fails with no path after queue_timeout", 500ms,
                       [&] { return [&] { return f.head()->TEST_Stats().head.no_path > 0; }; })})},
      5, /*expect_no_errors=*/false);
  EXPECT_GT(r.app_errors, 0u);
}

// (e) Resize (of a file-backed namespace, so the file grows): every path reports the new size
// after the AEN and rescan; the head follows.
TEST(MultipathFaultSchedule, ResizeHeadCapacityFollows) {
  FaultSchedule f(6);
  constexpr uint64_t kTwice = 2 * kNsBytes / kBs;
  f.Play({Step(30ms, sim::fault::NsGrow{0, kNsBytes / kBs},  // to twice the size
               {sim::Eventually("the head and both paths at the new capacity",
                                [&] {
                                  return f.head()->capacity_blocks() == kTwice && f.BothUsable() &&
                                         f.path(0)->state().capacity_blocks == kTwice &&
                                         f.path(1)->state().capacity_blocks == kTwice;
                                },
                                2s),
                Now("each scanner saw one resize",
                    [&] {
                      return f.host()->scanner(0)->counters().resizes == 1 &&
                             f.host()->scanner(1)->counters().resizes == 1;
                    }),
                Now("the file grew",
                    [&] {
                      struct stat st {};
                      return ::stat(f.file().c_str(), &st) == 0 &&
                             static_cast<uint64_t>(st.st_size) == 2 * kNsBytes;
                    }),
                Pause(50ms)})},
         6);
}

// The host's observer hears a head's new capacity in the event in which the head took it — not
// a refresh period later (the Client used to poll every head each 20 ms).
struct GeometryLog : mpath::MultipathHostObserver {
  std::function<void(uint32_t)> on_geometry;
  int transfer_limit_changes = 0;
  void OnHeadGeometryChanged(uint32_t nsid) override { on_geometry(nsid); }
  void OnTransferLimitChanged() override { ++transfer_limit_changes; }
};

TEST_F(MultipathE2eTest, ResizeReachesTheHostObserverInTheSameEvent) {
  StartTarget(/*file_backed=*/true);
  std::vector<std::pair<TimePoint, uint64_t>> seen;  // (when, the head's capacity then)
  GeometryLog log;
  log.on_geometry = [&](uint32_t nsid) {
    EXPECT_EQ(nsid, 1u);
    seen.emplace_back(world_.now(), host_->head(nsid)->capacity_blocks());
  };
  StartHost();
  h0_->Post([&] { host_->SetObserver(&log); });
  world_.RunFor(1ms);
  EXPECT_TRUE(seen.empty());  // the head's first capacity came before the observer
  OnTarget([&] { ASSERT_TRUE(target_->ResizeNamespace(kSubnqn, 1, 2 * kNsBytes).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return head()->capacity_blocks() == 2 * kNsBytes / kBs; }, 2s));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, world_.now());
  EXPECT_EQ(seen[0].second, 2 * kNsBytes / kBs);
  world_.RunFor(50ms);  // the other path reports the same size: no change, no call
  EXPECT_EQ(seen.size(), 1u);
  h0_->Post([&] { host_->SetObserver(nullptr); });
  world_.RunFor(1ms);
}

// A controller that becomes live is reported (its MDTS may be new), reconnects included.
TEST_F(MultipathE2eTest, ControllerLiveReportsTheTransferLimit) {
  StartTarget();
  GeometryLog log;
  log.on_geometry = [](uint32_t) {};
  StartHost();
  h0_->Post([&] { host_->SetObserver(&log); });
  world_.RunFor(1ms);
  world_.network().Cut("127.0.0.1", kPort1);
  ASSERT_TRUE(world_.RunUntil([&] { return log.transfer_limit_changes == 1; }, 2s));
  EXPECT_TRUE(host_->controller(0)->live());
  h0_->Post([&] { host_->SetObserver(nullptr); });
  world_.RunFor(1ms);
}

// Start reports in the event that applies the last ANA log it waits for: both scanners' reads
// are held (the test hook), the scans end with every path ANA-pending, and Start waits — then
// reports inside the release of the second read, at that virtual instant. (It used to poll the
// paths every millisecond.)
TEST_F(MultipathE2eTest, StartReportsInTheEventThatAppliesTheLastAnaLog) {
  StartTarget();
  host_ = std::make_unique<mpath::MultipathHost>(HostOptions(),
                                                 std::vector<reactor::Reactor*>{h0_, h1_}, 0);
  std::optional<Status> st;
  TimePoint reported_at{};
  h0_->Post([&] {
    host_->Start([&](Status s) {
      st = s;
      reported_at = world_.now();
    });
    for (size_t i = 0; i < 2; ++i) host_->scanner(i)->TEST_HoldAnaLogReads(true);
  });
  auto scanned = [&](size_t i) {
    return host_->controller_count() == 2 && path(i) != nullptr && !host_->scanner(i)->scanning() &&
           host_->scanner(i)->counters().scans > 0;
  };
  ASSERT_TRUE(world_.RunUntil([&] { return scanned(0) && scanned(1); }, 5s));
  ASSERT_TRUE(path(0)->state().ana_pending && path(1)->state().ana_pending);
  world_.RunFor(20ms);
  EXPECT_FALSE(st.has_value()) << "Start reported with every path ANA-pending";

  bool reported_inside_release = true;
  h0_->Post([&] {
    host_->scanner(0)->TEST_HoldAnaLogReads(false);
    reported_inside_release = st.has_value();
  });
  world_.RunFor(5ms);
  EXPECT_FALSE(reported_inside_release) << "Start reported with path 2 still pending";
  EXPECT_FALSE(st.has_value());

  TimePoint released_at{};
  h0_->Post([&] {
    released_at = world_.now();
    host_->scanner(1)->TEST_HoldAnaLogReads(false);
    reported_inside_release = st.has_value();
  });
  ASSERT_TRUE(world_.RunUntil([&] { return st.has_value(); }, 1s));
  EXPECT_TRUE(reported_inside_release);
  EXPECT_EQ(reported_at, released_at);
  ASSERT_TRUE(st->ok()) << st->ToString();
  EXPECT_TRUE(BothUsable()) << Describe();
}

// A read that never ends does not hold Start past start_ana_wait, counted from the scan.
TEST_F(MultipathE2eTest, StartAnaWaitBoundsAnAnaLogThatDoesNotCome) {
  StartTarget();
  mpath::MultipathHostOptions o = HostOptions();
  o.start_ana_wait = 50ms;
  host_ = std::make_unique<mpath::MultipathHost>(o, std::vector<reactor::Reactor*>{h0_, h1_}, 0);
  std::optional<Status> st;
  h0_->Post([&] {
    host_->Start([&](Status s) { st = s; });
    for (size_t i = 0; i < 2; ++i) host_->scanner(i)->TEST_HoldAnaLogReads(true);
  });
  auto scanned = [&](size_t i) {
    return host_->controller_count() == 2 && path(i) != nullptr &&
           !host_->scanner(i)->scanning() && host_->scanner(i)->counters().scans > 0;
  };
  ASSERT_TRUE(world_.RunUntil([&] { return scanned(0) && scanned(1); }, 5s));
  const TimePoint last_scan_at = world_.now();
  ASSERT_TRUE(world_.RunUntil([&] { return st.has_value(); }, 1s));
  EXPECT_EQ(world_.now(), last_scan_at + 50ms);
  ASSERT_TRUE(st->ok()) << st->ToString();
  EXPECT_TRUE(path(0)->state().ana_pending);
  h0_->Post([&] {
    for (size_t i = 0; i < 2; ++i) host_->scanner(i)->TEST_HoldAnaLogReads(false);
  });
  ASSERT_TRUE(world_.RunUntil([&] { return BothUsable(); }, 1s)) << Describe();
}

// (f) Injected path errors on port 1 fail over; none reaches the application. An ANA
// transition status also marks the path pending and has the ANA log re-read, which brings the
// path back; a plain path error leaves its state alone (the head passes it over until its next
// path set), so the I/O moves to port 2.
TEST(MultipathFaultSchedule, InjectedPathErrorsFailOver) {
  FaultSchedule f(7);
  auto fail_next = [](uint16_t code) {
    return sim::fault::FailNext{.port = 0, .ns = 0, .status = NvmeStatus::Of(code), .count = 3};
  };
  auto failovers = [&] { return f.head()->TEST_Stats().head.failovers; };
  uint64_t failovers_after_ana = 0;
  f.Play({Step(30ms, fail_next(nvme::sc::kAnaTransition),
               {sim::Over("the ANA error fails over and has the ANA log re-read", 50ms,
                          [&] {
                            const uint64_t reads = f.host()->scanner(0)->counters().ana_reads;
                            return [&, reads] {
                              failovers_after_ana = failovers();
                              return failovers_after_ana >= 1 &&
                                     f.host()->scanner(0)->counters().ana_reads > reads;
                            };
                          }),
                sim::Eventually("both paths usable", [&] { return f.BothUsable(); }, 1s),
                Grows("port 1 used again after the ANA log re-read", 50ms,
                      [&] { return f.PathIos(0); }, 20)}),
          Step(0ms, fail_next(nvme::sc::kInternalPathError),
               {sim::Over("the path error fails over to port 2", 50ms, [&] {
                 const uint64_t p2 = f.PathIos(1);
                 return [&, p2] { return failovers() > failovers_after_ana && f.PathIos(1) > p2; };
               })})},
         7);
}

// (g) The target drops every connection of port 1: the controller reconnects, no error.
TEST(MultipathFaultSchedule, DroppedConnectionsReconnect) {
  FaultSchedule f(8);
  f.Play({Step(30ms, sim::fault::DropConnections{0},
               {sim::Eventually("port 1 reconnected and both paths usable",
                                [&] {
                                  return f.host()->controller(0)->associations() == 2 &&
                                         f.BothUsable();
                                },
                                3s),
                Pause(50ms)})},
         8);
}

// (h) Responses on port 1 stall past the I/O timeout: the controller resets, in-flight I/O fails
// over to port 2, and port 1 comes back once responses flow again.
TEST(MultipathFaultSchedule, StalledResponsesTimeOutResetAndFailOver) {
  FaultSchedule f(9);
  f.Play({Step(30ms, sim::fault::StallResponses{0, true},
               {sim::Eventually("port 1's controller leaves live",
                                [&] { return !f.host()->controller(0)->live(); }, 3s),
                Grows("I/O moves to port 2", 200ms, [&] { return f.PathIos(1); }, 50)}),
          Step(0ms, sim::fault::StallResponses{0, false},
               {sim::Eventually("both paths usable", [&] { return f.BothUsable(); }, 15s),
                Pause(50ms),
                Now("port 1 associated again",
                    [&] { return f.host()->controller(0)->associations() >= 2; })})},
         9);
}

// Two targets serve the same subsystem NQN and NSID with different identifiers: the second
// namespace is refused and reported, never merged into the first's head.
TEST(MultipathIdentityTest, MismatchedIdentifiersAreReportedNotMerged) {
  reactor::SimWorld world(3);
  reactor::Sim* h = world.AddReactor();
  reactor::Sim* t = world.AddReactor();
  std::vector<std::unique_ptr<target::Target>> targets;
  for (uint16_t port : {kPort1, kPort2}) {
    target::TargetConfig c;
    c.ports = {{.id = 1, .address = "127.0.0.1", .port = port}};
    target::SubsystemConfig s;
    s.nqn = kSubnqn;
    target::NamespaceConfig ns = Namespace("");
    ns.nguid = std::array<uint8_t, 16>{};
    (*ns.nguid)[0] = static_cast<uint8_t>(port);  // differs per target
    ns.uuid = std::array<uint8_t, 16>{};
    (*ns.uuid)[15] = static_cast<uint8_t>(port);
    s.namespaces = {ns};
    c.subsystems.push_back(s);
    auto tt = target::Target::Create(c, {t});
    ASSERT_TRUE(tt.ok()) << tt.status().ToString();
    ASSERT_TRUE((*tt)->Start().ok());
    targets.push_back(std::move(*tt));
  }
  mpath::MultipathHostOptions o;
  o.subnqn = kSubnqn;
  o.hostnqn = kHostnqn;
  o.paths = {{"127.0.0.1", kPort1}, {"127.0.0.1", kPort2}};
  mpath::MultipathHost host(o, {h}, 0);
  std::optional<Status> st;
  h->Post([&] { host.Start([&](Status s) { st = s; }); });
  ASSERT_TRUE(world.RunUntil([&] { return st.has_value(); }, 10s));
  ASSERT_TRUE(st->ok()) << st->ToString();
  world.RunFor(100ms);
  ASSERT_NE(host.head(1), nullptr);
  EXPECT_EQ(host.head(1)->path_count(), 1u);
  EXPECT_EQ(host.counters().identity_mismatches, 1u);
  ASSERT_FALSE(host.errors().empty());
  EXPECT_NE(host.errors().back().message().find("don't match"), std::string::npos)
      << host.errors().back().ToString();
  bool done = false;
  h->Post([&] { host.Shutdown([&] { done = true; }); });
  ASSERT_TRUE(world.RunUntil([&] { return done; }, 10s));
  world.RunFor(10ms);
  for (auto& tt : targets) {
    bool stopped = false;
    tt->Stop([&] { stopped = true; });
    world.RunUntil([&] { return stopped; }, 5s);
  }
}

}  // namespace
}  // namespace nvmpath
