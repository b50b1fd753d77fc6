// The multipath host over real sockets: mpath::MultipathHost and the project's target on one
// reactor::Uring, over 127.0.0.1.
//
// Goal: what the Sim suite shows holds over the kernel's TCP too — baseline verify, and port 1
// disabled (I/O moves to port 2 with zero application errors) and re-enabled (port 1 is used
// again). Method: free ports are found by binding port 0 once (the target re-binds the configured
// port when a port is re-enabled, so it must be a fixed one); the loop is driven with RunOnce.
#include <gtest/gtest.h>

#include <optional>

#include "mpath/multipath_host.h"
#include "reactor/uring.h"
#include "sim/verify_workload.h"
#include "target/target.h"

namespace nvmpath {
namespace {

using namespace std::chrono_literals;

constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:e2e-uring";
constexpr char kHostnqn[] = "nqn.2024-01.io.nvmpath:e2e-uring-host";

target::TargetConfig Config(uint16_t p1, uint16_t p2) {
  target::TargetConfig c;
  c.ports = {{.id = 1, .address = "127.0.0.1", .port = p1},
             {.id = 2, .address = "127.0.0.1", .port = p2}};
  target::SubsystemConfig s;
  s.nqn = kSubnqn;
  s.namespaces = {{.nsid = 1, .size_bytes = 1 << 20, .block_size = 512, .ana_group = 1}};
  c.subsystems.push_back(s);
  c.ana = {{.port_id = 2, .group = 1, .state = nvme::AnaState::kNonOptimized}};
  return c;
}

TEST(MultipathUringTest, BaselineAndPortDisableEnable) {
  auto u = reactor::Uring::Create(0);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  reactor::Uring* r = u->get();
  auto run_until = [&](const std::function<bool()>& done, Duration limit) {
    const TimePoint end = r->now() + limit;
    while (!done() && r->now() < end) r->RunOnce(2ms);
    return done();
  };
  auto run_for = [&](Duration d) { run_until([] { return false; }, d); };

  // Two free ports, then the real target on them.
  uint16_t p1 = 0, p2 = 0;
  {
    auto probe = target::Target::Create(Config(0, 0), {r});
    ASSERT_TRUE(probe.ok());
    ASSERT_TRUE((*probe)->Start().ok());
    p1 = (*probe)->BoundPort(1);
    p2 = (*probe)->BoundPort(2);
    bool stopped = false;
    (*probe)->Stop([&] { stopped = true; });
    ASSERT_TRUE(run_until([&] { return stopped; }, 5s));
  }
  auto t = target::Target::Create(Config(p1, p2), {r});
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Start().ok()) << "ports " << p1 << ", " << p2;

  mpath::MultipathHostOptions o;
  o.subnqn = kSubnqn;
  o.hostnqn = kHostnqn;
  o.paths = {{"127.0.0.1", p1}, {"127.0.0.1", p2}};
  o.controller.reconnect_delay = 100ms;
  o.controller.ctrl_loss_tmo = 30s;
  o.controller.io_timeout = 2s;
  mpath::MultipathHost host(o, {r}, 0);
  std::optional<Status> st;
  r->Post([&] { host.Start([&](Status s) { st = s; }); });
  ASSERT_TRUE(run_until([&] { return st.has_value(); }, 10s));
  ASSERT_TRUE(st->ok()) << st->ToString();
  auto usable = [&](size_t i) {
    host::PathNs* p = host.scanner(i)->path(1);
    if (!p) return false;
    auto s = p->state();
    return s.ctrl == blk::CtrlState::kLive && s.ready && !s.ana_pending;
  };
  auto ios = [&](size_t i) {
    host::PathNs* p = host.scanner(i)->path(1);
    return p ? p->TEST_Counters().submitted : 0;
  };
  ASSERT_TRUE(run_until([&] { return usable(0) && usable(1); }, 5s));
  mpath::Head* head = host.head(1);
  ASSERT_NE(head, nullptr);

  sim::VerifyWorkloadOptions w;
  w.blocks = 256;
  w.max_blocks_per_io = 8;
  w.queue_depth = 8;
  w.error_backoff = 1ms;
  sim::VerifyWorkload workload(*head, *r, w, nullptr, nullptr);
  r->Post([&] { workload.Start(); });
  run_for(200ms);
  EXPECT_GT(ios(0), 20u);

  r->Post([&] { ASSERT_TRUE((*t)->SetPortEnabled(1, false).ok()); });
  ASSERT_TRUE(run_until([&] { return !host.controller(0)->live(); }, 5s));
  const uint64_t p2_before = ios(1);
  run_for(300ms);
  EXPECT_GT(ios(1), p2_before + 20) << "I/O did not move to port 2";

  r->Post([&] { ASSERT_TRUE((*t)->SetPortEnabled(1, true).ok()); });
  ASSERT_TRUE(run_until([&] { return usable(0) && head->HasUsablePath(); }, 10s))
      << head->DescribePathStates();
  const uint64_t p1_back = ios(0);
  run_for(200ms);
  EXPECT_GT(ios(0), p1_back + 20) << "I/O did not return to port 1";

  bool verified = false;
  r->Post([&] { workload.Stop([&] { workload.VerifyAll([&] { verified = true; }); }); });
  ASSERT_TRUE(run_until([&] { return verified; }, 20s));
  EXPECT_GT(workload.stats().ios, 100u);
  EXPECT_EQ(workload.stats().errors, 0u);
  EXPECT_EQ(workload.stats().mismatches, 0u);

  bool down = false;
  r->Post([&] { host.Shutdown([&] { down = true; }); });
  ASSERT_TRUE(run_until([&] { return down; }, 10s));
  run_for(10ms);
  bool stopped = false;
  r->Post([&] { (*t)->Stop([&] { stopped = true; }); });
  ASSERT_TRUE(run_until([&] { return stopped; }, 5s));
}

}  // namespace
}  // namespace nvmpath
