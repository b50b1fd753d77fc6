// e2e::NetnsPair — two network namespaces this test process creates for itself, a host one and a
// target one, joined by veth links (one per NVMe/TCP path), and the faults the link-fault tests
// put on those links: link down, silent drop (nftables), rate limit (tc tbf).
//
// Topology for `links` = 2 (names carry the test's PID and a sequence number):
//
//   netns nvmpath-h-<pid>-<n>                 netns nvmpath-t-<pid>-<n>
//   nvh1 10.199.1.2/24  <---- veth 1 ---->    nvt1 10.199.1.1/24
//   nvh2 10.199.2.2/24  <---- veth 2 ---->    nvt2 10.199.2.1/24
//
// Both ends of every veth are created directly inside the namespaces, so nothing gets an address
// (or an interface) in the root namespace, and every packet stays between the two namespaces.
// Each link is its own /24 with no default route: a path to 10.199.i.1 can only use link i.
//
// The test thread enters the host namespace with EnterHostNamespace() before it creates any
// socket (sockets belong to the namespace of the thread that creates them); child processes run
// in the target namespace through `ip netns exec`. The destructor kills the children it started
// (by PID), deletes both namespaces and returns the thread to its original namespace; namespaces
// left behind by a test process that died are deleted by the next Create().
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "nvmpath/status.h"

namespace nvmpath::e2e {

// Why these tests cannot run here ("needs root ...", "`nft` not found ..."), or "" if they can.
std::string NetnsUnavailableReason();

// Runs argv (no shell) and waits up to `timeout`. Errors: kNotFound when the program is missing,
// kTimedOut (the command is killed), kInternal naming the command, its exit code and its output.
Result<std::string> RunCommand(const std::vector<std::string>& argv,
                               Duration timeout = std::chrono::seconds(20));

struct VethLink {
  std::string host_if;      // "nvh1", inside the host namespace
  std::string target_if;    // "nvt1", inside the target namespace
  std::string host_addr;    // "10.199.1.2"
  std::string target_addr;  // "10.199.1.1"
};

class NetnsPair {
 public:
  // Errors: kUnavailable with the `ip` command's message when namespaces cannot be made.
  // REQUIRES: 1 <= links <= 8.
  static Result<std::unique_ptr<NetnsPair>> Create(int links);
  ~NetnsPair();
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  const std::string& host_ns() const { return host_ns_; }
  const std::string& target_ns() const { return target_ns_; }
  const VethLink& link(int i) const { return links_.at(i); }
  int link_count() const { return static_cast<int>(links_.size()); }

  // Moves the calling thread into the host namespace (undone by LeaveHostNamespace or the
  // destructor). Call it before creating sockets and before starting threads that create them.
  Status EnterHostNamespace();
  void LeaveHostNamespace();

  // Starts argv in the target namespace (`ip netns exec <target> argv...`; `ip` execs argv, so
  // the PID is the program's own), stdout and stderr to `log_path`. The child gets SIGKILL if this
  // thread dies first. Killed by the destructor unless Stop()ped.
  Result<pid_t> SpawnInTarget(const std::vector<std::string>& argv, const std::string& log_path);
  // SIGTERM, then SIGKILL after `grace`; returns how the child ended ("exit 0", "signal 9").
  std::string Stop(pid_t pid, Duration grace = std::chrono::seconds(10));
  // SIGKILL now (a crash, as the scenario vocabulary's TargetKill); returns how the child ended
  // ("signal 9", or how it had ended before).
  std::string Kill(pid_t pid);
  // Whether the child still runs (reaps it if it ended; `how` says how).
  bool Running(pid_t pid, std::string* how = nullptr);

  // ---- faults on link i ----
  // `ip link set <host_if> down|up` in the host namespace (the peer loses carrier too).
  Status SetLinkUp(int i, bool up);
  // An nftables table in the target namespace that drops every packet in and out of link i's
  // target end. The link stays up: only a timeout (keep-alive, I/O, connect) can notice.
  Status SetDropped(int i, bool dropped);
  // tc tbf at `rate` (tc syntax, "8mbit") on both ends of link i; an empty rate removes it.
  // kUnsupported when the kernel has no tbf qdisc.
  Status SetRateLimit(int i, const std::string& rate);

 private:
  NetnsPair() = default;
  Status Setup(int links);

  std::string host_ns_;
  std::string target_ns_;
  std::vector<VethLink> links_;
  std::vector<pid_t> children_;
  int original_netns_fd_ = -1;  // set while the thread is in the host namespace
  bool created_host_ = false;
  bool created_target_ = false;
};

}  // namespace nvmpath::e2e
