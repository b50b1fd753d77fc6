#include "cli/demo_report.h"

#include <fmt/format.h>

namespace nvmpath::cli {
namespace {

std::string Ms(Duration d) { return fmt::format("{:.0f} ms", ToSeconds(d) * 1000); }

double NsToMs(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// "p50 0.21 ms, p99 0.35 ms, max 0.40 ms"
std::string Gap(const StatsHistogram& h) {
  return fmt::format("p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms", NsToMs(h.Percentile(0.50)),
                     NsToMs(h.Percentile(0.99)), NsToMs(h.max_ns()));
}

nlohmann::json GapJson(const StatsHistogram& h) {
  return {{"count", h.count()},
          {"p50_ms", NsToMs(h.Percentile(0.50))},
          {"p99_ms", NsToMs(h.Percentile(0.99))},
          {"max_ms", NsToMs(h.max_ns())}};
}

}  // namespace

std::string FormatEvent(const TcpDemoResult& result, const DemoEvent& e) {
  std::string s = fmt::format("t={:5.2f}s  {}\n", ToSeconds(e.at), e.what);
  if (!e.status.ok()) {
    s += fmt::format("           the target refused: {}\n", e.status.ToString());
  }
  for (const DemoNote& n : e.notes) s += fmt::format("           +{:>7}  {}\n", Ms(n.at), n.what);
  s += fmt::format(
      "           host, next {:.1f} s: {} I/Os done, {} errors, {} failovers, {} requeues, "
      "{} retries, longest pause {}\n"
      "                             sent on path 1: {}, path 2: {}\n",
      ToSeconds(e.window), e.completed, e.errors, e.failovers, e.requeues, e.retries,
      Ms(e.longest_pause), e.path_ios[0], e.path_ios[1]);
  if (e.failover_gap.count() > 0) {
    s += fmt::format("                             failover gap ({} I/Os): {}\n",
                     e.failover_gap.count(), Gap(e.failover_gap));
  }
  (void)result;
  return s;
}

std::string FormatSummary(const TcpDemoResult& r) {
  if (!r.setup.ok()) return fmt::format("nvmpath demo: could not start: {}\n", r.setup.ToString());
  std::string s = fmt::format("\nSummary ({:.1f} s of I/O, then a read-back of every block)\n",
                              ToSeconds(r.run));
  auto row = [&](const std::string& name, uint64_t v) {
    s += fmt::format("  {:<44} {:>12}\n", name, v);
  };
  row("I/Os (verify workload)", r.ios);
  row("errors seen by the application", r.app_errors);
  row("failovers", r.failovers);
  row("requeues (waited for a path)", r.requeues);
  row("same-path retries", r.retries);
  row("I/Os that failed over and completed", r.failover_gap.count());
  if (r.failover_gap.count() > 0) {
    s += fmt::format("  {:<44} {:>12}\n", "failover gap", Gap(r.failover_gap));
  }
  row(fmt::format("I/O sent on path 1 ({})", r.paths[0]), r.path_ios[0]);
  row(fmt::format("I/O sent on path 2 ({})", r.paths[1]), r.path_ios[1]);
  row("blocks verified", r.blocks_verified);
  row("  of which in the final read-back", r.readback_blocks);
  row("verify mismatches", r.mismatches);
  if (r.slow_turns > 0) row("host loop turns over 200 ms (machine busy)", r.slow_turns);
  if (r.failures.empty()) {
    s += "\nPASS: no application error, no mismatch\n";
  } else {
    s += "\nFAIL:\n";
    for (const std::string& f : r.failures) s += "  " + f + "\n";
  }
  return s;
}

nlohmann::json DemoResultJson(const TcpDemoResult& r) {
  nlohmann::json j;
  j["passed"] = r.exit_code() == 0;
  if (!r.setup.ok()) {
    j["setup_error"] = r.setup.ToString();
    return j;
  }
  j["paths"] = r.paths;
  j["run_s"] = ToSeconds(r.run);
  j["events"] = nlohmann::json::array();
  for (const DemoEvent& e : r.events) {
    nlohmann::json ev = {{"at_s", ToSeconds(e.at)},
                         {"event", e.what},
                         {"status", e.status.ToString()},
                         {"played", e.status.ok()},
                         {"window_s", ToSeconds(e.window)},
                         {"completed", e.completed},
                         {"errors", e.errors},
                         {"failovers", e.failovers},
                         {"requeues", e.requeues},
                         {"retries", e.retries},
                         {"path_ios", e.path_ios},
                         {"longest_pause_ms", ToSeconds(e.longest_pause) * 1000},
                         {"failover_gap", GapJson(e.failover_gap)}};
    ev["host"] = nlohmann::json::array();
    for (const DemoNote& n : e.notes) {
      ev["host"].push_back({{"after_ms", ToSeconds(n.at) * 1000}, {"what", n.what}});
    }
    j["events"].push_back(std::move(ev));
  }
  j["ios"] = r.ios;
  j["app_errors"] = r.app_errors;
  j["failovers"] = r.failovers;
  j["requeues"] = r.requeues;
  j["retries"] = r.retries;
  j["failover_gap"] = GapJson(r.failover_gap);
  j["path_ios"] = r.path_ios;
  j["blocks_verified"] = r.blocks_verified;
  j["readback_blocks"] = r.readback_blocks;
  j["mismatches"] = r.mismatches;
  j["slow_turns"] = r.slow_turns;
  j["failures"] = r.failures;
  return j;
}

}  // namespace nvmpath::cli
