// `nvmpath sim`: runs a simulated scenario over a list of seeds and reports the invariants.
#pragma once

#include <CLI/CLI.hpp>

namespace nvmpath::cli {

// Adds the `sim` subcommand to `app`; it sets `exit_code` when it runs.
void AddSimCommand(CLI::App& app, int& exit_code);

}  // namespace nvmpath::cli
