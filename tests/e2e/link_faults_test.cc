// Faults on real links: the multipath host against the real `nvmpath target` process, each path
// over its own veth link between two network namespaces the test makes (netns_fixture.h).
//
// Goal: what the in-process tests show holds when the kernel's network is what fails — zero
// application errors while a path is usable, zero verify mismatches — for: a link taken down, a
// link that silently drops everything while staying up (only keep-alive can notice), a
// rate-limited link under queue-depth, and the blktests nvme/057 and nvme/058 schedules.
//
// Method: the test thread enters the host namespace before it creates its reactor::Uring, so every
// host socket lives there; the target runs as `ip netns exec <target> nvmpath target --config`,
// and is driven through its control socket (a Unix socket in a temp dir, reachable from both
// namespaces). Faults are sim::Fault values, as in every scenario: link faults played on the veth
// links (PlayOnLink: link i is the vocabulary's port index), target faults said over the control
// socket (sim::FaultToRpc). One reactor on the test thread, driven with RunOnce; a sim::VerifyWorkload on each
// head, with a sim::InvariantChecker whose failure probe records whether the head had a usable
// path whenever it failed a Bio (single-threaded here, so the probe may read the home view).
//
// Needs root, `ip`, `nft` and `tc`; otherwise every test is skipped with the reason. Times: the
// blktests nvme/057 schedule is shortened 5x (058 has no timing: its 11 rounds run in full);
// keep-alive is 1 s.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "mpath/multipath_host.h"
#include "netns_fixture.h"
#include "process_fabric.h"
#include "reactor/uring.h"
#include "sim/fault.h"
#include "sim/invariants.h"
#include "sim/runner.h"
#include "sim/target_faults.h"
#include "sim/verify_workload.h"
#include "target/control/config_json.h"
#include "control/rpc_client.h"

#ifndef NVMPATH_BINARY
#error "NVMPATH_BINARY must name the nvmpath executable"
#endif

