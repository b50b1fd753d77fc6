#include "netns_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace nvmpath::e2e {
namespace {

constexpr char kNetnsDir[] = "/var/run/netns";
constexpr char kNsPrefix[] = "nvmpath-";

// `name` as an absolute path: PATH first, then the sbin directories a non-login root shell (or
// ctest's environment) may leave out of PATH.
std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/sbin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty()) {
      std::string p = dir + "/" + name;
      if (access(p.c_str(), X_OK) == 0) return p;
    }
    start = end + 1;
  }
  return "";
}

std::string DescribeWaitStatus(int ws) {
  if (WIFEXITED(ws)) return fmt::format("exit {}", WEXITSTATUS(ws));
  if (WIFSIGNALED(ws)) return fmt::format("signal {}", WTERMSIG(ws));
  return fmt::format("wait status {}", ws);
}

std::string Join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Deletes namespaces named by a test process that no longer exists (it crashed or was killed
// before its destructor ran), so they do not pile up across runs.
// "nvmpath-h-<pid>-<n>" or "nvmpath-t-<pid>-<n>" -> pid; 0 for any other name.
pid_t OwnerOf(const std::string& name) {
  const std::string h = std::string(kNsPrefix) + "h-", t = std::string(kNsPrefix) + "t-";
  if (name.rfind(h, 0) != 0 && name.rfind(t, 0) != 0) return 0;
  const std::string rest = name.substr(h.size());
  const size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos || dash + 1 == rest.size()) return 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (i != dash && (rest[i] < '0' || rest[i] > '9')) return 0;
  }
  return static_cast<pid_t>(std::strtol(rest.substr(0, dash).c_str(), nullptr, 10));
}

// Deletes namespaces named by a test process that no longer exists (it crashed or was killed
// before its destructor ran), so they do not pile up across runs.
void DeleteStaleNamespaces() {
  DIR* d = opendir(kNetnsDir);
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    const pid_t pid = OwnerOf(e->d_name);
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) stale.emplace_back(e->d_name);
  }
  closedir(d);
  for (const auto& name : stale) (void)RunCommand({"ip", "netns", "del", name});
}

std::atomic<int> g_sequence{0};

}  // namespace

std::string NetnsUnavailableReason() {
  if (geteuid() != 0) {
    return "needs root (network namespaces, veth, nft, tc); `make test` runs these as root";
  }
  for (const char* tool : {"ip", "nft", "tc"}) {
    if (FindProgram(tool).empty()) {
      return fmt::format("`{}` not found (scripts/setup installs iproute2 and nftables)", tool);
    }
  }
  return "";
}

