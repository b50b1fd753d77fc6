// e2e::ProcessFabric — a sim::Fabric over the real thing in real time: `nvmpath target` as a
// child process this fabric starts (and kills, and starts again), and mpath::MultipathHost on one
// reactor::Uring driven from the test thread, over the kernel's TCP. The scenario runner plays a
// schedule on it like on the simulated fabrics: target faults said over the child's control
// socket (sim::FaultToRpc), TargetKill as SIGKILL (nothing answered, nothing flushed), and
// TargetRestart as a new process started from the model's config (sim::TargetModel: the ports,
// namespaces and ANA states the faults have left, as an operator's start script would re-apply
// them). Link faults go to `play_link`, when the test has links of its own.
//
// Only the child this fabric started is ever signalled, by its PID.
// Thread: everything on the test thread (the reactor runs there, inside RunUntil).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mpath/multipath_host.h"
#include "reactor/uring.h"
#include "sim/fabric.h"
#include "sim/target_faults.h"

namespace nvmpath::e2e {

struct ProcessFabricOptions {
  std::string nvmpath_binary;
  std::string dir;      // the config, the control socket and the target's log go here
  sim::TargetModel model;  // its tcp_ports must be fixed (a restart binds them again)
  mpath::MultipathHostOptions host;  // subnqn and paths included
  // How the child is started (argv, with stdout and stderr to `log`), killed (SIGKILL, reaped)
  // and stopped (SIGTERM, reaped, "exit 0" expected; else how it ended); unset: fork and exec
  // here, and signal it here. A test whose target lives in a network namespace passes its own.
  std::function<Result<pid_t>(const std::vector<std::string>& argv, const std::string& log)> spawn;
  std::function<Status(pid_t)> kill;
  std::function<Status(pid_t)> stop;
  // Link faults (sim::IsLinkFault); unset: refused as kUnsupported. `heal_links` undoes them.
  std::function<Status(const sim::Fault&)> play_link;
  std::function<Status()> heal_links;
};

class ProcessFabric final : public sim::Fabric {
 public:
  explicit ProcessFabric(ProcessFabricOptions options);
  ~ProcessFabric() override;

  TimePoint now() const override;
  bool RunUntil(const std::function<bool()>& done, Duration limit) override;
  Status Start() override;
  std::vector<mpath::Head*> heads() const override { return heads_; }
  std::vector<reactor::Reactor*> host_reactors() const override { return {uring_.get()}; }
  Status Apply(const sim::Fault& fault) override;
  Status Heal() override;
  bool AllPathsBack() const override;
  std::string DescribePaths() const override;
  void AddTotals(sim::ScenarioReport& report) override;
  Status Stop() override;

  // For expectations: the host (null before Start and after Stop) and the target's model.
  mpath::MultipathHost* host() const { return host_.get(); }
  const sim::TargetModel& model() const { return o_.model; }
  // The last lines the target printed (for failure messages).
  std::string TargetLog() const;

 private:
  Status StartTarget();
  Status KillTarget();
  Status Rpc(const sim::TargetRpc& call);

  ProcessFabricOptions o_;
  std::string socket_;
  pid_t pid_ = -1;
  uint64_t restarts_ = 0;
  std::unique_ptr<reactor::Uring> uring_;
  std::unique_ptr<mpath::MultipathHost> host_;
  std::vector<mpath::Head*> heads_;
  bool stuck_ = false;
};

}  // namespace nvmpath::e2e