namespace nvmpath {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
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
    socket_ = dir_ + "/ctl.sock";
    // Before the reactor exists: its sockets must be born in the host namespace.
    ASSERT_TRUE(net_->EnterHostNamespace().ok());
    auto u = reactor::Uring::Create(0);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    uring_ = std::move(*u);
    r_ = uring_.get();
  }

  // Always: workloads drained, host shut down, target stopped, namespaces deleted. If something
  // hangs, its objects are leaked on purpose rather than destroyed with I/O in flight (which
  // would abort the process before the namespaces are removed).
  void TearDown() override {
    bool stuck = false;
    for (auto& w : workloads_) {
      bool drained = false;
      r_->Post([&] { w->Stop([&] { drained = true; }); });
      if (!RunUntil([&] { return drained; }, 20s)) stuck = true;
    }
    if (host_ && !stuck) {
      bool down = false;
      r_->Post([&] { host_->Shutdown([&] { down = true; }); });
      if (!RunUntil([&] { return down; }, 20s)) stuck = true;
      RunFor(20ms);
    }
    if (stuck) {
      ADD_FAILURE() << "teardown: I/O or shutdown did not finish; host objects leaked";
      for (auto& w : workloads_) (void)w.release();
      (void)host_.release();
      (void)uring_.release();
    }
    workloads_.clear();
    host_.reset();
    uring_.reset();
    if (target_pid_ > 0) {
      const std::string how = net_->Stop(target_pid_);
      if (how != "exit 0") {
        ADD_FAILURE() << "target ended with " << how << "; its log:\n" << TargetLog();
      }
    }
    net_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // ---- the reactor ----
  bool RunUntil(const std::function<bool()>& done, Duration limit) {
    const TimePoint end = r_->now() + limit;
    while (!done() && r_->now() < end) r_->RunOnce(2ms);
    return done();
  }
  void RunFor(Duration d) {
    RunUntil([] { return false; }, d);
  }

  // ---- the target ----
  std::string PortAddress(const PortSpec& p) const { return net_->link(p.link).target_addr; }

  static json Namespace(uint32_t nsid, uint32_t group, const std::string& file = "") {
    json ns = {{"nsid", nsid}, {"block_size", 512}, {"ana_group", group}};
    if (file.empty()) {
      ns["backend"] = "memory";
      ns["size"] = "1MiB";
    } else {
      ns["backend"] = "file";
      ns["path"] = file;
    }
    return ns;
  }

  // Writes the config and starts `nvmpath target` in the target namespace; returns when its
  // control socket answers.
  void StartTarget(const std::vector<PortSpec>& ports, const json& namespaces, const json& ana) {
    json config;
    for (const auto& p : ports) {
      config["ports"].push_back({{"id", p.id}, {"address", PortAddress(p)}, {"port", p.tcp_port}});
    }
    config["subsystems"] =
        json::array({{{"nqn", kSubnqn}, {"serial", "e2e-links"}, {"namespaces", namespaces}}});
    config["ana"] = ana;
    config["control_socket"] = socket_;
    const std::string path = dir_ + "/target.json";
    std::ofstream(path) << config.dump(2);
    auto pid =
        net_->SpawnInTarget({NVMPATH_BINARY, "target", "--config", path}, dir_ + "/target.log");
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    target_pid_ = *pid;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      std::string how;
      ASSERT_TRUE(net_->Running(target_pid_, &how))
          << "nvmpath target ended (" << how << ") at start; its log:\n"
          << TargetLog();
      if (control::RpcCall(socket_, "state", json::object(), 2s).ok()) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "nvmpath target's control socket did not answer; its log:\n"
          << TargetLog();
      std::this_thread::sleep_for(20ms);
    }
  }

  std::string TargetLog() const {
    std::ifstream in(dir_ + "/target.log");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s.size() > 4000 ? "..." + s.substr(s.size() - 4000) : s;
  }

  // A target fault, said over the control socket as every scenario's vocabulary maps it.
  // REQUIRES: model_ describes the ports and namespaces the target was started with (indices).
  Status PlayOnTarget(const sim::Fault& fault) {
    auto calls = sim::FaultToRpc(model_, fault);
    if (!calls.ok()) return calls.status();
    for (const sim::TargetRpc& call : *calls) NVMP_RETURN_IF_ERROR(Rpc(call.method, call.params));
    return Status::Ok();
  }

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

  // One control call; an error names the method.
  Status Rpc(const std::string& method, const json& params) {
    auto r = control::RpcCall(socket_, method, params, 10s);
    if (!r.ok()) return Status(r.status().code(), method + ": " + r.status().message());
    return Status::Ok();
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
  void StartHost(const std::vector<PortSpec>& ports, Duration io_timeout = 3s) {
    host_ = std::make_unique<mpath::MultipathHost>(HostOptions(ports, io_timeout),
                                                   std::vector<reactor::Reactor*>{r_}, 0);
    std::optional<Status> st;
    r_->Post([&] { host_->Start([&](Status s) { st = s; }); });
    ASSERT_TRUE(RunUntil([&] { return st.has_value(); }, 30s)) << "host start did not finish";
    ASSERT_TRUE(st->ok()) << st->ToString();
  }

  // The host: the test's own, or the fabric's when the test is a schedule the runner plays.
  mpath::MultipathHost* host() const { return host_ ? host_.get() : fabric_->host(); }

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
  std::vector<uint64_t> AllIos() const {
    std::vector<uint64_t> v;
    for (size_t i = 0; i < host_->controller_count(); ++i) v.push_back(Ios(i));
    return v;
  }

  sim::VerifyWorkload& StartWorkload(mpath::Head* head, uint32_t head_id, uint64_t blocks,
                                     uint32_t queue_depth) {
    sim::VerifyWorkloadOptions w;
    w.head_id = head_id;
    w.blocks = blocks;
    w.max_blocks_per_io = 8;
    w.queue_depth = queue_depth;
    w.error_backoff = 1ms;
    w.seed = 1000 + head_id;
    workloads_.push_back(
        std::make_unique<sim::VerifyWorkload>(*head, *r_, w, &checker_, &next_bio_id_));
    sim::VerifyWorkload* wl = workloads_.back().get();
    r_->Post([wl] { wl->Start(); });
    return *wl;
  }

  // Stops every workload, reads every block back once, and checks: no data error, no Bio failed
  // while its head had a usable path, every Bio completed exactly once.
  void StopAndVerify() {
    size_t verified = 0;
    for (auto& w : workloads_) {
      sim::VerifyWorkload* wl = w.get();
      r_->Post([&, wl] { wl->Stop([&, wl] { wl->VerifyAll([&] { ++verified; }); }); });
    }
    ASSERT_TRUE(RunUntil([&] { return verified == workloads_.size(); }, 60s))
        << "verify did not finish";
    checker_.CheckQuiesced();
    for (auto& w : workloads_) {
      EXPECT_GT(w->stats().ios, 50u);
      EXPECT_EQ(w->stats().mismatches, 0u);
    }
    EXPECT_TRUE(checker_.ok()) << ::testing::PrintToString(checker_.violations());
  }

  uint64_t TotalErrors() const {
    uint64_t n = 0;
    for (auto& w : workloads_) n += w->stats().errors;
    return n;
  }

  // ---- schedules played by the scenario runner ----
  // The fabric for `ports` (ANA per port for group 1, as `ana`) and one 1 MiB memory namespace:
  // `nvmpath target` in the target namespace, started, killed and stopped through the netns
  // pair; link faults on the veth links; the host as StartHost makes it.
  e2e::ProcessFabricOptions FabricOptions(const std::vector<PortSpec>& ports,
                                          const std::vector<nvme::AnaState>& ana,
                                          Duration io_timeout = 3s) {
    e2e::ProcessFabricOptions o;
    o.nvmpath_binary = NVMPATH_BINARY;
    o.dir = dir_;
    o.model = sim::TargetModel::Make(kSubnqn, static_cast<int>(ports.size()), 0, 1, 1 << 20);
    o.model.serial = "e2e-links";
    o.model.tcp_ports.clear();
    for (size_t p = 0; p < ports.size(); ++p) {
      o.model.tcp_ports.push_back(ports[p].tcp_port);
      o.model.port_addresses.push_back(PortAddress(ports[p]));
      o.model.ana[p][0] = ana[p];
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
  // checks what StopAndVerify checks, and that no application error happened.
  sim::ScenarioReport PlaySchedule(e2e::ProcessFabric& fabric, const sim::Schedule& schedule,
                                   uint64_t blocks, uint32_t queue_depth) {
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
    EXPECT_GT(r.ios, 50u);
    EXPECT_EQ(r.mismatches, 0u);
    EXPECT_EQ(r.app_errors, 0u) << "an application error although a path was usable throughout";
    return r;
  }

  std::unique_ptr<e2e::NetnsPair> net_;
  e2e::ProcessFabric* fabric_ = nullptr;  // while PlaySchedule runs
  std::string dir_;
  std::string socket_;
  sim::TargetModel model_;  // the target's ports and namespaces by index, for PlayOnTarget
  pid_t target_pid_ = -1;
  std::unique_ptr<reactor::Uring> uring_;
  reactor::Uring* r_ = nullptr;
  std::unique_ptr<mpath::MultipathHost> host_;
  sim::InvariantChecker checker_;
  uint64_t next_bio_id_ = 1;
  std::vector<std::unique_ptr<sim::VerifyWorkload>> workloads_;
};

// Port 1 on link 1 (optimized), port 2 on link 2 (non-optimized): under the default numa policy
// all I/O uses link 1 while it works.
const std::vector<PortSpec> kTwoLinks = {{.id = 1, .link = 0, .tcp_port = 4420},
                                         {.id = 2, .link = 1, .tcp_port = 4420}};
const json kTwoLinksAna = json::array({{{"port", 1}, {"group", 1}, {"state", "optimized"}},
                                       {{"port", 2}, {"group", 1}, {"state", "non-optimized"}}});

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

TEST_F(LinkFaultsTest, QueueDepthMovesLoadOffARateLimitedLink) {
  // Both links optimized, so both policies may use both.
  ASSERT_NO_FATAL_FAILURE(
      StartTarget(kTwoLinks, json::array({Namespace(1, 1, "")}), json::array()));
  ASSERT_NO_FATAL_FAILURE(StartHost(kTwoLinks, /*io_timeout=*/10s));
  ASSERT_TRUE(RunUntil([&] { return Usable(0) && Usable(1); }, 10s));
  Status limited = PlayOnLink(sim::fault::LinkRate{0, 8'000'000});
  if (limited.code() == Code::kUnsupported) GTEST_SKIP() << limited.message();
  ASSERT_TRUE(limited.ok()) << limited.ToString();
  mpath::Head* head = host_->head(1);
  ASSERT_NE(head, nullptr);
  r_->Post([&] { head->SetPolicy(mpath::Policy::kRoundRobin); });
  StartWorkload(head, 1, 1024, 16);

  auto share_of_link1 = [&](Duration settle, Duration window) {
    RunFor(settle);
    const uint64_t a0 = Ios(0), b0 = Ios(1);
    RunFor(window);
    const double a = static_cast<double>(Ios(0) - a0), b = static_cast<double>(Ios(1) - b0);
    EXPECT_GT(a + b, 50) << "too little I/O to compare";
    return a / std::max(1.0, a + b);
  };
  const double rr = share_of_link1(200ms, 2s);
  r_->Post([&] { head->SetPolicy(mpath::Policy::kQueueDepth); });
  const double qd = share_of_link1(500ms, 2s);
  std::cout << "rate-limited link's share of I/O: round-robin " << rr << ", queue-depth " << qd
            << "\n";
  // Round-robin alternates regardless of speed; queue-depth sends each I/O to the path with the
  // fewest in flight, and the slow link keeps its I/O longest.
  EXPECT_GT(rr, 0.35) << "round-robin did not use both links";
  EXPECT_LT(qd, rr / 2) << "queue-depth did not move load off the rate-limited link";
  EXPECT_LT(qd, 0.25);

  ASSERT_TRUE(PlayOnLink(sim::fault::LinkRate{0, 0}).ok());
  StopAndVerify();
  EXPECT_EQ(TotalErrors(), 0u);
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
  json ana = json::array();
  for (int p = 1; p <= 6; ++p) {
    for (int g = 1; g <= 3; ++g) {
      const char* s = p == 2 * g - 1 ? "optimized" : p == 2 * g ? "non-optimized" : "inaccessible";
      ana.push_back({{"port", p}, {"group", g}, {"state", s}});
    }
  }
  json namespaces = json::array();
  std::vector<std::string> files;
  for (uint32_t nsid = 1; nsid <= 3; ++nsid) {
    files.push_back(fmt::format("{}/ns{}.img", dir_, nsid));
    std::ofstream(files.back()).close();
    std::filesystem::resize_file(files.back(), 1 << 20);
    namespaces.push_back(Namespace(nsid, nsid, files.back()));
  }
  ASSERT_NO_FATAL_FAILURE(StartTarget(ports, namespaces, ana));
  ASSERT_NO_FATAL_FAILURE(StartHost(ports));
  for (uint32_t nsid = 1; nsid <= 3; ++nsid) {
    ASSERT_TRUE(RunUntil(
        [&] {
          mpath::Head* h = host_->head(nsid);
          return h != nullptr && h->HasUsablePath();
        },
        10s))
        << "no usable head for nsid " << nsid;
  }
  for (uint32_t nsid = 1; nsid <= 3; ++nsid) StartWorkload(host_->head(nsid), nsid, 256, 4);
  RunFor(300ms);

  // The target as every scenario describes it: port index p is port ID p + 1, namespace index h
  // is NSID h + 1 in ANA group h + 1, on its file. A remap is the vocabulary's NsRemapped: the
  // namespace back on its file with new identifiers (ns_remove + ns_add with NGUID, EUI-64 and
  // UUID), numbered here so each add is new.
  model_ = sim::TargetModel::Make(kSubnqn, 6, 0, 3, 1 << 20, files);
  uint32_t identity = 0;

  // The schedule runs on its own thread, as 058's shell runs beside the kernel host: the host
  // reacts to the AENs while the next change is already being made.
  const unsigned seed = static_cast<unsigned>(std::random_device{}());
  std::cout << "058 schedule seed " << seed << "\n";
  std::atomic<bool> schedule_done{false};
  Status schedule_status;
  std::thread schedule([&] {
    std::mt19937 rng(seed);
    // 058's shell takes a few milliseconds per configfs write.
    auto pause = [&] { std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20)); };
    for (int round = 0; round < kRounds && schedule_status.ok(); ++round) {
      std::vector<int> order = {0, 1, 2};
      std::shuffle(order.begin(), order.end(), rng);
      for (int ns : order) {
        schedule_status = PlayOnTarget(sim::fault::NsPresent{ns, false});
        if (!schedule_status.ok()) break;
        pause();
      }
      std::shuffle(order.begin(), order.end(), rng);
      for (int ns : order) {
        if (!schedule_status.ok()) break;
        schedule_status = PlayOnTarget(sim::fault::NsRemapped{ns, ++identity});
        pause();
      }
    }
    schedule_done = true;
  });
  const bool finished = RunUntil([&] { return schedule_done.load(); }, 60s);
  schedule.join();
  ASSERT_TRUE(finished);
  ASSERT_TRUE(schedule_status.ok()) << schedule_status.ToString();

  // A rapid remap can leave a controller's new namespace refused for good (it was scanned while
  // the head still had a path with the old identifiers; Linux refuses it the same way and only
  // the next rescan retries). One settled remap then brings every path back: remove all three,
  // wait until every head has lost every path, re-add them.
  for (int ns = 0; ns < 3; ++ns) {
    Status st = PlayOnTarget(sim::fault::NsPresent{ns, false});
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  for (uint32_t nsid = 1; nsid <= 3; ++nsid) {
    mpath::Head* h = host_->head(nsid);
    ASSERT_TRUE(RunUntil([&] { return h->path_count() == 0; }, 20s))
        << "nsid " << nsid << " was removed but its head kept paths: " << h->DescribePathStates();
  }
  for (int ns = 0; ns < 3; ++ns) {
    Status st = PlayOnTarget(sim::fault::NsRemapped{ns, ++identity});
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  for (uint32_t nsid = 1; nsid <= 3; ++nsid) {
    mpath::Head* h = host_->head(nsid);
    ASSERT_TRUE(RunUntil([&] { return h->path_count() == 6 && h->HasUsablePath(); }, 20s))
        << "nsid " << nsid << " did not get its 6 paths back: " << h->DescribePathStates()
        << "\nhost errors: " << ::testing::PrintToString(host_->errors());
  }
  RunFor(300ms);
  StopAndVerify();
  const auto& c = host_->counters();
  std::cout << "058: " << TotalErrors() << " I/O errors while a head had no path; heads took new "
            << "identifiers " << c.identity_replaced << " times; " << c.identity_mismatches
            << " paths refused; " << c.paths_removed << " paths removed\n";
  // Each round ends with every old path gone, so each head moved on to new identifiers at least
  // once in the rapid rounds (a slow host may fold rounds together) and once in the settled one.
  EXPECT_GE(c.identity_replaced, uint64_t{3 * 2});
  EXPECT_EQ(host_->nsids().size(), 3u) << "a head was created for a namespace that never existed";
}

}  // namespace
}  // namespace nvmpath
