// The target process killed and restarted under I/O, over real sockets (issue 4 item 6, the e2e
// fault "target process killed and restarted"). The kills and restarts are the scenario
// vocabulary's TargetKill and TargetRestart (sim/fault.h), played on the child process.
//
// Goal: when the whole target dies (SIGKILL: no goodbye, in-flight commands unanswered) and comes
// back from the same config, the multipath host reconnects every path and the application sees
// nothing but a pause: zero verify mismatches, every Bio completed exactly once, and no
// application error at all (queue_if_no_path and a ctrl_loss_tmo longer than the outage keep I/O
// waiting while no path is usable).
// Method: a schedule of TargetKill / TargetRestart with per-step expectations, played by the
// scenario runner on e2e::ProcessFabric: the real `nvmpath target` as a child process serving one
// file-backed namespace (so the data survives) on two free ports of 127.0.0.1, ANA optimized on
// port 1 and non-optimized on port 2; in this process the multipath host and the runner's verify
// workload on one reactor::Uring. The child is SIGKILLed by its PID, reaped, and started again
// from the same model; twice. Only the child the fabric started is signalled.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "process_fabric.h"
#include "sim/fault.h"
#include "sim/runner.h"

#ifndef NVMPATH_BINARY
#error "NVMPATH_BINARY must name the nvmpath executable"
#endif

namespace nvmpath {
namespace {

using namespace std::chrono_literals;

constexpr char kSubnqn[] = "nqn.2026-11.io.nvmpath:restart";
constexpr char kHostnqn[] = "nqn.2026-11.io.nvmpath:restart-host";
constexpr uint32_t kBs = 512;
constexpr uint64_t kNsBytes = 1 << 20;

// A free TCP port on 127.0.0.1: bind port 0 and read what the kernel gave. The target re-binds
// it a moment later (SO_REUSEADDR), as multipath_uring_test does with a probe target.
uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// The `nvmpath target` child. Start waits until it printed a line for each port; the destructor
// SIGKILLs and reaps it if it still runs.
// The fabric: the target as a child process on two free ports, ANA optimized on port 1 and
// non-optimized on port 2, one file-backed namespace; the host with queue_if_no_path and a
// ctrl_loss_tmo far longer than the outage.
e2e::ProcessFabricOptions Options(const std::string& dir) {
  const std::string ns_file = dir + "/ns1";
  std::ofstream(ns_file, std::ios::binary).close();
  std::filesystem::resize_file(ns_file, kNsBytes);
  e2e::ProcessFabricOptions o;
  o.nvmpath_binary = NVMPATH_BINARY;
  o.dir = dir;
  o.model = sim::TargetModel::Make(kSubnqn, 2, 0, 1, kNsBytes, {ns_file});
  o.model.block_size = kBs;
  o.model.tcp_ports = {FreePort(), FreePort()};
  o.model.ana[1][0] = nvme::AnaState::kNonOptimized;
  o.model.healed_ana = o.model.ana;
  o.host.subnqn = kSubnqn;
  o.host.hostnqn = kHostnqn;
  o.host.hostid[15] = 9;
  for (uint16_t port : o.model.tcp_ports) o.host.paths.push_back({"127.0.0.1", port});
  o.host.controller.reconnect_delay = 100ms;
  o.host.controller.ctrl_loss_tmo = 60s;  // far longer than the outage
  o.host.controller.io_timeout = 2s;
  o.host.controller.kato = 5s;
  o.host.head.queue_if_no_path = true;
  return o;
}

class TargetRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvmpath-restart-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

// Two rounds of: the target SIGKILLed (both controllers lose their association, no path is
// usable, no I/O completes while it is dead), then started again (both paths back, two new
// associations, I/O resumes). Then the runner's heal, read-back of every block and quiesce
// check: zero mismatches, zero application errors, every Bio completed once.
TEST_F(TargetRestartTest, KilledAndRestartedTargetLosesNoWriteAndNoIo) {
  e2e::ProcessFabric f(Options(dir_));
  ASSERT_TRUE(f.model().tcp_ports[0] != 0 && f.model().tcp_ports[1] != 0 &&
              f.model().tcp_ports[0] != f.model().tcp_ports[1]);
  auto head = [&f] { return f.host()->head(1); };
  auto completed = [&] { return head()->TEST_Stats().head.completed; };
  auto associations = [&f] {
    return f.host()->controller(0)->associations() + f.host()->controller(1)->associations();
  };
  auto both_usable = [&f] { return f.AllPathsBack(); };
  uint64_t associations_before_kill = 0;
  sim::Schedule s;
  for (int round = 1; round <= 2; ++round) {
    sim::TimedFault kill{.at = round == 1 ? Duration(200ms) : Duration(0),
                         .fault = sim::fault::TargetKill{}};
    kill.note = "round " + std::to_string(round);
    if (round == 1) {
      // Armed the moment the target died: no reactor turn has passed since.
      kill.expect.push_back(sim::Over("I/O before the first kill (> 50 completed)", Duration(0),
                                      [&] {
                                        const uint64_t before = completed();
                                        return [before] { return before > 50; };
                                      }));
    }
    kill.expect.push_back(sim::Over("the associations counted at the kill", Duration(0), [&] {
      associations_before_kill = associations();
      return [] { return true; };
    }));
    kill.expect.push_back(sim::Eventually(
        "both controllers lose their association",
        [&f] { return !f.host()->controller(0)->live() && !f.host()->controller(1)->live(); },
        5s));
    kill.expect.push_back(sim::Over("no usable path 300 ms on", 300ms, [&] {
      return [&] { return !head()->HasUsablePath(); };
    }));
    kill.expect.push_back(sim::Over("no I/O completes while the target is dead", 200ms, [&] {
      const uint64_t during = completed();
      return [&, during] { return completed() == during; };
    }));
    sim::TimedFault restart{.at = Duration(0), .fault = sim::fault::TargetRestart{}};
    restart.note = "round " + std::to_string(round);
    restart.expect.push_back(sim::Eventually("both paths usable", both_usable, 10s));
    restart.expect.push_back(sim::Over("two new associations", Duration(0), [&] {
      return [&] { return associations() >= associations_before_kill + 2; };
    }));
    restart.expect.push_back(sim::Over("I/O resumes after the restart", 200ms, [&] {
      const uint64_t resumed = completed();
      return [&, resumed] { return completed() > resumed + 50; };
    }));
    s.push_back(std::move(kill));
    s.push_back(std::move(restart));
  }

  sim::ScenarioOptions o{.seed = 42};
  o.blocks = 512;
  o.block_size = kBs;
  o.max_blocks_per_io = 8;
  o.queue_depth = 8;
  o.error_backoff = 1ms;
  o.settle_limit = 30s;
  o.on_line = [](const std::string& l) { std::printf("  %s\n", l.c_str()); };
  const sim::ScenarioReport r = sim::RunScenario(f, s, o);
  std::printf("target restart: %lu I/Os, %lu blocks verified, %lu mismatches, %lu errors\n",
              (unsigned long)r.ios, (unsigned long)r.blocks_verified,
              (unsigned long)r.mismatches, (unsigned long)r.app_errors);
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(r.violations) << "\ntarget log:\n"
                      << f.TargetLog();
  EXPECT_FALSE(r.hung);
  EXPECT_EQ(r.mismatches, 0u);
  EXPECT_EQ(r.app_errors, 0u);
  EXPECT_EQ(r.target_restarts, 2u);
  EXPECT_GE(r.readback_blocks, o.blocks);
}

}  // namespace
}  // namespace nvmpath
