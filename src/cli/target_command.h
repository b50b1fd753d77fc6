// `nvmpath target --config FILE`: runs the userspace NVMe/TCP target until SIGINT or SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

namespace nvmpath::cli {

// Adds the `target` subcommand to `app`; it sets `exit_code` when it runs.
void AddTargetCommand(CLI::App& app, int& exit_code);

}  // namespace nvmpath::cli
