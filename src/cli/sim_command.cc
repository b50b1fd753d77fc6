#include "cli/sim_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/seed_range.h"
#include "sim/remap_storm.h"
#include "sim/tcp_storm.h"

namespace nvmpath::cli {
namespace {

struct SimArgs {
  std::string scenario = "remap-storm";
  std::string seeds = "1-100";
  bool json = false;
  bool verbose = false;
  std::optional<int> events;  // unset: the scenario's default (remap-storm 40, tcp-storm 30)
};

struct Totals {
  uint64_t seeds = 0, events = 0, ios = 0, app_errors = 0, violations = 0, blocks_verified = 0,
           mismatches = 0, failovers = 0, requeues = 0;
  // tcp-storm only
  uint64_t target_restarts = 0, associations = 0, fenced_writes = 0, virtual_us = 0;
  std::vector<uint64_t> failed_seeds;
};

int RunSim(const SimArgs& args) {
  const bool tcp = args.scenario == "tcp-storm";
  if (args.scenario != "remap-storm" && !tcp) {
    std::fprintf(stderr, "nvmpath sim: unknown scenario '%s' (known: remap-storm, tcp-storm)\n",
                 args.scenario.c_str());
    return 2;
  }
  auto seeds = ParseSeedList(args.seeds);
  if (!seeds.ok()) {
    std::fprintf(stderr, "nvmpath sim: %s\n", seeds.status().message().c_str());
    return 2;
  }
  if (args.events && (*args.events < 1 || *args.events > 100000)) {
    std::fprintf(stderr, "nvmpath sim: --events %d is out of range (1-100000)\n", *args.events);
    return 2;
  }
  Totals t;
  for (uint64_t seed : *seeds) {
    std::function<void(const std::string&)> log;
    if (args.verbose) {
      // Flushed per line, so the timeline stays in order with the warnings on stderr.
      log = [seed](const std::string& line) {
        std::printf("seed %lu %s\n", seed, line.c_str());
        std::fflush(stdout);
      };
    }
    sim::ScenarioReport r;
    if (tcp) {
      sim::TcpStormOptions o;
      o.seed = seed;
      if (args.events) o.events = *args.events;
      o.quiet_logs = !args.verbose;  // a replay shows the host's and target's warnings too
      r = sim::RunTcpStorm(o, log);
      t.target_restarts += r.target_restarts;
      t.associations += r.associations;
      t.fenced_writes += r.fenced_writes;
      t.virtual_us += r.run_us;
    } else {
      sim::StormOptions o;
      o.seed = seed;
      if (args.events) o.events = *args.events;
      r = sim::RunRemapStorm(o, log);
    }
    ++t.seeds;
    t.events += r.events;
    t.ios += r.ios;
    t.app_errors += r.app_errors;
    t.violations += r.violations.size();
    t.blocks_verified += r.blocks_verified;
    t.mismatches += r.mismatches;
    t.failovers += r.failovers;
    t.requeues += r.requeues;
    if (!r.ok()) {
      t.failed_seeds.push_back(seed);
      for (const std::string& v : r.violations) {
        std::fprintf(stderr, "seed %lu: %s\n", seed, v.c_str());
      }
      std::fprintf(
          stderr, "seed %lu FAILED; replay: %s --verbose\n", seed,
          tcp ? sim::TcpStormReplayCommand(seed).c_str() : sim::ReplayCommand(seed).c_str());
    }
  }
  if (args.json) {
    nlohmann::json j = {{"scenario", args.scenario},
                        {"seeds", t.seeds},
                        {"events", t.events},
                        {"ios", t.ios},
                        {"app_errors", t.app_errors},
                        {"violations", t.violations},
                        {"failed_seeds", t.failed_seeds},
                        {"blocks_verified", t.blocks_verified},
                        {"mismatches", t.mismatches},
                        {"failovers", t.failovers},
                        {"requeues", t.requeues}};
    if (tcp) {
      j["target_restarts"] = t.target_restarts;
      j["associations"] = t.associations;
      j["fenced_writes"] = t.fenced_writes;
      j["virtual_ms"] = static_cast<double>(t.virtual_us) / 1000;
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "%s: %lu seeds, %lu events, %lu I/Os, %lu failovers, %lu requeues, %lu blocks "
        "verified, %lu mismatches, %lu application errors (only while no path was usable), "
        "%lu violations\n",
        args.scenario.c_str(), t.seeds, t.events, t.ios, t.failovers, t.requeues, t.blocks_verified,
        t.mismatches, t.app_errors, t.violations);
    if (tcp) {
      std::printf(
          "%s: %lu target restarts, %lu controller associations, %lu fenced writes, "
          "%.1f ms of virtual time\n",
          args.scenario.c_str(), t.target_restarts, t.associations, t.fenced_writes,
          static_cast<double>(t.virtual_us) / 1000);
    }
  }
  return t.failed_seeds.empty() ? 0 : 1;
}

}  // namespace

void AddSimCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SimArgs>();
  CLI::App* sim = app.add_subcommand(
      "sim", "Run a deterministic simulated scenario over many seeds and check the invariants");
  sim->footer(
      "Example:\n  nvmpath sim --scenario remap-storm --seeds 1-1000 --json\n"
      "  nvmpath sim --seeds 17 --verbose     # replay one seed with its event timeline\n"
      "  nvmpath sim --scenario tcp-storm --seeds 1-200   # the faults over NVMe/TCP, target "
      "restarts included");
  sim->add_option("--scenario", args->scenario,
                  "Scenario to run: remap-storm (heads over in-process paths) or tcp-storm (the "
                  "multipath host against the target over the simulated network)")
      ->capture_default_str();
  sim->add_option("--seeds", args->seeds, "Seeds: N, A-B, or a comma list of those")
      ->capture_default_str();
  sim->add_option("--events", args->events,
                  "Fault events per seed (default: remap-storm 40, tcp-storm 30)");
  sim->add_flag("--json", args->json, "Print one JSON object");
  sim->add_flag("--verbose", args->verbose, "Print every fault event");
  sim->callback([args, &exit_code] { exit_code = RunSim(*args); });
}

}  // namespace nvmpath::cli
