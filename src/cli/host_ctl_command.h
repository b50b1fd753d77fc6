// `nvmpath host-ctl [--socket PATH] VERB [--json]`: steer and inspect a running `nvmpath host`
// through its control socket (cli/host_methods.h lists the methods behind the verbs). Every verb
// prints a readable summary, or the method's JSON result with --json.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace nvmpath::cli {

void AddHostCtlCommand(CLI::App& app, int& exit_code);

// The readable forms of list_subsys, show_topology and stats results (pure, for the tests).
std::string FormatListSubsys(const nlohmann::json& result);
std::string FormatTopology(const nlohmann::json& result);
std::string FormatStats(const nlohmann::json& result);

}  // namespace nvmpath::cli
