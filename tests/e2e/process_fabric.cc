#include "process_fabric.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "base/assert.h"
#include "sim/host_faults.h"
#include "sim/runner.h"
#include "target/control/config_json.h"
#include "control/rpc_client.h"

namespace nvmpath::e2e {
namespace {

using namespace std::chrono_literals;

Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Signals `pid` and reaps it; `expect` says how it must have ended.
Status SignalAndReap(pid_t pid, int sig, const std::function<bool(int)>& expect) {
  if (::kill(pid, sig) != 0) return ErrnoStatus("kill", errno);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return ErrnoStatus("waitpid", errno);
  if (!expect(status)) {
    return Status(Code::kInternal, fmt::format("the target ended with wait status {:#x}", status));
  }
  return Status::Ok();
}

Status KillHere(pid_t pid) {
  return SignalAndReap(pid, SIGKILL,
                       [](int st) { return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL; });
}

Status StopHere(pid_t pid) {
  return SignalAndReap(pid, SIGTERM, [](int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; });
}

}  // namespace

using namespace std::chrono_literals;

ProcessFabric::ProcessFabric(ProcessFabricOptions options) : o_(std::move(options)) {
  socket_ = o_.dir + "/ctl.sock";
}

ProcessFabric::~ProcessFabric() {
  NVMP_ASSERT(!stuck_, "a ProcessFabric that did not stop cannot be destroyed");
  if (pid_ > 0) (void)KillTarget();
}

TimePoint ProcessFabric::now() const { return uring_ ? uring_->now() : TimePoint{}; }

bool ProcessFabric::RunUntil(const std::function<bool()>& done, Duration limit) {
  const TimePoint end = uring_->now() + limit;
  while (!done() && uring_->now() < end) uring_->RunOnce(2ms);
  return done();
}

std::string ProcessFabric::TargetLog() const {
  std::ifstream in(o_.dir + "/target.log");
  std::stringstream s;
  s << in.rdbuf();
  const std::string all = s.str();
  return all.size() > 2000 ? "..." + all.substr(all.size() - 2000) : all;
}

// The model's config with the control socket, then the child; ready when the socket answers.
Status ProcessFabric::StartTarget() {
  nlohmann::json config = target::control::ToJson(o_.model.Config());
  config["control_socket"] = socket_;
  const std::string path = o_.dir + "/target.json";
  std::ofstream(path) << config.dump(2);
  const std::string log = o_.dir + "/target.log";
  const std::vector<std::string> argv = {o_.nvmpath_binary, "target", "--config", path};
  auto pid = o_.spawn ? o_.spawn(argv, log) : Spawn(argv, log);
  if (!pid.ok()) return pid.status().WithContext("start the target");
  pid_ = *pid;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (control::RpcCall(socket_, "state", nlohmann::json::object(), 1s).ok()) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(10ms);
  }
  return Status(Code::kTimedOut, "the target's control socket did not answer within 10 s; "
                                 "it printed: " + TargetLog());
}

Status ProcessFabric::KillTarget() {
  if (pid_ <= 0) return Status::Ok();
  const pid_t pid = std::exchange(pid_, -1);
  return o_.kill ? o_.kill(pid) : KillHere(pid);
}

Status ProcessFabric::Rpc(const sim::TargetRpc& call) {
  auto r = control::RpcCall(socket_, call.method, call.params, 10s);
  if (!r.ok()) return Status(r.status().code(), call.method + ": " + r.status().message());
  return Status::Ok();
}

Status ProcessFabric::Start() {
  auto u = reactor::Uring::Create(0);
  if (!u.ok()) return u.status().WithContext("reactor");
  uring_ = std::move(*u);
  NVMP_RETURN_IF_ERROR(StartTarget());
  host_ = std::make_unique<mpath::MultipathHost>(
      o_.host, std::vector<reactor::Reactor*>{uring_.get()}, 0);
  std::optional<Status> started;
  uring_->Post([&] { host_->Start([&](Status s) { started = s; }); });
  if (!RunUntil([&] { return started.has_value(); }, 30s)) {
    return Status(Code::kTimedOut, "host Start did not finish");
  }
  NVMP_RETURN_IF_ERROR(*started);
  for (int h = 0; h < o_.model.namespaces(); ++h) {
    mpath::Head* head = host_->head(o_.model.Nsid(h));
    if (head == nullptr) {
      return Status(Code::kNotFound, fmt::format("no head for NSID {}", o_.model.Nsid(h)));
    }
    heads_.push_back(head);
  }
  if (!RunUntil([&] { return AllPathsBack(); }, 10s)) {
    return Status(Code::kTimedOut, "paths not usable after Start: " + DescribePaths());
  }
  return Status::Ok();
}

