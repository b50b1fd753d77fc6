#include "cli/list_subsys_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "cli/connection_options.h"

namespace nvmpath::cli {

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024.0 && unit < 5) {
    v /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string FormatSubsystem(const SubsystemInfo& info) {
  std::string out = fmt::format("{}\n  hostnqn={}\n", info.subnqn, info.hostnqn);
  if (!info.controllers.empty()) {
    const ControllerInfo& c = info.controllers.front();
    out += fmt::format("  model=\"{}\" serial={} firmware={}\n", c.model, c.serial, c.firmware);
  }
  out += "\\\n";
  for (size_t i = 0; i < info.controllers.size(); ++i) {
    const ControllerInfo& c = info.controllers[i];
    out += fmt::format(" +- ctrl{} tcp traddr={},trsvcid={} cntlid={} {}", i, c.endpoint.address,
                       c.endpoint.port, c.cntlid, c.state);
    if (c.state == "live") out += fmt::format(" io_queues={}", c.io_queues);
    if (c.reconnect_attempts != 0) out += fmt::format(" reconnects={}", c.reconnect_attempts);
    if (!c.last_error.empty() && c.state != "live") out += " (" + c.last_error + ")";
    out += "\n";
  }
  for (const DeviceInfo& d : info.devices) {
    const uint64_t bytes = d.capacity_blocks * d.block_size;
    out += fmt::format("ns{} {}: {} ({} blocks of {} B)\n", d.nsid, d.name, HumanBytes(bytes),
                       d.capacity_blocks, d.block_size);
    out += "\\\n";
    for (const PathInfo& p : d.paths) {
      out += fmt::format(" +- {} {} {}", p.name, p.controller_state, p.ana_state);
      if (!p.ready) out += " not-ready";
      if (p.usable) out += " usable";
      out += "\n";
    }
  }
  if (info.devices.empty()) out += "(no namespaces)\n";
  for (const std::string& p : info.problems) out += "problem: " + p + "\n";
  return out;
}

nlohmann::json SubsystemJson(const SubsystemInfo& info) {
  nlohmann::json controllers = nlohmann::json::array();
  for (const ControllerInfo& c : info.controllers) {
    controllers.push_back({{"name", c.name},
                           {"address", c.endpoint.address},
                           {"port", c.endpoint.port},
                           {"state", c.state},
                           {"cntlid", c.cntlid},
                           {"model", c.model},
                           {"serial", c.serial},
                           {"firmware", c.firmware},
                           {"io_queues", c.io_queues},
                           {"reconnect_attempts", c.reconnect_attempts},
                           {"last_error", c.last_error}});
  }
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceInfo& d : info.devices) {
    nlohmann::json paths = nlohmann::json::array();
    for (const PathInfo& p : d.paths) {
      paths.push_back({{"name", p.name},
                       {"address", p.endpoint.address},
                       {"port", p.endpoint.port},
                       {"controller_state", p.controller_state},
                       {"ana_state", p.ana_state},
                       {"ready", p.ready},
                       {"usable", p.usable}});
    }
    devices.push_back({{"nsid", d.nsid},
                       {"name", d.name},
                       {"capacity_blocks", d.capacity_blocks},
                       {"block_size", d.block_size},
                       {"capacity_bytes", d.capacity_blocks * d.block_size},
                       {"paths", paths}});
  }
  return {{"subnqn", info.subnqn},
          {"hostnqn", info.hostnqn},
          {"controllers", controllers},
          {"namespaces", devices},
          {"problems", info.problems}};
}

namespace {

int RunListSubsys(const ConnectionArgs& args) {
  auto client = ConnectClient(args);
  if (!client.ok()) {
    PrintError("list-subsys", client.status());
    return client.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  if (args.nsid) {  // an unknown --ns is an error here too, not an empty listing
    auto dev = OpenDevice(**client, args);
    if (!dev.ok()) {
      PrintError("list-subsys", dev.status());
      return 1;
    }
  }
  SubsystemInfo info = (*client)->Describe();
  if (args.nsid) {
    std::erase_if(info.devices, [&](const DeviceInfo& d) { return d.nsid != *args.nsid; });
  }
  if (args.json) {
    std::printf("%s\n", SubsystemJson(info).dump(2).c_str());
  } else {
    std::fputs(FormatSubsystem(info).c_str(), stdout);
  }
  return 0;
}

}  // namespace

void AddListSubsysCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ConnectionArgs>();
  CLI::App* cmd = app.add_subcommand(
      "list-subsys", "Show a subsystem's controllers, paths (state, ANA state) and namespaces");
  cmd->footer(
      "Example:\n"
      "  nvmpath list-subsys --nqn nqn.2026-11.io.nvmpath:demo \\\n"
      "      --path 127.0.0.1:4420 --path 127.0.0.1:4421\n"
      "  nvmpath list-subsys --discovery 127.0.0.1:8009 --json");
  AddConnectionOptions(cmd, args.get());
  cmd->callback([args, &exit_code] { exit_code = RunListSubsys(*args); });
}

}  // namespace nvmpath::cli
