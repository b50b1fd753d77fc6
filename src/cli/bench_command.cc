#include "cli/bench_command.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>

#include "cli/bench_runner.h"
#include "cli/connection_options.h"
#include "control/json_fields.h"

namespace nvmpath::cli {
namespace {

struct BenchArgs {
  ConnectionArgs conn;
  std::string workload = "randread";
  std::string bs = "4KiB";
  unsigned qd = 1;
  std::string time = "10s";
  std::string size;
  uint64_t io_count = 0;
  unsigned mix = 50;
  uint64_t seed = 1;
};

// SIGINT ends the run early; the table of what ran is still printed.
std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted.store(true, std::memory_order_relaxed); }

Result<BenchOptions> ToBenchOptions(const BenchArgs& a) {
  BenchOptions o;
  auto w = ParseWorkload(a.workload);
  if (!w.ok()) return w.status();
  o.workload = *w;
  auto bs = control::ParseSizeString(a.bs, "--bs");
  if (!bs.ok()) return bs.status();
  if (*bs == 0 || *bs > (uint64_t{1} << 30)) {
    return InvalidArgument(fmt::format("--bs {}: must be between 1 byte and 1GiB", a.bs));
  }
  o.bs_bytes = static_cast<uint32_t>(*bs);
  o.qd = a.qd;
  auto t = ParseDuration(a.time, "--time", false);
  if (!t.ok()) return t.status();
  o.time = *t;
  if (o.time.count() == 0 && a.io_count == 0) {
    return InvalidArgument("--time 0 needs --io-count N (otherwise nothing would run)");
  }
  if (o.time.count() == 0) o.time = std::chrono::hours(24 * 365);  // bounded by --io-count only
  if (!a.size.empty()) {
    auto size = control::ParseSizeString(a.size, "--size");
    if (!size.ok()) return size.status();
    if (*size == 0) return InvalidArgument("--size 0: give a size, or leave it out for the device");
    o.size_bytes = *size;
  }
  o.io_count = a.io_count;
  o.read_percent = a.mix;
  o.seed = a.seed;
  return o;
}

int RunBenchCommand(const BenchArgs& a) {
  auto options = ToBenchOptions(a);
  if (!options.ok()) {
    PrintError("bench", options.status());
    return 2;
  }
  auto client = ConnectClient(a.conn);
  if (!client.ok()) {
    PrintError("bench", client.status());
    return client.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  auto dev = OpenDevice(**client, a.conn);
  if (!dev.ok()) {
    PrintError("bench", dev.status());
    return 1;
  }
  Status checked = CheckBenchOptions(*options, **dev, (*client)->io_threads());
  if (!checked.ok()) {
    PrintError("bench", checked);
    return 2;
  }

  const bool live = !a.conn.json && isatty(STDOUT_FILENO) == 1;
  BenchProgress last;
  std::function<void(const BenchProgress&)> progress;
  if (live) {
    progress = [&last](const BenchProgress& now) {
      std::printf("\r%s\033[K", FormatProgressLine(last, now).c_str());
      std::fflush(stdout);
      last = now;
    };
  }
  g_interrupted.store(false);
  struct sigaction on_int {
  }, old_int{};
  on_int.sa_handler = OnInterrupt;
  sigemptyset(&on_int.sa_mask);
  sigaction(SIGINT, &on_int, &old_int);
  auto result = RunBench(**client, **dev, *options, progress, &g_interrupted);
  sigaction(SIGINT, &old_int, nullptr);
  if (live) std::printf("\r\033[K");
  if (!result.ok()) {
    PrintError("bench", result.status());
    return 1;
  }
  if (a.conn.json) {
    std::printf("%s\n", BenchJson(*result).dump(2).c_str());
  } else {
    std::fputs(FormatBenchTable(*result).c_str(), stdout);
  }
  // Mismatches are data loss; errors and cancelled I/Os mean the run did not do what it set out.
  return result->verify_mismatches != 0 || result->errors != 0 || result->unfinished != 0 ? 1 : 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Run a workload against a namespace and report IOPS, bandwidth and latency");
  cmd->footer(
      "Examples:\n"
      "  nvmpath bench randread --bs 4KiB --qd 32 --time 10 --nqn nqn.2026-11.io.nvmpath:demo \\\n"
      "      --path 127.0.0.1:4420 --path 127.0.0.1:4421\n"
      "  nvmpath bench verify --size 16MiB --qd 8 --io-count 20000 --nqn ... --path ... --json\n"
      "Workloads: randread, randwrite, read, write, randrw (--mix % reads), verify (write a\n"
      "pattern of LBA, generation and seed per block, read it back, count mismatches).\n"
      "Exit status 1 if any I/O failed or any block mismatched.");
  cmd->add_option("workload", args->workload, "randread, randwrite, read, write, randrw or verify")
      ->capture_default_str();
  cmd->add_option("--bs", args->bs, "Transfer size: bytes or 4KiB, 128KiB")->capture_default_str();
  cmd->add_option("--qd", args->qd, "I/Os in flight per I/O thread (--reactors)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  cmd->add_option("--time", args->time, "How long: seconds, or 500ms, 1m (0: --io-count only)")
      ->capture_default_str();
  cmd->add_option("--size", args->size, "Region from LBA 0 the I/Os touch (default: the device)");
  cmd->add_option("--io-count", args->io_count, "Stop after this many I/Os (0: time only)")
      ->capture_default_str();
  cmd->add_option("--mix", args->mix, "randrw: percentage of reads")
      ->capture_default_str()
      ->check(CLI::Range(0u, 100u));
  cmd->add_option("--seed", args->seed, "Seed of the LBA sequence and the verify pattern")
      ->capture_default_str();
  AddConnectionOptions(cmd, &args->conn);
  cmd->callback([args, &exit_code] { exit_code = RunBenchCommand(*args); });
}

}  // namespace nvmpath::cli
