// nvmpath — the command. Each subcommand lives in its own file and registers itself here.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/bench_command.h"
#include "cli/demo_command.h"
#include "cli/host_command.h"
#include "cli/host_ctl_command.h"
#include "cli/io_command.h"
#include "cli/list_subsys_command.h"
#include "cli/sim_command.h"
#include "cli/target_command.h"
#include "cli/target_ctl_command.h"

int main(int argc, char** argv) {
  CLI::App app("nvmpath: userspace NVMe/TCP multipath host and target");
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  nvmpath target --config examples/two-ports.json\n"
      "  nvmpath list-subsys --nqn nqn.2026-11.io.nvmpath:demo --path 127.0.0.1:4420 "
      "--path 127.0.0.1:4421\n"
      "  nvmpath bench randread --qd 32 --nqn nqn.2026-11.io.nvmpath:demo --path 127.0.0.1:4420\n"
      "  nvmpath sim --scenario remap-storm --seeds 1-1000 --json\n"
      "Every subcommand's --help shows an example.");
  // A wrong flag or value: one line naming it.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("nvmpath: ") + e.what() + " (see --help)\n";
  });
  int exit_code = 0;
  nvmpath::cli::AddListSubsysCommand(app, exit_code);
  nvmpath::cli::AddIoCommand(app, exit_code);
  nvmpath::cli::AddBenchCommand(app, exit_code);
  nvmpath::cli::AddHostCommand(app, exit_code);
  nvmpath::cli::AddHostCtlCommand(app, exit_code);
  nvmpath::cli::AddTargetCommand(app, exit_code);
  nvmpath::cli::AddTargetCtlCommand(app, exit_code);
  nvmpath::cli::AddSimCommand(app, exit_code);
  nvmpath::cli::AddDemoCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
