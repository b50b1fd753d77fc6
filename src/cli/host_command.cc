#include "cli/host_command.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "base/log.h"
#include "cli/connection_options.h"
#include "cli/host_config.h"
#include "cli/host_methods.h"
#include "control/rpc_server.h"
#include "cli/list_subsys_command.h"
#include "export/host_service.h"

namespace nvmpath::cli {
namespace {

struct HostArgs {
  ConnectionArgs conn;
  std::string config;
  std::vector<std::string> nbd;
  std::string fuse;
  std::string control_socket;
  std::string metrics;
};

// The shared connection flags that describe one subsystem; with --config each subsystem's entry
// in the file says these, so a flag given beside it would be silently ignored: refused instead.
constexpr const char* kPerSubsystemFlags[] = {
    "--path", "--discovery", "--persistent", "--nqn", "--hostnqn", "--hostid", "--ns", "--policy",
    "--hdr-digest", "--data-digest", "--queue-size", "--head-qos", "--path-qos",
    "--keep-alive-tmo", "--reconnect-delay", "--ctrl-loss-tmo", "--fast-io-fail-tmo",
    "--connect-timeout", "--io-timeout", "--no-path-timeout", "--fence-delay"};

Result<exports::HostServiceOptions> ToServiceOptions(const HostArgs& args, CLI::App* cmd) {
  exports::HostServiceOptions o;
  if (!args.config.empty()) {
    for (const char* flag : kPerSubsystemFlags) {
      if (cmd->count(flag) > 0) {
        return InvalidArgument(fmt::format(
            "{} with --config: the config file describes each subsystem (set it there, in the "
            "subsystem's entry); only --reactors, --nbd, --fuse and --metrics add to a config",
            flag));
      }
    }
    auto config = LoadHostConfig(args.config);
    if (!config.ok()) return config.status();
    o.subsystems = config->subsystems;
    o.io_threads = config->io_threads;
    o.nbd = config->nbd;
    o.fuse = config->fuse;
    o.metrics = config->metrics;
    if (cmd->count("--reactors") > 0) o.io_threads = args.conn.reactors;
  } else {
    auto options = ToClientOptions(args.conn);
    if (!options.ok()) return options.status();
    o.subsystems.push_back(*options);
    o.io_threads = args.conn.reactors;
  }
  for (const std::string& a : args.nbd) {
    Status st = CheckNbdAddress(a);
    if (!st.ok()) return st.WithContext("--nbd");
    o.nbd.push_back(a);
  }
  if (!args.fuse.empty()) {
    if (!o.fuse.empty() && o.fuse != args.fuse) {
      return InvalidArgument(fmt::format("--fuse {}: the config already mounts at {}", args.fuse,
                                         o.fuse));
    }
    o.fuse = args.fuse;
  }
  if (!args.metrics.empty()) {
    auto ep = ParseMetricsAddress(args.metrics);
    if (!ep.ok()) return ep.status().WithContext("--metrics");
    o.metrics = *ep;  // the flag wins over the config's "metrics"
  }
  if (o.io_threads == 0 || o.io_threads > 64) {
    return InvalidArgument(fmt::format("--reactors {}: must be in 1..64", o.io_threads));
  }
  return o;
}

void PrintHeads(const exports::HostService& service) {
  for (const auto& h : service.heads().List()) {
    const SubsystemInfo sub = service.client(h.id.subsystem)->Describe();
    for (const DeviceInfo& d : sub.devices) {
      if (d.nsid == h.id.nsid) std::printf("%s\n", FormatHeadLine(h.name, sub.subnqn, d).c_str());
    }
  }
}

int RunHost(const HostArgs& args, CLI::App* cmd) {
  auto options = ToServiceOptions(args, cmd);
  if (!options.ok()) {
    PrintError("host", options.status());
    return 2;
  }
  // A service's log: path and controller changes at info; -v adds the debug detail.
  if (std::getenv("NVMPATH_LOG") == nullptr) {
    base::SetLogLevel(args.conn.verbose ? base::LogLevel::kDebug : base::LogLevel::kInfo);
  }
  // The stop signals are blocked before any thread starts, so every thread inherits the mask and
  // sigwait alone receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A client that goes away mid-reply must not kill the host.
  signal(SIGPIPE, SIG_IGN);

  const std::vector<std::string> nbd = options->nbd;
  const std::string fuse = options->fuse;
  auto service = exports::HostService::Start(std::move(*options));
  if (!service.ok()) {
    PrintError("host", service.status());
    return 1;
  }
  // The control socket serves while the host runs and stops before it: a verb never runs into
  // a stopping host.
  control::RpcDispatcher dispatcher;
  std::unique_ptr<control::RpcServer> control;
  if (!args.control_socket.empty()) {
    RegisterHostMethods(dispatcher, **service);
    auto server = control::RpcServer::Start(dispatcher, {.socket_path = args.control_socket});
    if (!server.ok()) {
      PrintError("host", server.status().WithContext("--control-socket"));
      (*service)->Stop().IgnoreError();
      return 1;
    }
    control = std::move(server).value();
  }
  PrintHeads(**service);
  const auto ports = (*service)->nbd_ports();
  for (size_t i = 0; i < nbd.size() && i < ports.size(); ++i) {
    if (nbd[i].starts_with("unix:")) {
      std::printf("nbd: listening on %s\n", nbd[i].c_str());
    } else {
      const std::string host = nbd[i].substr(0, nbd[i].rfind(':'));
      std::printf("nbd: listening on %s:%u\n", host.c_str(), ports[i]);
    }
  }
  if (!fuse.empty()) std::printf("fuse: heads are files in %s\n", fuse.c_str());
  if (control) std::printf("control: %s\n", control->socket_path().c_str());
  if (const auto* m = (*service)->metrics()) {
    std::printf("metrics: http://%s/metrics\n", m->address_port().c_str());
  }
  std::printf("ready\n");
  // Scripts wait for these lines; stdout may be a pipe or a file, which are not line-buffered.
  std::fflush(stdout);

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  std::fprintf(stderr, "nvmpath host: %s: stopping (finishing I/O in flight, flushing heads)\n",
               strsignal(signal_number));
  // A second signal while the stop runs: the operator wants out now.
  std::thread([stop_signals] {
    int again = 0;
    while (sigwait(&stop_signals, &again) != 0) {
    }
    std::fprintf(stderr, "nvmpath host: %s again: exiting at once, without a clean stop\n",
                 strsignal(again));
    _exit(130);
  }).detach();
  if (control) control->Stop();
  Status st = (*service)->Stop();
  if (!st.ok()) {
    PrintError("host", st);
    return 1;
  }
  std::fprintf(stderr, "nvmpath host: stopped\n");
  return 0;
}

}  // namespace

std::string FormatHeadLine(const std::string& name, const std::string& subnqn,
                           const DeviceInfo& d) {
  std::string line = fmt::format("{}  {}  nsid {}  {} ({} x {} B)", name, subnqn, d.nsid,
                                 HumanBytes(d.capacity_blocks * d.block_size), d.capacity_blocks,
                                 d.block_size);
  if (!d.nguid.empty()) line += "  nguid " + d.nguid;
  if (!d.eui64.empty()) line += "  eui64 " + d.eui64;
  if (!d.uuid.empty()) line += "  uuid " + d.uuid;
  std::string paths;
  for (const PathInfo& p : d.paths) {
    paths += fmt::format("{}{} {} {}", paths.empty() ? "" : ", ", p.name, p.controller_state,
                         p.ana_state);
  }
  return line + "  paths: " + (paths.empty() ? "none" : paths);
}

void AddHostCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<HostArgs>();
  CLI::App* cmd = app.add_subcommand(
      "host", "Run the multipath host until SIGINT or SIGTERM, exporting its heads over NBD and FUSE");
  cmd->footer(
      "Heads are named nvmpath<S>n<NSID> (S: the subsystem's index, 0 with --path).\n"
      "Examples:\n"
      "  nvmpath host --nqn nqn.2026-11.io.nvmpath:demo --path 127.0.0.1:4420 "
      "--path 127.0.0.1:4421 --nbd unix:/tmp/nvmpath.sock\n"
      "  qemu-img info 'nbd+unix:///nvmpath0n1?socket=/tmp/nvmpath.sock'\n"
      "  nvmpath host --config host.json --fuse /mnt/nvmpath\n"
      "The config format is in docs/host-config.md.");
  AddConnectionOptions(cmd, &args->conn);
  cmd->add_option("--config", args->config, "Host config (JSON): several subsystems, exports");
  cmd->add_option("--nbd", args->nbd,
                  "NBD export: unix:PATH or ADDR:PORT (repeat for several listeners)");
  cmd->add_option("--fuse", args->fuse, "FUSE export: a directory with one file per head");
  cmd->add_option("--control-socket", args->control_socket,
                  "Serve `nvmpath host-ctl` on this Unix socket (JSON-RPC 2.0, mode 0600)");
  cmd->add_option("--metrics", args->metrics,
                  "Prometheus metrics at http://ADDR:PORT/metrics (e.g. 127.0.0.1:9100, "
                  "[::1]:9100, localhost:0 for a free port)");
  cmd->callback([args, cmd, &exit_code] { exit_code = RunHost(*args, cmd); });
}

}  // namespace nvmpath::cli
