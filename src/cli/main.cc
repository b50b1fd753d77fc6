// nvmpath — the command. Each subcommand lives in its own file and registers itself here.
#include <CLI/CLI.hpp>

#include "cli/demo_command.h"
#include "cli/sim_command.h"
#include "cli/target_command.h"
#include "cli/target_ctl_command.h"

int main(int argc, char** argv) {
  CLI::App app("nvmpath: userspace NVMe/TCP multipath host and target");
  app.require_subcommand(1);
  app.footer("Example:\n  nvmpath sim --scenario remap-storm --seeds 1-1000 --json");
  int exit_code = 0;
  nvmpath::cli::AddSimCommand(app, exit_code);
  nvmpath::cli::AddDemoCommand(app, exit_code);
  nvmpath::cli::AddTargetCommand(app, exit_code);
  nvmpath::cli::AddTargetCtlCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
