// The target process killed and restarted under I/O, over real sockets (issue 4 item 6, the e2e
// fault "target process killed and restarted"). The kills and restarts are the scenario
// vocabulary's TargetKill and TargetRestart (sim/fault.h), played on the child process.
//
// Goal: when the whole target dies (SIGKILL: no goodbye, in-flight commands unanswered) and comes
// back from the same config, the multipath host reconnects every path and the application sees
// nothing but a pause: zero verify mismatches, every Bio completed exactly once, and no
// application error at all (queue_if_no_path and a ctrl_loss_tmo longer than the outage keep I/O
// waiting while no path is usable).
// Method: the real `nvmpath target --config FILE` runs as a child process, serving one file-backed
// namespace (so the data survives) on two free ports of 127.0.0.1, ANA optimized on port 1 and
// non-optimized on port 2. In this process an mpath::MultipathHost and a VerifyWorkload with an
// InvariantChecker run on one reactor::Uring. The child is SIGKILLed by its PID, reaped, and
// started again with the same config; twice. Only the child this test started is signalled.
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

#include "mpath/multipath_host.h"
#include "reactor/uring.h"
#include "sim/fault.h"
#include "sim/invariants.h"
#include "sim/verify_workload.h"

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
class TargetProcess {
 public:
  explicit TargetProcess(std::string config) : config_(std::move(config)) {}
  ~TargetProcess() {
    if (pid_ > 0) Kill();
    if (out_ >= 0) ::close(out_);
  }

  // Returns an empty string when the target is listening, else what went wrong.
  std::string Start(int ports) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return "pipe failed";
    pid_t pid = ::fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      const char* argv[] = {NVMPATH_BINARY, "target", "--config", config_.c_str(), nullptr};
      ::execv(NVMPATH_BINARY, const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    if (out_ >= 0) ::close(out_);
    out_ = pipe_fds[0];
    pid_ = pid;
    std::string seen;
    int listening = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (listening < ports && std::chrono::steady_clock::now() < deadline) {
      pollfd p{.fd = out_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      ssize_t n = ::read(out_, buf, sizeof(buf));
      if (n <= 0) return "the target exited before listening; it printed: " + seen;
      seen.append(buf, static_cast<size_t>(n));
      listening = 0;
      for (size_t at = 0; (at = seen.find("listening on", at)) != std::string::npos; ++at) {
        ++listening;
      }
    }
    if (listening < ports) return "the target did not listen within 10 s; it printed: " + seen;
    return "";
  }

  // SIGKILL by PID, then reap: when waitpid returns the process and its io_uring are gone, so
  // nothing it had in flight can reach the file any more.
  void Kill() {
    ASSERT_GT(pid_, 0);
    ASSERT_EQ(::kill(pid_, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
    pid_ = -1;
  }

  // A clean stop (SIGTERM) at the end of the test.
  void Stop() {
    ASSERT_GT(pid_, 0);
    ASSERT_EQ(::kill(pid_, SIGTERM), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    pid_ = -1;
  }

 private:
  std::string config_;
  pid_t pid_ = -1;
  int out_ = -1;
};

class TargetRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvmpath-restart-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string ns_file = dir_ + "/ns1";
    {
      std::ofstream f(ns_file, std::ios::binary);
      ASSERT_TRUE(f.good());
    }
    std::filesystem::resize_file(ns_file, kNsBytes);
    p1_ = FreePort();
    p2_ = FreePort();
    ASSERT_TRUE(p1_ != 0 && p2_ != 0 && p1_ != p2_);
    config_ = dir_ + "/target.json";
    std::ofstream c(config_);
    c << R"({
  "ports": [
    {"id": 1, "address": "127.0.0.1", "port": )"
      << p1_ << R"(},
    {"id": 2, "address": "127.0.0.1", "port": )"
      << p2_ << R"(}
  ],
  "subsystems": [
    {"nqn": ")"
      << kSubnqn << R"(",
     "namespaces": [{"nsid": 1, "backend": "file", "path": ")"
      << ns_file << R"(",
                     "block_size": 512, "ana_group": 1}]}
  ],
  "ana": [{"port": 1, "group": 1, "state": "optimized"},
          {"port": 2, "group": 1, "state": "non-optimized"}]
}
)";
    ASSERT_TRUE(c.good());
    auto u = reactor::Uring::Create(0);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    r_ = std::move(*u);
  }

