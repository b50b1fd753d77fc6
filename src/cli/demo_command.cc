#include "cli/demo_command.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "base/log.h"
#include "cli/demo_report.h"
#include "cli/demo_tcp.h"
#include "sim/remap_storm.h"

namespace nvmpath::cli {
namespace {

struct DemoArgs {
  int seconds = 20;
  bool json = false;
  bool sim = false;
  int seeds = 20;
};

// The real thing: host and target over NVMe/TCP on 127.0.0.1 (demo_tcp.h).
int RunRealDemo(const DemoArgs& args) {
  TcpDemoOptions o;
  o.run = std::chrono::seconds(args.seconds);
  // The host logs each connection it loses as a warning; here those losses are the point and
  // the timeline shows them, so only errors are logged unless NVMPATH_LOG asks for more.
  if (std::getenv("NVMPATH_LOG") == nullptr) base::SetLogLevel(base::LogLevel::kError);
  if (!args.json) {
    std::printf(
        "nvmpath demo — NVMe/TCP multipath against an embedded target on 127.0.0.1\n"
        "One namespace (a 16 MiB file) behind two target ports, one host controller per port,\n"
        "round-robin over the optimized paths, a verify workload checking every read against\n"
        "the last acknowledged write, for %d s while the target breaks things. After each event:\n"
        "what the host did until the next one (state changes with their delay, then counters).\n\n",
        args.seconds);
    std::fflush(stdout);
  }
  DemoProgress progress;
  if (!args.json) {
    progress = [](const std::string& text) {
      std::fputs(text.c_str(), stdout);
      std::fflush(stdout);
    };
  }
  TcpDemoResult r = RunTcpDemo(o, progress);
  if (args.json) {
    std::printf("%s\n", DemoResultJson(r).dump(2).c_str());
    if (!r.setup.ok())
      std::fprintf(stderr, "nvmpath demo: could not start: %s\n", r.setup.ToString().c_str());
  } else if (!r.setup.ok()) {
    std::fputs(FormatSummary(r).c_str(), stderr);
  } else {
    std::fputs(FormatSummary(r).c_str(), stdout);
  }
  return r.exit_code();
}

// The simulated remap storm (sim/remap_storm.h), as `make demo` showed it before the TCP host.
int RunSimDemo(const DemoArgs& args) {
  std::printf(
      "nvmpath demo — simulated NVMe multipath under a namespace remap storm\n"
      "Two heads (shared namespaces), each reached through 3 paths (optimized, non-optimized,\n"
      "inaccessible, like blktests nvme/058), a verify workload on 2 reactors per head. Faults:\n"
      "namespace detached/attached behind a port, growth, ANA flips, dropped connections,\n"
      "injected path errors, stalls, slow ports (the same fault vocabulary and scenario runner as\n"
      "the TCP storm and the TCP demo). Every read is checked against the last acknowledged "
      "write.\n\n"
      "Timeline of seed 1:\n");
  sim::StormOptions one;
  one.seed = 1;
  sim::ScenarioReport first =
      sim::RunRemapStorm(one, [](const std::string& line) { std::printf("  %s\n", line.c_str()); });
  std::printf(
      "\n  seed 1: %lu I/Os, %lu failovers, %lu requeues, %lu blocks verified, "
      "%lu mismatches, %lu violations\n\n",
      first.ios, first.failovers, first.requeues, first.blocks_verified, first.mismatches,
      first.violations.size());

  uint64_t ios = first.ios, failovers = first.failovers, requeues = first.requeues,
           verified = first.blocks_verified, mismatches = first.mismatches,
           errors = first.app_errors, violations = first.violations.size(), events = first.events;
  int failed = first.ok() ? 0 : 1;
  for (int seed = 2; seed <= args.seeds; ++seed) {
    sim::StormOptions o;
    o.seed = static_cast<uint64_t>(seed);
    sim::ScenarioReport r = sim::RunRemapStorm(o);
    ios += r.ios;
    failovers += r.failovers;
    requeues += r.requeues;
    verified += r.blocks_verified;
    mismatches += r.mismatches;
    errors += r.app_errors;
    violations += r.violations.size();
    events += r.events;
    if (!r.ok()) {
      ++failed;
      for (const auto& v : r.violations) std::printf("  seed %d: %s\n", seed, v.c_str());
      std::printf("  replay: %s --verbose\n", sim::ReplayCommand(r.seed).c_str());
    }
  }
  std::printf("Summary over seeds 1-%d\n", args.seeds);
  std::printf("  %-44s %12lu\n", "fault events", events);
  std::printf("  %-44s %12lu\n", "I/Os", ios);
  std::printf("  %-44s %12lu\n", "failovers", failovers);
  std::printf("  %-44s %12lu\n", "requeues", requeues);
  std::printf("  %-44s %12lu\n", "blocks verified", verified);
  std::printf("  %-44s %12lu\n", "verify mismatches", mismatches);
  std::printf("  %-44s %12lu\n", "errors while a path was usable (violations)", violations);
  std::printf("  %-44s %12lu\n", "errors while no path was left (allowed)", errors);
  std::printf("\n%s\n", failed == 0 ? "PASS: no invariant broken" : "FAIL: invariants broken");
  return failed == 0 ? 0 : 1;
}

}  // namespace

void AddDemoCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Show multipath over NVMe/TCP surviving port loss, ANA flips, namespace removal, "
      "resize and dropped connections");
  demo->footer(
      "Exit status: 0 passed; 1 an application error, a verify mismatch or a path that did not\n"
      "come back; 2 the demo could not start.\n"
      "Examples:\n  nvmpath demo\n  nvmpath demo --seconds 8 --json\n"
      "  nvmpath demo --sim --seeds 50");
  demo->add_option("--seconds", args->seconds, "How long the workload runs while faults play")
      ->capture_default_str()
      ->check(CLI::Range(2, 3600));
  demo->add_flag("--json", args->json, "Print the timeline and totals as one JSON object");
  demo->add_flag("--sim", args->sim,
                 "Play the simulated remap storm (in-process paths, virtual time) instead");
  demo->add_option("--seeds", args->seeds, "With --sim: how many seeds to run")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  demo->callback(
      [args, &exit_code] { exit_code = args->sim ? RunSimDemo(*args) : RunRealDemo(*args); });
}

}  // namespace nvmpath::cli
