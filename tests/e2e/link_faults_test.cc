// Faults on real links: the multipath host against the real `nvmpath target` process, each path
// over its own veth link between two network namespaces the test makes (netns_fixture.h).
//
// Goal: what the in-process tests show holds when the kernel's network is what fails — zero
// application errors while a path is usable, zero verify mismatches — for: a link taken down, a
// link that silently drops everything while staying up (only keep-alive can notice), a
// rate-limited link under queue-depth, and the blktests nvme/057 and nvme/058 schedules.
//
// Method: the test thread enters the host namespace before the fabric creates its reactor, so
// every host socket lives there; the target runs as `ip netns exec <target> nvmpath target
// --config` (e2e::ProcessFabric), driven through its control socket (a Unix socket in a temp dir,
// reachable from both namespaces). Every test is a schedule of sim::Fault values the scenario
// runner plays, as every scenario: link faults on the veth links (PlayOnLink: link i is the
// vocabulary's port index), target faults over the control socket (sim::FaultToRpc), the host's
// policy switch as a host fault (HostPolicy); each step's measurements are its expectations. The
// runner puts a sim::VerifyWorkload on each head, with a sim::InvariantChecker that records
// whether the head had a usable path whenever it failed a Bio.
//
// Needs root, `ip`, `nft` and `tc`; otherwise every test is skipped with the reason. Times: the
// blktests nvme/057 schedule is shortened 5x; nvme/058 has no timing of its own: its 11 rounds
// run in full, each change 0..19 ms after the last, as its shell's configfs writes; keep-alive is
// 1 s.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <set>

#include "mpath/multipath_host.h"
#include "netns_fixture.h"
#include "process_fabric.h"
#include "sim/fault.h"
#include "sim/runner.h"
#include "sim/target_faults.h"

#ifndef NVMPATH_BINARY
#error "NVMPATH_BINARY must name the nvmpath executable"
#endif

namespace nvmpath {
namespace {

using namespace std::chrono_literals;
using nvme::AnaState;

constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:e2e-links";
constexpr char kHostnqn[] = "nqn.2024-01.io.nvmpath:e2e-links-host";

// A target port: which veth link it listens on, and its TCP port there.
struct PortSpec {
  uint16_t id;
  int link;
  uint16_t tcp_port;
};

class LinkFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = e2e::NetnsUnavailableReason();
    if (!why.empty()) GTEST_SKIP() << "link-fault tests skipped: " << why;
    auto net = e2e::NetnsPair::Create(2);
    if (!net.ok() && net.status().code() == Code::kUnavailable) {
      GTEST_SKIP() << "link-fault tests skipped: " << net.status().message();
    }
    ASSERT_TRUE(net.ok()) << net.status().ToString();
    net_ = std::move(*net);
    char dir[] = "/tmp/nvmpath-links-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    // Before any fabric makes its reactor: the host's sockets must be born in the host namespace.
    ASSERT_TRUE(net_->EnterHostNamespace().ok());
  }