Status ProcessFabric::Apply(const sim::Fault& fault) {
  if (std::holds_alternative<sim::fault::TargetKill>(fault)) return KillTarget();
  if (std::holds_alternative<sim::fault::TargetRestart>(fault)) {
    if (pid_ > 0) return Status::Ok();
    // Runtime state does not survive: a restarted namespace is attached everywhere.
    for (sim::TargetModel::Namespace& ns : o_.model.ns) ns.attached.assign(o_.model.ports(), true);
    ++restarts_;
    return StartTarget();
  }
  if (sim::IsLinkFault(fault)) {
    if (!o_.play_link) {
      return Status(Code::kUnsupported,
                    fmt::format("\"{}\": this fabric has no links of its own", sim::Describe(fault)));
    }
    return o_.play_link(fault);
  }
  if (sim::IsHostFault(fault)) return sim::ApplyToHost(*this, *uring_, fault);
  auto calls = sim::FaultToRpc(o_.model, fault);
  if (!calls.ok()) return calls.status();
  if (pid_ <= 0) return Status::Ok();  // down: the model alone changes, as ApplyToTarget does
  for (const sim::TargetRpc& call : *calls) NVMP_RETURN_IF_ERROR(Rpc(call));
  return Status::Ok();
}

// Every fault undone, said as faults: namespaces back, then per port enabled, flowing, undelayed,
// no late writes, the healed ANA states and every namespace attached.
Status ProcessFabric::Heal() {
  if (o_.heal_links) NVMP_RETURN_IF_ERROR(o_.heal_links());
  std::vector<sim::Fault> heal;
  for (int h = 0; h < o_.model.namespaces(); ++h) {
    if (!o_.model.ns[h].present) heal.push_back(sim::fault::NsPresent{h, true});
  }
  for (int p = 0; p < o_.model.ports(); ++p) {
    heal.push_back(sim::fault::PortEnabled{p, true});
    heal.push_back(sim::fault::StallResponses{p, false});
    heal.push_back(sim::fault::DelayResponses{p, Duration(0)});
    heal.push_back(sim::fault::LateWrites{p, 0, Duration(0)});
    for (int h = 0; h < o_.model.namespaces(); ++h) {
      heal.push_back(sim::fault::Ana{p, h, o_.model.healed_ana[p][h]});
      heal.push_back(sim::fault::NsAttached{p, h, true});
    }
  }
  if (pid_ <= 0) NVMP_RETURN_IF_ERROR(Apply(sim::fault::TargetRestart{}));
  for (const sim::Fault& f : heal) NVMP_RETURN_IF_ERROR(Apply(f));
  return Status::Ok();
}

bool ProcessFabric::AllPathsBack() const {
  if (!host_) return false;
  for (int h = 0; h < o_.model.namespaces(); ++h) {
    for (int p = 0; p < o_.model.ports(); ++p) {
      host::PathNs* path = host_->scanner(static_cast<size_t>(p))->path(o_.model.Nsid(h));
      if (path == nullptr) return false;
      const blk::PathState s = path->state();
      if (s.ctrl != blk::CtrlState::kLive || !s.ready || s.ana_pending ||
          s.ana != o_.model.ana[p][h]) {
        return false;
      }
    }
  }
  return true;
}

std::string ProcessFabric::DescribePaths() const {
  std::string out;
  for (size_t h = 0; h < heads_.size(); ++h) {
    out += fmt::format("{}head {}: {}", h ? "; " : "", h, heads_[h]->DescribePathStates());
  }
  if (host_ && !host_->errors().empty()) out += "; last host error: " + host_->errors().back().ToString();
  return out;
}

void ProcessFabric::AddTotals(sim::ScenarioReport& report) {
  report.ports = o_.model.ports();
  report.target_restarts = restarts_;
  for (mpath::Head* head : heads_) {
    const mpath::HeadStats stats = head->TEST_Stats();
    report.failovers += stats.head.failovers;
    report.requeues += stats.head.requeues;
    report.retries += stats.head.retries;
  }
  for (size_t i = 0; host_ && i < host_->controller_count(); ++i) {
    report.associations += host_->controller(i)->associations();
  }
}

Status ProcessFabric::Stop() {
  if (host_) {
    bool down = false;
    uring_->Post([&] { host_->Shutdown([&] { down = true; }); });
    if (!RunUntil([&] { return down; }, 20s)) {
      stuck_ = true;
      return Status(Code::kTimedOut, "host Shutdown did not finish");
    }
    RunUntil([] { return false; }, 20ms);
    heads_.clear();
    host_.reset();
  }
  if (pid_ > 0) {
    const pid_t pid = std::exchange(pid_, -1);
    Status st = o_.stop ? o_.stop(pid) : StopHere(pid);
    if (!st.ok()) return st.WithContext("the target's log: " + TargetLog());
  }
  return Status::Ok();
}

}  // namespace nvmpath::e2e
