// `nvmpath list-subsys`: the subsystem as the host sees it — controllers (one per path) with
// address and state, and each namespace head with capacity, block size and, per path, the
// controller state and ANA state. Laid out like `nvme list-subsys`; --json prints the same as
// one object.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "nvmpath/client.h"

namespace nvmpath::cli {

void AddListSubsysCommand(CLI::App& app, int& exit_code);

// The text and JSON forms (pure, for the tests).
std::string FormatSubsystem(const SubsystemInfo& info);
nlohmann::json SubsystemJson(const SubsystemInfo& info);
// "64.0 MiB", "1.5 GiB", "512 B".
std::string HumanBytes(uint64_t bytes);

}  // namespace nvmpath::cli