Result<std::string> RunCommand(const std::vector<std::string>& argv, Duration timeout) {
  const std::string program = FindProgram(argv.at(0));
  if (program.empty()) return NotFound(fmt::format("`{}` not found", argv[0]));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args[0] = const_cast<char*>(program.c_str());
  args.push_back(nullptr);

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", errno);
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(out[0]);
    close(out[1]);
    return ErrnoStatus("fork", err);
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{.fd = out[0], .events = POLLIN, .revents = 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    const ssize_t got = read(out[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output.append(buf, static_cast<size_t>(got));
  }
  close(out[0]);
  if (timed_out) kill(pid, SIGKILL);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  while (!output.empty() && output.back() == '\n') output.pop_back();
  if (timed_out) {
    return Status(Code::kTimedOut, fmt::format("`{}` did not finish within {:.0f} s", Join(argv),
                                               ToSeconds(timeout)));
  }
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
    return Internal(
        fmt::format("`{}` failed ({}): {}", Join(argv), DescribeWaitStatus(ws), output));
  }
  return output;
}

Result<std::unique_ptr<NetnsPair>> NetnsPair::Create(int links) {
  if (links < 1 || links > 8) return InvalidArgument(fmt::format("links {}: 1..8", links));
  DeleteStaleNamespaces();
  std::unique_ptr<NetnsPair> pair(new NetnsPair());
  const int seq = g_sequence.fetch_add(1);
  pair->host_ns_ = fmt::format("{}h-{}-{}", kNsPrefix, getpid(), seq);
  pair->target_ns_ = fmt::format("{}t-{}-{}", kNsPrefix, getpid(), seq);
  Status s = pair->Setup(links);
  if (!s.ok()) return s;  // the destructor removes whatever was made
  return pair;
}

Status NetnsPair::Setup(int links) {
  auto host = RunCommand({"ip", "netns", "add", host_ns_});
  if (!host.ok())
    return Unavailable("cannot create a network namespace: " + host.status().message());
  created_host_ = true;
  auto target = RunCommand({"ip", "netns", "add", target_ns_});
  if (!target.ok()) {
    return Unavailable("cannot create a network namespace: " + target.status().message());
  }
  created_target_ = true;
  for (const std::string& ns : {host_ns_, target_ns_}) {
    NVMP_RETURN_IF_ERROR(RunCommand({"ip", "-n", ns, "link", "set", "lo", "up"}).status());
  }
  for (int i = 0; i < links; ++i) {
    VethLink l;
    l.host_if = fmt::format("nvh{}", i + 1);
    l.target_if = fmt::format("nvt{}", i + 1);
    l.host_addr = fmt::format("10.199.{}.2", i + 1);
    l.target_addr = fmt::format("10.199.{}.1", i + 1);
    // Both ends are born inside their namespaces: no interface ever appears in the root one.
    NVMP_RETURN_IF_ERROR(RunCommand({"ip", "link", "add", l.host_if, "netns", host_ns_, "type",
                                     "veth", "peer", "name", l.target_if, "netns", target_ns_})
                             .status());
    NVMP_RETURN_IF_ERROR(
        RunCommand({"ip", "-n", host_ns_, "addr", "add", l.host_addr + "/24", "dev", l.host_if})
            .status());
    NVMP_RETURN_IF_ERROR(RunCommand({"ip", "-n", target_ns_, "addr", "add", l.target_addr + "/24",
                                     "dev", l.target_if})
                             .status());
    NVMP_RETURN_IF_ERROR(
        RunCommand({"ip", "-n", host_ns_, "link", "set", l.host_if, "up"}).status());
    NVMP_RETURN_IF_ERROR(
        RunCommand({"ip", "-n", target_ns_, "link", "set", l.target_if, "up"}).status());
    links_.push_back(std::move(l));
  }
  return Status::Ok();
}

NetnsPair::~NetnsPair() {
  for (pid_t pid : std::vector<pid_t>(children_)) Stop(pid, std::chrono::seconds(5));
  LeaveHostNamespace();
  // Deleting a namespace takes its veth ends, addresses, qdiscs and nftables tables with it.
  if (created_host_) (void)RunCommand({"ip", "netns", "del", host_ns_});
  if (created_target_) (void)RunCommand({"ip", "netns", "del", target_ns_});
}

Status NetnsPair::EnterHostNamespace() {
  if (original_netns_fd_ >= 0) return Status::Ok();
  const int original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) return ErrnoStatus("open /proc/thread-self/ns/net", errno);
  const std::string path = fmt::format("{}/{}", kNetnsDir, host_ns_);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    close(original);
    return ErrnoStatus("open " + path, err);
  }
  const int rc = setns(fd, CLONE_NEWNET);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    close(original);
    return ErrnoStatus("setns " + path, err);
  }
  original_netns_fd_ = original;
  return Status::Ok();
}

void NetnsPair::LeaveHostNamespace() {
  if (original_netns_fd_ < 0) return;
  (void)setns(original_netns_fd_, CLONE_NEWNET);
  close(original_netns_fd_);
  original_netns_fd_ = -1;
}