  // Always: namespaces deleted (each fabric has stopped its host and target, or kept them alive
  // if they hung) and the temp dir removed.
  void TearDown() override {
    net_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // ---- the links ----
  std::string PortAddress(const PortSpec& p) const { return net_->link(p.link).target_addr; }

  // A link fault on veth link `port` (the index names the link here; ports on it all lose it).
  Status PlayOnLink(const sim::Fault& fault) {
    if (auto* f = std::get_if<sim::fault::LinkDown>(&fault)) return net_->SetLinkUp(f->port, !f->down);
    if (auto* f = std::get_if<sim::fault::LinkStall>(&fault)) {
      return net_->SetDropped(f->port, f->stalled);
    }
    if (auto* f = std::get_if<sim::fault::LinkRate>(&fault)) {
      return net_->SetRateLimit(f->port,
                                f->bits_per_s ? fmt::format("{}kbit", f->bits_per_s / 1000) : "");
    }
    return Status(Code::kUnsupported,
                  fmt::format("\"{}\" is not played on veth links", sim::Describe(fault)));
  }

  // ---- the host ----
  mpath::MultipathHostOptions HostOptions(const std::vector<PortSpec>& ports,
                                          Duration io_timeout) const {
    mpath::MultipathHostOptions o;
    o.subnqn = kSubnqn;
    o.hostnqn = kHostnqn;
    for (const auto& p : ports) o.paths.push_back({PortAddress(p), p.tcp_port});
    // Detection within about a second and a half of a silent drop: keep-alive every 0.5 s, each
    // allowed 1 s. Reconnect quickly and forever: a path that comes back must be used again.
    o.controller.kato = 1s;
    o.controller.reconnect_delay = 200ms;
    o.controller.ctrl_loss_tmo = Duration(-1);
    o.controller.connect_timeout = 2s;
    o.controller.io_timeout = io_timeout;
    return o;
  }
  // The fabric's host, while the runner plays a schedule on it.
  mpath::MultipathHost* host() const { return fabric_->host(); }

  // Path i (the i-th configured port) of namespace `nsid` can take I/O now.
  bool Usable(size_t i, uint32_t nsid = 1) const {
    host::PathNs* p = host()->scanner(i)->path(nsid);
    if (p == nullptr) return false;
    auto s = p->state();
    return s.ctrl == blk::CtrlState::kLive && s.ready && !s.ana_pending &&
           (s.ana == nvme::AnaState::kOptimized || s.ana == nvme::AnaState::kNonOptimized);
  }
  uint64_t Ios(size_t i, uint32_t nsid = 1) const {
    host::PathNs* p = host()->scanner(i)->path(nsid);
    return p ? p->TEST_Counters().submitted : 0;
  }

  // ---- schedules played by the scenario runner ----
  // The fabric for `ports` (ANA per port for group 1, as `ana`) and one 1 MiB memory namespace.
  e2e::ProcessFabricOptions FabricOptions(const std::vector<PortSpec>& ports,
                                          const std::vector<nvme::AnaState>& ana,
                                          Duration io_timeout = 3s) {
    sim::TargetModel model =
        sim::TargetModel::Make(kSubnqn, static_cast<int>(ports.size()), 0, 1, 1 << 20);
    for (size_t p = 0; p < ports.size(); ++p) model.ana[p][0] = ana[p];
    return FabricOptions(ports, std::move(model), io_timeout);
  }
  // The fabric for `ports` and the target `model` describes (its ports' addresses set here):
  // `nvmpath target` in the target namespace, started, killed and stopped through the netns
  // pair; link faults on the veth links; the host as HostOptions makes it.
  e2e::ProcessFabricOptions FabricOptions(const std::vector<PortSpec>& ports,
                                          sim::TargetModel model, Duration io_timeout = 3s) {
    e2e::ProcessFabricOptions o;
    o.nvmpath_binary = NVMPATH_BINARY;
    o.dir = dir_;
    o.model = std::move(model);
    o.model.serial = "e2e-links";
    o.model.tcp_ports.clear();
    o.model.port_addresses.clear();
    for (size_t p = 0; p < ports.size(); ++p) {
      o.model.tcp_ports.push_back(ports[p].tcp_port);
      o.model.port_addresses.push_back(PortAddress(ports[p]));
    }
    o.model.healed_ana = o.model.ana;
    o.host = HostOptions(ports, io_timeout);
    o.spawn = [this](const std::vector<std::string>& argv, const std::string& log) {
      return net_->SpawnInTarget(argv, log);
    };
    auto ended = [](const std::string& how, const std::string& expected) {
      if (how == expected) return Status::Ok();
      return Status(Code::kInternal, "the target ended with " + how + ", not " + expected);
    };
    o.kill = [this, ended](pid_t pid) { return ended(net_->Kill(pid), "signal 9"); };
    o.stop = [this, ended](pid_t pid) { return ended(net_->Stop(pid), "exit 0"); };
    // The heal undoes only what is in effect (an nftables table that is not there cannot be
    // deleted): which links are down or dropping.
    auto broken = std::make_shared<std::set<std::pair<int, bool>>>();  // (link, dropping)
    o.play_link = [this, broken](const sim::Fault& f) {
      auto note = [&](int link, bool dropping, bool broken_now) {
        if (broken_now) {
          broken->insert({link, dropping});
        } else {
          broken->erase({link, dropping});
        }
      };
      if (auto* d = std::get_if<sim::fault::LinkDown>(&f)) note(d->port, false, d->down);
      if (auto* d = std::get_if<sim::fault::LinkStall>(&f)) note(d->port, true, d->stalled);
      return PlayOnLink(f);
    };
    o.heal_links = [this, broken] {
      for (const auto& [link, dropping] : *broken) {
        NVMP_RETURN_IF_ERROR(dropping ? net_->SetDropped(link, false) : net_->SetLinkUp(link, true));
      }
      broken->clear();
      return Status::Ok();
    };
    return o;
  }

  // Plays `schedule` with a verify workload of `blocks` blocks at `queue_depth` on each head, and
  // checks: no violation (no Bio failed while its head had a usable path, every Bio completed
  // once, every expectation met, every path back), more than 50 I/Os on every head, no verify
  // mismatch, and — unless `errors_without_a_path` (a schedule that leaves heads without any
  // path) — no application error at all.
  sim::ScenarioReport PlaySchedule(e2e::ProcessFabric& fabric, const sim::Schedule& schedule,
                                   uint64_t blocks, uint32_t queue_depth,
                                   bool errors_without_a_path = false) {
    fabric_ = &fabric;
    sim::ScenarioOptions o{.seed = 1};
    o.blocks = blocks;
    o.max_blocks_per_io = 8;
    o.queue_depth = queue_depth;
    o.error_backoff = 1ms;
    o.settle_limit = 60s;
    o.on_line = [](const std::string& l) { std::cout << "  " << l << "\n"; };
    sim::ScenarioReport r = sim::RunScenario(fabric, schedule, o);
    fabric_ = nullptr;
    EXPECT_TRUE(r.ok()) << ::testing::PrintToString(r.violations) << "\ntarget log:\n"
                        << fabric.TargetLog();
    EXPECT_FALSE(r.hung);
    EXPECT_EQ(r.head_ios.size(), static_cast<size_t>(fabric.model().namespaces()));
    for (size_t h = 0; h < r.head_ios.size(); ++h) EXPECT_GT(r.head_ios[h], 50u) << "head " << h;
    EXPECT_EQ(r.mismatches, 0u);
    if (!errors_without_a_path) {
      EXPECT_EQ(r.app_errors, 0u) << "an application error although a path was usable throughout";
    }
    return r;
  }

  std::unique_ptr<e2e::NetnsPair> net_;
  e2e::ProcessFabric* fabric_ = nullptr;  // while PlaySchedule runs
  std::string dir_;
};

// Port 1 on link 1 (optimized), port 2 on link 2 (non-optimized): under the default numa policy
// all I/O uses link 1 while it works.
const std::vector<PortSpec> kTwoLinks = {{.id = 1, .link = 0, .tcp_port = 4420},
                                         {.id = 2, .link = 1, .tcp_port = 4420}};

TEST_F(LinkFaultsTest, LinkDownMovesIoToTheOtherLinkAndBackAfterRestore) {
  e2e::ProcessFabric f(FabricOptions(kTwoLinks, {AnaState::kOptimized, AnaState::kNonOptimized}));
  sim::Schedule s = {{.at = 300ms, .fault = sim::fault::LinkDown{0, true}},
                     {.at = 0ms, .fault = sim::fault::LinkDown{0, false}}};
  // Armed when the link has just gone down: what the links carried until then.
  s[0].expect.push_back(sim::Over("at baseline, I/O on link 1 and next to none on link 2",
                                  Duration(0), [&] {
                                    const uint64_t a = Ios(0), b = Ios(1);
                                    return [a, b] { return a > 20 && b < a / 10 + 5; };
                                  }));
  s[0].expect.push_back(sim::Eventually("controller 1 leaves live within 20 s of the link going down",
                                        [&] { return !host()->controller(0)->live(); }, 20s));
  s[0].expect.push_back(sim::Over(
      "over 500 ms no I/O on the down link, 20 more on link 2, the head usable", 500ms, [&] {
        std::cout << "link down noticed: " << host()->controller(0)->last_error().ToString()
                  << "\n";
        const uint64_t a = Ios(0), b = Ios(1);
        return [&, a, b] { return Ios(0) == a && Ios(1) > b + 20 && host()->head(1)->HasUsablePath(); };
      }));
  s[1].expect.push_back(sim::Eventually("link 1 usable again within 30 s of the restore",
                                        [&] { return Usable(0); }, 30s));
  s[1].expect.push_back(sim::Over("100 ms pass", 100ms, [] { return [] { return true; }; }));
  s[1].expect.push_back(sim::Over(
      "over 300 ms I/O back on link 1 (20 more), next to none left on link 2", 300ms, [&] {
        const uint64_t a = Ios(0), b = Ios(1);
        return [&, a, b] { return Ios(0) > a + 20 && Ios(1) - b < (Ios(0) - a) / 10 + 5; };
      }));
  PlaySchedule(f, s, 256, 8);
}

TEST_F(LinkFaultsTest, SilentDropIsNoticedByKeepAliveAndIoMovesAndReturns) {
  // I/O timeout well above keep-alive's, so the keep-alive is what notices the drop.
  e2e::ProcessFabric f(
      FabricOptions(kTwoLinks, {AnaState::kOptimized, AnaState::kNonOptimized}, /*io_timeout=*/8s));
  sim::Schedule s = {{.at = 300ms, .fault = sim::fault::LinkStall{0, true}},
                     {.at = 0ms, .fault = sim::fault::LinkStall{0, false}}};
  uint64_t kas_before = 0;
  TimePoint dropped_at{};
  s[0].expect.push_back(sim::Over("at baseline, I/O on link 1", Duration(0), [&] {
    kas_before = host()->controller(0)->keep_alives_sent();
    dropped_at = f.now();
    const uint64_t a = Ios(0);
    return [a] { return a > 20; };
  }));
  s[0].expect.push_back(
      sim::Eventually("controller 1 leaves live within 20 s of its link dropping everything",
                      [&] { return !host()->controller(0)->live(); }, 20s));
  // The link is up and nothing is refused, so no socket error can tell: the Keep Alive command
  // (opcode 0x18) timing out on the admin queue is what noticed.
  s[0].expect.push_back(sim::Over("the Keep Alive command timed out", Duration(0), [&] {
    const Status why = host()->controller(0)->last_error();
    std::cout << "silent drop noticed after " << ToSeconds(f.now() - dropped_at)
              << " s: " << why.ToString() << "\n";
    return [&, why] {
      return why.code() == Code::kTimedOut &&
             why.message().find("command 0x18") != std::string::npos &&
             host()->controller(0)->keep_alives_sent() > kas_before;
    };
  }));
  s[0].expect.push_back(sim::Over("over 500 ms, 20 more I/Os on link 2", 500ms, [&] {
    const uint64_t b = Ios(1);
    return [&, b] { return Ios(1) > b + 20; };
  }));
  // While the drop lasts, reconnects time out; none may succeed.
  s[0].expect.push_back(sim::Over("1 s on, no reconnect through the dropping link", 1s, [&] {
    return [&] { return !host()->controller(0)->live(); };
  }));
  s[1].expect.push_back(sim::Eventually("link 1 usable again within 30 s of the drop ending",
                                        [&] { return Usable(0); }, 30s));
  s[1].expect.push_back(sim::Over("100 ms pass", 100ms, [] { return [] { return true; }; }));
  s[1].expect.push_back(sim::Over("over 300 ms, I/O back on link 1 (20 more)", 300ms, [&] {
    const uint64_t a = Ios(0);
    return [&, a] { return Ios(0) > a + 20; };
  }));
  PlaySchedule(f, s, 256, 8);
}

// Round-robin alternates regardless of speed; queue-depth sends each I/O to the path with the
// fewest in flight, and the slow link keeps its I/O longest. The same rate-limited link measured
// under both policies: the policy switch between the two windows is a host fault (HostPolicy).
TEST_F(LinkFaultsTest, QueueDepthMovesLoadOffARateLimitedLink) {
  // Whether the kernel can rate-limit a link at all (tc's tbf qdisc), before anything runs.
  Status can_limit = net_->SetRateLimit(0, "8000kbit");
  if (can_limit.code() == Code::kUnsupported) GTEST_SKIP() << can_limit.message();
  ASSERT_TRUE(can_limit.ok()) << can_limit.ToString();
  ASSERT_TRUE(net_->SetRateLimit(0, "").ok());
  // Both links optimized, so both policies may use both.
  e2e::ProcessFabric f(FabricOptions(kTwoLinks, {AnaState::kOptimized, AnaState::kOptimized},
                                     /*io_timeout=*/10s));
  // The rate-limited link's share of the I/O over a window: armed at its start.
  double rr = 0, qd = 0;
  auto share_of_link1 = [&](std::string what, Duration window, double* share,
                            std::function<bool(double)> ok) {
    return sim::Over(std::move(what), window, [&, share, ok] {
      const uint64_t a0 = Ios(0), b0 = Ios(1);
      return [&, share, ok, a0, b0] {
        const double a = static_cast<double>(Ios(0) - a0), b = static_cast<double>(Ios(1) - b0);
        *share = a / std::max(1.0, a + b);
        std::cout << "rate-limited link's share of " << a + b << " I/Os: " << *share << "\n";
        return a + b > 50 && ok(*share);
      };
    });
  };
  auto pause = [](Duration d) {
    return sim::Over(fmt::format("{} ms pass", ToMicros(d) / 1000), d,
                     [] { return [] { return true; }; });
  };
  sim::Schedule s = {
      {.at = 0ms, .fault = sim::fault::HostPolicy{0, mpath::Policy::kRoundRobin}},
      {.at = 0ms,
       .fault = sim::fault::LinkRate{0, 8'000'000},
       .expect = {pause(200ms),
                  share_of_link1("round-robin: 50+ I/Os over 2 s, more than 35% of them on the "
                                 "rate-limited link 1 (both links used)",
                                 2s, &rr, [](double share) { return share > 0.35; })}},
      {.at = 0ms,
       .fault = sim::fault::HostPolicy{0, mpath::Policy::kQueueDepth},
       .expect = {pause(500ms),
                  share_of_link1("queue-depth: 50+ I/Os over 2 s, link 1's share under half "
                                 "round-robin's and under 25% (load moved off the slow link)",
                                 2s, &qd, [&](double share) { return share < rr / 2 && share < 0.25; })}},
      {.at = 0ms, .fault = sim::fault::LinkRate{0, 0}}};
  PlaySchedule(f, s, 1024, 16);
  std::cout << "rate-limited link's share of I/O: round-robin " << rr << ", queue-depth " << qd
            << "\n";
}

// blktests nvme/057 "ANA failover during I/O", over two links: ports 1 and 2 on link 1, ports 3
// and 4 on link 2, one namespace in ANA group 1. Failback state: 1 optimized, 2 non-optimized,
// 3 and 4 inaccessible; failover state: 3 optimized, 4 non-optimized, 1 and 2 inaccessible.
// Schedule (057: 5 s, flip, 10 s, flip back, 10 s), shortened 5x: 1 s, flip, 2 s, flip, 2 s,
// played by the scenario runner with each phase's measurement as an expectation.
TEST_F(LinkFaultsTest, Blktests057AnaFailoverDuringIo) {
  const std::vector<PortSpec> ports = {{.id = 1, .link = 0, .tcp_port = 4420},
                                       {.id = 2, .link = 0, .tcp_port = 4421},
                                       {.id = 3, .link = 1, .tcp_port = 4420},
                                       {.id = 4, .link = 1, .tcp_port = 4421}};
  const std::vector<AnaState> failback = {AnaState::kOptimized, AnaState::kNonOptimized,
                                          AnaState::kInaccessible, AnaState::kInaccessible};
  const std::vector<AnaState> failover = {AnaState::kInaccessible, AnaState::kInaccessible,
                                          AnaState::kOptimized, AnaState::kNonOptimized};
  e2e::ProcessFabric f(FabricOptions(ports, failback));

  // I/O per port over `window`: the window's end minus its start.
  auto per_port = [&] {
    std::vector<uint64_t> v;
    for (size_t i = 0; i < ports.size(); ++i) v.push_back(Ios(i));
    return v;
  };
  auto window = [&](std::string what, Duration length,
                    std::function<bool(const std::vector<uint64_t>&)> ok) {
    return sim::Over(std::move(what), length, [&, ok] {
      const std::vector<uint64_t> before = per_port();
      return [&, ok, before] {
        std::vector<uint64_t> d = per_port();
        for (size_t i = 0; i < d.size(); ++i) d[i] -= before[i];
        return ok(d);
      };
    });
  };
  auto pause = [](Duration d) {
    return sim::Over(fmt::format("{} ms pass", ToMicros(d) / 1000), d,
                     [] { return [] { return true; }; });
  };
  // A state applied port by port, as 057 writes the ports' ana_state files in turn; then the rest
  // of the phase (the first part lets the host read the ANA log) and its measured window.
  sim::Schedule s;
  auto flip = [&](const std::vector<AnaState>& state, sim::Expectation measured) {
    for (int p = 0; p < 4; ++p) {
      s.push_back({.at = 0ms, .fault = sim::fault::Ana{p, 0, state[p]}, .expect = {pause(2ms)}});
    }
    s.back().expect.push_back(pause(500ms));
    s.back().expect.push_back(std::move(measured));
  };
  // Failback state over [300 ms, 1 s) of the run.
  s.push_back({.at = 300ms,
               .fault = sim::fault::Checkpoint{},
               .expect = {window("failback state: port 1 carried I/O, none went to an "
                                 "inaccessible port",
                                 700ms,
                                 [](const auto& d) { return d[0] > 20 && d[2] + d[3] == 0; })}});
  flip(failover, window("failover state: I/O moved to port 3 (link 2), none to an inaccessible "
                        "port",
                        1500ms, [](const auto& d) { return d[2] > 20 && d[0] + d[1] == 0; }));
  flip(failback, window("failback: I/O returned to port 1 (link 1), none to an inaccessible port",
                        1500ms, [](const auto& d) { return d[0] > 20 && d[2] + d[3] == 0; }));
  // 057 passes when fio verify sees no error: the head always had a path that could return.
  PlaySchedule(f, s, 512, 8);
}

// blktests nvme/058 "rapid namespace remapping", over two links: 6 ports (odd ones on link 1,
// even ones on link 2), namespaces 1..3 in ANA groups 1..3; port 2g-1 is optimized and port 2g
// non-optimized for group g, every other (port, group) inaccessible. Each round removes all three
// namespaces in random order, then re-adds each (random order) with new identifiers: 058's 11
// rounds (it has no I/O of its own; here a verify workload runs on every head throughout).
// The namespaces are files, so the data survives the remap and every acknowledged write must
// still read back.
TEST_F(LinkFaultsTest, Blktests058RapidNamespaceRemapping) {
  constexpr int kRounds = 11;
  std::vector<PortSpec> ports;
  for (uint16_t p = 1; p <= 6; ++p) {
    ports.push_back(
        {.id = p, .link = (p - 1) % 2, .tcp_port = static_cast<uint16_t>(4420 + (p - 1) / 2)});
  }
  // The target as every scenario describes it: port index p is port ID p + 1, namespace index h
  // is NSID h + 1 in ANA group h + 1, on its file. A remap is the vocabulary's NsRemapped: the
  // namespace back on its file with new identifiers (ns_remove + ns_add with NGUID, EUI-64 and
  // UUID), numbered here so each add is new.
  std::vector<std::string> files;
  for (uint32_t nsid = 1; nsid <= 3; ++nsid) {
    files.push_back(fmt::format("{}/ns{}.img", dir_, nsid));
    std::ofstream(files.back()).close();
    std::filesystem::resize_file(files.back(), 1 << 20);
  }
  sim::TargetModel model = sim::TargetModel::Make(kSubnqn, 6, 0, 3, 1 << 20, files);
  for (int p = 0; p < 6; ++p) {
    for (int h = 0; h < 3; ++h) {
      model.ana[p][h] = p == 2 * h       ? AnaState::kOptimized
                        : p == 2 * h + 1 ? AnaState::kNonOptimized
                                         : AnaState::kInaccessible;
    }
  }
  e2e::ProcessFabric f(FabricOptions(ports, std::move(model)));
  uint32_t identity = 0;

  // 058's shell takes a few milliseconds per configfs write: each change comes 0..19 ms after the
  // last one played, and the host reacts to the AENs in between (or not yet, at 0).
  const unsigned seed = static_cast<unsigned>(std::random_device{}());
  std::cout << "058 schedule seed " << seed << "\n";
  std::mt19937 rng(seed);
  sim::Schedule s;
  Duration at = 300ms;
  auto next = [&](sim::Fault fault) {
    s.push_back({.at = at, .fault = std::move(fault)});
    at += std::chrono::milliseconds(rng() % 20);
  };
  for (int round = 0; round < kRounds; ++round) {
    std::vector<int> order = {0, 1, 2};
    std::shuffle(order.begin(), order.end(), rng);
    for (int ns : order) next(sim::fault::NsPresent{ns, false});
    std::shuffle(order.begin(), order.end(), rng);
    for (int ns : order) next(sim::fault::NsRemapped{ns, ++identity});
  }
  TimePoint rounds_start{};
  s.front().expect.push_back(sim::Over("the rounds start", Duration(0), [&] {
    rounds_start = f.now();
    return [] { return true; };
  }));
  s.back().expect.push_back(sim::Over("the 11 rounds played within 60 s", Duration(0), [&] {
    return [&] { return f.now() - rounds_start < 60s; };
  }));
  auto head = [&](uint32_t nsid) { return host()->head(nsid); };
  // A rapid remap can leave a controller's new namespace refused for good (it was scanned while
  // the head still had a path with the old identifiers; Linux refuses it the same way and only
  // the next rescan retries). One settled remap then brings every path back: remove all three,
  // wait until every head has lost every path, re-add them.
  for (int ns = 0; ns < 3; ++ns) s.push_back({.at = 0ms, .fault = sim::fault::NsPresent{ns, false}});
  for (uint32_t nsid = 1; nsid <= 3; ++nsid) {
    s.back().expect.push_back(sim::Eventually(
        fmt::format("namespace {} removed: its head loses every path within 20 s", nsid),
        [&, nsid] { return head(nsid)->path_count() == 0; }, 20s));
  }
  for (int ns = 0; ns < 3; ++ns) {
    s.push_back({.at = 0ms, .fault = sim::fault::NsRemapped{ns, ++identity}});
  }
  for (uint32_t nsid = 1; nsid <= 3; ++nsid) {
    s.back().expect.push_back(sim::Eventually(
        fmt::format("namespace {} remapped: its head gets its 6 paths back within 20 s", nsid),
        [&, nsid] { return head(nsid)->path_count() == 6 && head(nsid)->HasUsablePath(); }, 20s));
  }
  s.back().expect.push_back(sim::Over("300 ms pass", 300ms, [] { return [] { return true; }; }));
  // Each round ends with every old path gone, so each head moved on to new identifiers at least
  // once in the rapid rounds (a slow host may fold rounds together) and once in the settled one.
  s.back().expect.push_back(sim::Over(
      "every head took new identifiers at least twice (identity_replaced >= 6), and no head was "
      "created for a namespace that never existed",
      Duration(0), [&] {
        return [&] {
          const auto& c = host()->counters();
          std::cout << "058: heads took new identifiers " << c.identity_replaced << " times; "
                    << c.identity_mismatches << " paths refused; " << c.paths_removed
                    << " paths removed\n";
          return c.identity_replaced >= uint64_t{3 * 2} && host()->nsids().size() == 3;
        };
      }));
  // Heads lose every path in each round: errors are allowed then (and only then: the checker).
  sim::ScenarioReport r = PlaySchedule(f, s, 256, 4, /*errors_without_a_path=*/true);
  std::cout << "058: " << r.app_errors << " I/O errors while a head had no path\n";
}

}  // namespace
}  // namespace nvmpath
