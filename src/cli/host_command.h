// `nvmpath host`: the long-running multipath host with its exports (exports::HostService), in
// the foreground until SIGINT or SIGTERM, logging to stderr.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "nvmpath/client.h"

namespace nvmpath::cli {

void AddHostCommand(CLI::App& app, int& exit_code);

// One head as `nvmpath host` prints it at start: "nvmpath0n1  nqn...  nsid 1  64.0 MiB
// (131072 x 512 B)  nguid ...  paths: 127.0.0.1:4420 live optimized, ...".
std::string FormatHeadLine(const std::string& name, const std::string& subnqn,
                           const DeviceInfo& info);

}  // namespace nvmpath::cli
