#include "cli/bench_report.h"

#include <fmt/format.h>

#include <algorithm>

namespace nvmpath::cli {
namespace {

double Micros(uint64_t ns) { return ns / 1000.0; }

std::string Grouped(uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Rate(double per_s) {
  if (per_s >= 1e6) return fmt::format("{:.2f}M", per_s / 1e6);
  if (per_s >= 1e3) return fmt::format("{:.1f}K", per_s / 1e3);
  return fmt::format("{:.0f}", per_s);
}

std::string Size(uint64_t bytes) {
  if (bytes % (1024 * 1024) == 0) return fmt::format("{} MiB", bytes / (1024 * 1024));
  if (bytes % 1024 == 0) return fmt::format("{} KiB", bytes / 1024);
  return fmt::format("{} B", bytes);
}

uint64_t PathTotal(const std::vector<BenchPathIos>& paths) {
  uint64_t total = 0;
  for (const auto& p : paths) total += p.ios;
  return total;
}

}  // namespace

std::string FormatBenchTable(const BenchResult& r) {
  std::string out = fmt::format("nvmpath bench: {} {} QD{} x {} I/O thread{}, {:.1f} s, {}\n",
                                r.workload, Size(r.bs_bytes), r.qd, r.threads,
                                r.threads == 1 ? "" : "s", r.seconds, r.device);
  size_t name_width = 22;
  // The longest per-path label: "p99 (us) via <name>".
  for (const auto& p : r.paths) name_width = std::max(name_width, p.name.size() + 13);
  auto row = [&out, name_width](std::string_view name, const std::string& value) {
    out += fmt::format("  {:<{}} {:>16}\n", name, name_width, value);
  };
  row("IOPS", Grouped(static_cast<uint64_t>(r.iops() + 0.5)));
  row("MiB/s", fmt::format("{:.1f}", r.mib_s()));
  row("I/Os", Grouped(r.ios));
  row("latency mean (us)", fmt::format("{:.1f}", r.latency.mean_ns() / 1000.0));
  row("latency p50 (us)", fmt::format("{:.1f}", Micros(r.latency.Percentile(0.50))));
  row("latency p99 (us)", fmt::format("{:.1f}", Micros(r.latency.Percentile(0.99))));
  row("latency p99.9 (us)", fmt::format("{:.1f}", Micros(r.latency.Percentile(0.999))));
  row("latency max (us)", fmt::format("{:.1f}", Micros(r.latency.max_ns())));
  row("errors", Grouped(r.errors));
  row("failovers", Grouped(r.failovers));
  row("requeues", Grouped(r.requeues));
  if (r.failover_gap.count > 0) {
    row("failover gap p50 (us)", fmt::format("{:.1f}", Micros(r.failover_gap.p50_ns)));
    row("failover gap p99 (us)", fmt::format("{:.1f}", Micros(r.failover_gap.p99_ns)));
    row("failover gap max (us)", fmt::format("{:.1f}", Micros(r.failover_gap.max_ns)));
  }
  const uint64_t path_total = PathTotal(r.paths);
  for (const auto& p : r.paths) {
    const double share = path_total == 0 ? 0.0 : 100.0 * p.ios / path_total;
    row("I/O via " + p.name, fmt::format("{} ({:.1f}%)", Grouped(p.ios), share));
  }
  for (const auto& p : r.paths) {
    if (p.latency.count == 0) continue;
    row("p99 (us) via " + p.name, fmt::format("{:.1f}", Micros(p.latency.p99_ns)));
  }
  auto qos_row = [&row](const std::string& who, const QosCounters& q) {
    if (q.issued == 0 && q.released == 0 && q.waiting == 0) return;  // no limiter
    row("QoS " + who, fmt::format("{}/{}/{}", Grouped(q.issued), Grouped(q.released),
                                  Grouped(q.waiting)));
  };
  qos_row("head (iss/rel/wait)", r.head_qos);
  for (const auto& p : r.paths) qos_row(p.name, p.qos);
  row("verify blocks", Grouped(r.verify_blocks));
  row("verify mismatches", Grouped(r.verify_mismatches));
  if (!r.first_error.empty()) out += "  first error: " + r.first_error + "\n";
  if (!r.first_mismatch.empty()) out += "  first mismatch: " + r.first_mismatch + "\n";
  if (r.unfinished != 0) {
    out += fmt::format("  {} I/Os did not complete in time and were cancelled\n", r.unfinished);
  }
  return out;
}

namespace {
nlohmann::json QosJson(const QosCounters& q) {
  return {{"issued", q.issued}, {"released", q.released}, {"waiting", q.waiting}};
}

nlohmann::json LatencyJson(const LatencySummary& l) {
  nlohmann::json buckets = nlohmann::json::array();
  for (const LatencyBucket& b : l.buckets) {
    buckets.push_back({{"below_us", Micros(b.below_ns)}, {"count", b.count}});
  }
  return {{"count", l.count},
          {"mean", l.count == 0 ? 0.0 : Micros(l.sum_ns) / static_cast<double>(l.count)},
          {"p50", Micros(l.p50_ns)},
          {"p99", Micros(l.p99_ns)},
          {"p999", Micros(l.p999_ns)},
          {"max", Micros(l.max_ns)},
          {"buckets", std::move(buckets)}};
}
}  // namespace

nlohmann::json BenchJson(const BenchResult& r) {
  nlohmann::json paths = nlohmann::json::array();
  for (const auto& p : r.paths) {
    paths.push_back({{"name", p.name},
                     {"ios", p.ios},
                     {"qos", QosJson(p.qos)},
                     {"lat_us", LatencyJson(p.latency)}});
  }
  nlohmann::json j = {
      {"workload", r.workload},
      {"device", r.device},
      {"bs", r.bs_bytes},
      {"qd", r.qd},
      {"threads", r.threads},
      {"seed", r.seed},
      {"seconds", r.seconds},
      {"ios", r.ios},
      {"bytes", r.bytes},
      {"iops", r.iops()},
      {"mib_s", r.mib_s()},
      {"lat_us",
       {{"mean", r.latency.mean_ns() / 1000.0},
        {"p50", Micros(r.latency.Percentile(0.50))},
        {"p99", Micros(r.latency.Percentile(0.99))},
        {"p999", Micros(r.latency.Percentile(0.999))},
        {"max", Micros(r.latency.max_ns())}}},
      {"errors", r.errors},
      {"failovers", r.failovers},
      {"requeues", r.requeues},
      {"failover_gap_us", LatencyJson(r.failover_gap)},
      {"paths", paths},
      {"qos", QosJson(r.head_qos)},
      {"verify", {{"blocks", r.verify_blocks}, {"mismatches", r.verify_mismatches}}},
      {"unfinished", r.unfinished},
  };
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  if (!r.first_mismatch.empty()) j["first_mismatch"] = r.first_mismatch;
  return j;
}

std::string FormatProgressLine(const BenchProgress& before, const BenchProgress& now) {
  const double dt = now.seconds - before.seconds;
  const double iops = dt > 0 ? (now.ios - before.ios) / dt : 0;
  const double mib_s = dt > 0 ? (now.bytes - before.bytes) / dt / (1024.0 * 1024.0) : 0;
  std::string line = fmt::format("{:>4.0f}s {:>8} IOPS {:>8.1f} MiB/s  errors {}  failovers {}",
                                 now.seconds, Rate(iops), mib_s, now.errors, now.failovers);
  // Shares of this interval's attempts; a path new since `before` counts from zero.
  std::vector<uint64_t> delta;
  uint64_t total = 0;
  for (const auto& p : now.paths) {
    uint64_t prev = 0;
    for (const auto& b : before.paths) {
      if (b.name == p.name) prev = b.ios;
    }
    delta.push_back(p.ios >= prev ? p.ios - prev : 0);
    total += delta.back();
  }
  for (size_t i = 0; i < now.paths.size(); ++i) {
    line +=
        fmt::format("  {} {:.0f}%", now.paths[i].name, total == 0 ? 0.0 : 100.0 * delta[i] / total);
  }
  return line;
}

}  // namespace nvmpath::cli
