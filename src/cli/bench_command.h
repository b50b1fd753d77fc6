// `nvmpath bench`: a workload against one namespace for a time or an I/O count, driven from the
// client's I/O threads (cli/bench_runner.h); a live progress line when stdout is a terminal, a
// final table, or one JSON object with --json.
#pragma once

#include <CLI/CLI.hpp>

namespace nvmpath::cli {

void AddBenchCommand(CLI::App& app, int& exit_code);

}  // namespace nvmpath::cli