  void TearDown() override {
    if (host_) {
      bool done = false;
      r_->Post([&] { host_->Shutdown([&] { done = true; }); });
      EXPECT_TRUE(RunUntil([&] { return done; }, 20s)) << "host shutdown hung";
      host_.reset();
    }
    workload_.reset();
    target_.reset();  // SIGKILLs a child still running
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  bool RunUntil(const std::function<bool()>& done, Duration limit) {
    const TimePoint end = r_->now() + limit;
    while (!done() && r_->now() < end) r_->RunOnce(2ms);
    return done();
  }
  void RunFor(Duration d) {
    RunUntil([] { return false; }, d);
  }

  mpath::Head* head() const { return host_->head(1); }
  bool Usable(size_t i) const {
    host::PathNs* p = host_->scanner(i)->path(1);
    if (!p) return false;
    blk::PathState s = p->state();
    return s.ctrl == blk::CtrlState::kLive && s.ready && !s.ana_pending &&
           nvme::AnaStateIsLive(s.ana);
  }
  bool BothUsable() const { return head() && Usable(0) && Usable(1); }
  // The scenario vocabulary's target faults, played on the child process: a kill is SIGKILL, a
  // restart starts it again from the same config.
  void Play(const sim::Fault& fault) {
    SCOPED_TRACE(sim::Describe(fault));
    if (std::holds_alternative<sim::fault::TargetKill>(fault)) {
      target_->Kill();
    } else if (std::holds_alternative<sim::fault::TargetRestart>(fault)) {
      ASSERT_EQ(target_->Start(2), "");
    } else {
      FAIL() << "not played on a target process: " << sim::Describe(fault);
    }
  }

  uint64_t Completed() const { return head()->TEST_Stats().head.completed; }

  void StartHost() {
    mpath::MultipathHostOptions o;
    o.subnqn = kSubnqn;
    o.hostnqn = kHostnqn;
    o.hostid[15] = 9;
    o.paths = {{"127.0.0.1", p1_}, {"127.0.0.1", p2_}};
    o.controller.reconnect_delay = 100ms;
    o.controller.ctrl_loss_tmo = 60s;  // far longer than the outage
    o.controller.io_timeout = 2s;
    o.controller.kato = 5s;
    o.head.queue_if_no_path = true;
    host_ = std::make_unique<mpath::MultipathHost>(o, std::vector<reactor::Reactor*>{r_.get()}, 0);
    std::optional<Status> st;
    r_->Post([&] { host_->Start([&](Status s) { st = s; }); });
    ASSERT_TRUE(RunUntil([&] { return st.has_value(); }, 10s));
    ASSERT_TRUE(st->ok()) << st->ToString();
    ASSERT_TRUE(RunUntil([&] { return BothUsable(); }, 5s)) << head()->DescribePathStates();
  }

  std::string dir_;
  std::string config_;
  uint16_t p1_ = 0, p2_ = 0;
  std::unique_ptr<reactor::Uring> r_;
  std::unique_ptr<TargetProcess> target_;
  std::unique_ptr<mpath::MultipathHost> host_;
  sim::InvariantChecker checker_;
  uint64_t next_id_ = 1;
  std::unique_ptr<sim::VerifyWorkload> workload_;
};

TEST_F(TargetRestartTest, KilledAndRestartedTargetLosesNoWriteAndNoIo) {
  target_ = std::make_unique<TargetProcess>(config_);
  ASSERT_EQ(target_->Start(2), "");
  StartHost();

  sim::VerifyWorkloadOptions w;
  w.head_id = 1;
  w.blocks = 512;
  w.block_size = kBs;
  w.max_blocks_per_io = 8;
  w.queue_depth = 8;
  w.seed = 42;
  w.error_backoff = 1ms;
  workload_ = std::make_unique<sim::VerifyWorkload>(*head(), *r_, w, &checker_, &next_id_);
  r_->Post([this] { workload_->Start(); });
  RunFor(200ms);
  ASSERT_GT(Completed(), 50u) << "no I/O before the first kill";

  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const uint64_t associations =
        host_->controller(0)->associations() + host_->controller(1)->associations();
    Play(sim::fault::TargetKill{});
    // Both controllers lose their connections and keep trying; I/O waits for a path.
    ASSERT_TRUE(RunUntil(
        [&] { return !host_->controller(0)->live() && !host_->controller(1)->live(); }, 5s));
    RunFor(300ms);
    EXPECT_FALSE(head()->HasUsablePath());
    const uint64_t during = Completed();
    RunFor(200ms);
    EXPECT_EQ(Completed(), during) << "I/O completed while the target was dead";

    ASSERT_NO_FATAL_FAILURE(Play(sim::fault::TargetRestart{}));
    ASSERT_TRUE(RunUntil([&] { return BothUsable(); }, 10s)) << head()->DescribePathStates();
    EXPECT_GE(host_->controller(0)->associations() + host_->controller(1)->associations(),
              associations + 2);
    const uint64_t resumed = Completed();
    RunFor(200ms);
    EXPECT_GT(Completed(), resumed + 50) << "I/O did not resume after the restart";
  }

  bool verified = false;
  r_->Post([&] { workload_->Stop([&] { workload_->VerifyAll([&] { verified = true; }); }); });
  ASSERT_TRUE(RunUntil([&] { return verified; }, 30s)) << head()->DescribePathStates();
  checker_.CheckQuiesced();
  const sim::VerifyStats& st = workload_->stats();
  std::printf("target restart: %lu I/Os, %lu blocks verified, %lu mismatches, %lu errors\n", st.ios,
              st.blocks_verified, st.mismatches, st.errors);
  EXPECT_EQ(st.mismatches, 0u);
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(checker_.app_errors(), 0u);
  EXPECT_GE(st.blocks_verified, w.blocks);
  EXPECT_TRUE(checker_.ok()) << checker_.violations().front();
  target_->Stop();
}

}  // namespace
}  // namespace nvmpath
