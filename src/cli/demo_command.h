// `nvmpath demo`: what `make demo` runs — the multipath host against an embedded target over
// NVMe/TCP on 127.0.0.1 while the target plays faults (demo_tcp.h), a timeline of what the host
// did, and a table of totals. `--sim` plays the simulated remap storm instead (sim/remap_storm.h).
// The command registers its own options; main.cc only calls AddDemoCommand.
#pragma once

#include <CLI/CLI.hpp>

namespace nvmpath::cli {

void AddDemoCommand(CLI::App& app, int& exit_code);

}  // namespace nvmpath::cli
