// `nvmpath target-ctl [--socket PATH] <verb> ...`: steers a running `nvmpath target` through its
// JSON-RPC control socket. One verb per RPC method (docs/target-config.md), in shell form.
#pragma once

#include <CLI/CLI.hpp>

namespace nvmpath::cli {

// Adds the `target-ctl` subcommand to `app`; it sets `exit_code` when it runs.
void AddTargetCtlCommand(CLI::App& app, int& exit_code);

}  // namespace nvmpath::cli
