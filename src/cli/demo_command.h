// `nvmpath demo`: what `make demo` runs. Until the NVMe/TCP host exists it plays the simulated
// remap storm: one seed with its timeline, then a batch of seeds, and a summary table.
#pragma once

#include <CLI/CLI.hpp>

namespace nvmpath::cli {

void AddDemoCommand(CLI::App& app, int& exit_code);

}  // namespace nvmpath::cli
