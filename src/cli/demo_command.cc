#include "cli/demo_command.h"

#include <cstdio>
#include <memory>

#include "sim/remap_storm.h"

namespace nvmpath::cli {
namespace {

struct DemoArgs {
  int seeds = 20;
};

int RunDemo(const DemoArgs& args) {
  std::printf(
      "nvmpath demo — simulated NVMe multipath under a namespace remap storm\n"
      "Two heads (shared namespaces), each reached through 3 paths (optimized, non-optimized,\n"
      "inaccessible, like blktests nvme/058), a verify workload on 2 reactors per head. Faults:\n"
      "namespace removed/re-added behind a port, resize, ANA flips, controller loss, injected\n"
      "path errors, stalls, slow paths. Every read is checked against the last acknowledged write.\n\n"
      "Timeline of seed 1:\n");
  sim::StormOptions one;
  one.seed = 1;
  sim::StormResult first = sim::RunRemapStorm(one, [](const std::string& line) {
    std::printf("  %s\n", line.c_str());
  });
  std::printf("\n  seed 1: %lu I/Os, %lu failovers, %lu requeues, %lu blocks verified, "
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
    sim::StormResult r = sim::RunRemapStorm(o);
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
  CLI::App* demo = app.add_subcommand("demo", "Show multipath surviving a storm of path faults");
  demo->footer("Example:\n  nvmpath demo --seeds 50");
  demo->add_option("--seeds", args->seeds, "How many seeds to run")->capture_default_str()->check(
      CLI::Range(1, 100000));
  demo->callback([args, &exit_code] { exit_code = RunDemo(*args); });
}

}  // namespace nvmpath::cli