Result<pid_t> NetnsPair::SpawnInTarget(const std::vector<std::string>& argv,
                                       const std::string& log_path) {
  const std::string ip = FindProgram("ip");
  if (ip.empty()) return NotFound("`ip` not found");
  std::vector<std::string> full = {ip, "netns", "exec", target_ns_};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (auto& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) return ErrnoStatus("open " + log_path, errno);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(log);
    return ErrnoStatus("fork", err);
  }
  if (pid == 0) {
    // The target must not outlive a test that crashes: SIGKILL when the parent thread dies
    // (PDEATHSIG survives exec of a non-setuid program).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log);
  children_.push_back(pid);
  return pid;
}

bool NetnsPair::Running(pid_t pid, std::string* how) {
  int ws = 0;
  const pid_t r = waitpid(pid, &ws, WNOHANG);
  if (r == 0) return true;
  if (r == pid) {
    std::erase(children_, pid);
    if (how) *how = DescribeWaitStatus(ws);
  } else if (how) {
    *how = "not a child";
  }
  return false;
}

std::string NetnsPair::Kill(pid_t pid) {
  if (std::find(children_.begin(), children_.end(), pid) == children_.end()) return "not running";
  std::string how;
  if (!Running(pid, &how)) return how;
  kill(pid, SIGKILL);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  std::erase(children_, pid);
  return DescribeWaitStatus(ws);
}

std::string NetnsPair::Stop(pid_t pid, Duration grace) {
  if (std::find(children_.begin(), children_.end(), pid) == children_.end()) return "not running";
  std::string how;
  if (!Running(pid, &how)) return how;
  kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Running(pid, &how)) return how;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  std::erase(children_, pid);
  return "did not stop on SIGTERM within the grace time; " + DescribeWaitStatus(ws);
}

Status NetnsPair::SetLinkUp(int i, bool up) {
  return RunCommand({"ip", "-n", host_ns_, "link", "set", link(i).host_if, up ? "up" : "down"})
      .status();
}

Status NetnsPair::SetDropped(int i, bool dropped) {
  const std::string table = fmt::format("nvmpath_drop_{}", i + 1);
  if (!dropped) {
    return RunCommand({"ip", "netns", "exec", target_ns_, "nft", "delete", "table", "inet", table})
        .status();
  }
  // One nft script: the table appears whole, with both directions dropped, or not at all.
  const std::string script = fmt::format(
      "table inet {0} {{\n"
      "  chain in {{ type filter hook input priority 0; policy accept; iifname \"{1}\" drop; }}\n"
      "  chain out {{ type filter hook output priority 0; policy accept; oifname \"{1}\" drop; }}\n"
      "}}\n",
      table, link(i).target_if);
  return RunCommand({"ip", "netns", "exec", target_ns_, "nft", script}).status();
}

Status NetnsPair::SetRateLimit(int i, const std::string& rate) {
  const VethLink& l = link(i);
  const std::pair<const std::string*, const std::string*> ends[] = {{&host_ns_, &l.host_if},
                                                                    {&target_ns_, &l.target_if}};
  for (const auto& [ns, dev] : ends) {
    if (rate.empty()) {
      NVMP_RETURN_IF_ERROR(
          RunCommand({"tc", "-n", *ns, "qdisc", "del", "dev", *dev, "root"}).status());
      continue;
    }
    // A long queue (latency) so the limit delays packets instead of dropping them: the point is a
    // slow path, not a lossy one.
    auto r = RunCommand({"tc", "-n", *ns, "qdisc", "replace", "dev", *dev, "root", "tbf", "rate",
                         rate, "burst", "32kb", "latency", "400ms"});
    if (!r.ok()) {
      if (r.status().message().find("qdisc kind is unknown") != std::string::npos ||
          r.status().message().find("No such file") != std::string::npos) {
        return Status(Code::kUnsupported,
                      "the kernel has no tbf qdisc (sch_tbf): " + r.status().message());
      }
      return r.status();
    }
  }
  return Status::Ok();
}

}  // namespace nvmpath::e2e
