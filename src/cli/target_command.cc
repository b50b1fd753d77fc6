#include "cli/target_command.h"

#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "target/control/config_json.h"
#include "target/control/target_runner.h"
#include "target/port_address.h"

namespace nvmpath::cli {
namespace {

struct TargetArgs {
  std::string config;
  unsigned reactors = 1;
  std::string control_socket;
};

int RunTarget(const TargetArgs& args) {
  auto config = target::control::LoadTargetConfig(args.config);
  if (!config.ok()) {
    std::fprintf(stderr, "nvmpath target: %s\n", config.status().message().c_str());
    return 2;
  }
  // Block the stop signals before any thread starts, so every thread inherits the mask and the
  // main thread alone receives them through sigwait.
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);

  auto runner = target::control::TargetRunner::Start(
      std::move(*config), {.reactors = args.reactors, .control_socket = args.control_socket});
  if (!runner.ok()) {
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    std::fprintf(stderr, "nvmpath target: %s\n", runner.status().message().c_str());
    return 1;
  }
  for (const auto& p : (*runner)->ports()) {
    if (p.bound_port == 0) {
      std::printf("port %u (%s) is disabled\n", p.id, p.address.c_str());
    } else {
      const bool v6 = target::IsIpv6Address(p.address);  // [::1]:4420, as hosts write it
      std::printf("listening on %s%s%s:%u (port %u)\n", v6 ? "[" : "", p.address.c_str(),
                  v6 ? "]" : "", p.bound_port, p.id);
    }
  }
  if ((*runner)->control_socket().empty()) {
    std::printf("no control socket (set control_socket or --control-socket)\n");
  } else {
    std::printf("control socket %s\n", (*runner)->control_socket().c_str());
  }
  // Scripts wait for these lines; stdout may be a pipe or a file, which are not line-buffered.
  std::fflush(stdout);

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  std::fprintf(stderr, "nvmpath target: %s, shutting down\n", strsignal(signal_number));
  Status s = (*runner)->Shutdown();
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (!s.ok()) {
    std::fprintf(stderr, "nvmpath target: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void AddTargetCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TargetArgs>();
  CLI::App* cmd =
      app.add_subcommand("target", "Run the userspace NVMe/TCP target until SIGINT or SIGTERM");
  cmd->footer(
      "Example:\n  nvmpath target --config examples/two-ports.json\n"
      "  nvmpath target-ctl state     # from another shell\n"
      "The config format is in docs/target-config.md.");
  cmd->add_option("--config", args->config, "Target config (JSON)")->required();
  cmd->add_option("--reactors", args->reactors,
                  "Reactor threads (today every connection is served on the first)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  cmd->add_option("--control-socket", args->control_socket,
                  "Unix socket for target-ctl (overrides the config's control_socket)");
  cmd->callback([args, &exit_code] { exit_code = RunTarget(*args); });
}

}  // namespace nvmpath::cli
