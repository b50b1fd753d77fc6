#include "cli/connection_options.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "base/log.h"

namespace nvmpath::cli {

void AddConnectionOptions(CLI::App* cmd, ConnectionArgs* a) {
  const std::string g = "Connection";
  cmd->add_option("--path", a->paths, "ADDR:PORT of one path to the subsystem (repeat per path)")
      ->group(g)
      ->allow_extra_args(false);
  cmd->add_option("--discovery", a->discovery,
                  "ADDR:PORT of a discovery controller: every path of the subsystem it lists")
      ->group(g);
  cmd->add_flag("--persistent", a->persistent,
                "With --discovery: stay connected to the discovery controller and follow its log "
                "(paths added and removed as it changes)")
      ->group(g);
  cmd->add_option("--nqn", a->nqn, "Subsystem NQN (optional with --discovery and one subsystem)")
      ->group(g);
  cmd->add_option("--hostnqn", a->hostnqn, "Host NQN (default: from --hostid)")->group(g);
  cmd->add_option("--hostid", a->hostid, "Host ID, a UUID (default: a random one)")->group(g);
  cmd->add_option("--ns", a->nsid, "Namespace ID (default: the first)")->group(g);
  cmd->add_option("--policy", a->policy, "Path policy: numa, round-robin or queue-depth")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--reactors", a->reactors, "Host I/O threads (one I/O queue per path each)")
      ->group(g)
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  cmd->add_flag("--hdr-digest", a->hdr_digest, "Ask for PDU header digests (CRC32C)")->group(g);
  cmd->add_flag("--data-digest", a->data_digest, "Ask for PDU data digests (CRC32C)")->group(g);
  cmd->add_option("--queue-size", a->queue_size, "I/O queue entries per path and I/O thread")
      ->group(g)
      ->capture_default_str()
      ->check(CLI::Range(2u, 65535u));
  cmd->add_option("--head-qos", a->head_qos,
                  "QoS of each head: iops=N,bw=SIZE/s,depth=N in any combination "
                  "(split across the I/O threads)")
      ->group(g);
  cmd->add_option("--path-qos", a->path_qos,
                  "QoS of each path of each head: iops=N,bw=SIZE/s,depth=N in any combination "
                  "(split across the I/O threads)")
      ->group(g);
  const std::string d = "Timeouts (seconds, or 500ms, 2s, 1m)";
  cmd->add_option("--keep-alive-tmo", a->keep_alive_tmo, "Keep-alive timeout (default 5)")
      ->group(d);
  cmd->add_option("--reconnect-delay", a->reconnect_delay,
                  "Wait between reconnect attempts (default 10)")
      ->group(d);
  cmd->add_option("--ctrl-loss-tmo", a->ctrl_loss_tmo,
                  "Give a lost path up after this long (default 600; -1: never)")
      ->group(d);
  cmd->add_option("--fast-io-fail-tmo", a->fast_io_fail_tmo,
                  "Fail I/O of a reconnecting path after this long (default -1: off)")
      ->group(d);
  cmd->add_option("--connect-timeout", a->connect_timeout,
                  "How long to wait for the paths at start (default 10)")
      ->group(d);
  cmd->add_option("--io-timeout", a->io_timeout, "Per-command timeout (default 30)")->group(d);
  cmd->add_option("--no-path-timeout", a->no_path_timeout,
                  "How long an I/O waits for a usable path (default 0: while one may return)")
      ->group(d);
  cmd->add_option("--fence-delay", a->fence_delay,
                  "Hold a write whose connection was lost this long before it fails over "
                  "(default -1: the controller's CQT)")
      ->group(d);
  cmd->add_flag("--json", a->json, "Machine-readable output (one JSON object)");
  cmd->add_flag("-v,--verbose", a->verbose,
                "Show the host's warnings (reconnects, path changes) on stderr");
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text, std::string_view flag,
                                                bool allow_negative) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("{} '{}': {}", flag, text, why));
  };
  if (text == "-1") {
    if (!allow_negative) return bad("must not be negative");
    return std::chrono::milliseconds(-1);
  }
  int64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || rest == begin) {
    return bad("not a duration (seconds, or a number with ms, s or m)");
  }
  if (value < 0)
    return bad(allow_negative ? "the only negative value is -1" : "must not be negative");
  const std::string_view unit(rest, static_cast<size_t>(end - rest));
  int64_t ms_per_unit = 0;
  if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "m") {
    ms_per_unit = 60000;
  } else {
    return bad(fmt::format("unknown unit '{}' (expected ms, s or m)", unit));
  }
  if (value > INT64_MAX / ms_per_unit / 1000) return bad("too large");
  return std::chrono::milliseconds(value * ms_per_unit);
}

Result<ClientOptions> ToClientOptions(const ConnectionArgs& a) {
  ClientOptions o;
  for (const std::string& p : a.paths) {
    auto ep = Endpoint::Parse(p);
    if (!ep.ok()) return ep.status().WithContext(fmt::format("--path '{}'", p));
    o.paths.push_back(*ep);
  }
  if (!a.discovery.empty()) {
    auto ep = Endpoint::Parse(a.discovery);
    if (!ep.ok()) return ep.status().WithContext(fmt::format("--discovery '{}'", a.discovery));
    o.discovery = *ep;
  }
  if (a.persistent && !o.discovery) {
    return InvalidArgument("--persistent needs --discovery ADDR:PORT (the log to follow)");
  }
  o.persistent_discovery = a.persistent;
  if (o.paths.empty() && !o.discovery) {
    return InvalidArgument(
        "no path: give --path ADDR:PORT (once per path) or --discovery ADDR:PORT");
  }
  if (a.nqn.empty() && !o.discovery) {
    return InvalidArgument("--nqn is required with --path (name the subsystem)");
  }
  o.subnqn = a.nqn;
  o.hostnqn = a.hostnqn;
  o.hostid = a.hostid;
  auto policy = ParsePathPolicy(a.policy);
  if (!policy.ok()) return policy.status().WithContext(fmt::format("--policy '{}'", a.policy));
  o.policy = *policy;
  o.io_threads = a.reactors;
  for (auto [text, flag, out] : {std::tuple{&a.head_qos, "--head-qos", &o.head_qos},
                                 std::tuple{&a.path_qos, "--path-qos", &o.path_qos}}) {
    auto q = QosLimits::Parse(*text);
    if (!q.ok()) return q.status().WithContext(flag);
    *out = *q;
  }
  o.hdr_digest = a.hdr_digest;
  o.data_digest = a.data_digest;
  if (a.queue_size < 2 || a.queue_size > 65535) {
    return InvalidArgument(fmt::format("--queue-size {}: must be in 2..65535", a.queue_size));
  }
  o.queue_size = static_cast<uint16_t>(a.queue_size);

  struct DurationFlag {
    const std::string& text;
    const char* flag;
    std::chrono::milliseconds* out;
    bool allow_negative;
    bool positive;
  };
  for (const DurationFlag& f : {
           DurationFlag{a.keep_alive_tmo, "--keep-alive-tmo", &o.keep_alive_tmo, false, true},
           DurationFlag{a.reconnect_delay, "--reconnect-delay", &o.reconnect_delay, false, false},
           DurationFlag{a.ctrl_loss_tmo, "--ctrl-loss-tmo", &o.ctrl_loss_tmo, true, false},
           DurationFlag{a.fast_io_fail_tmo, "--fast-io-fail-tmo", &o.fast_io_fail_tmo, true, false},
           DurationFlag{a.connect_timeout, "--connect-timeout", &o.connect_timeout, false, true},
           DurationFlag{a.io_timeout, "--io-timeout", &o.io_timeout, false, true},
           DurationFlag{a.no_path_timeout, "--no-path-timeout", &o.no_path_timeout, false, false},
           DurationFlag{a.fence_delay, "--fence-delay", &o.fence_delay, true, false},
       }) {
    if (f.text.empty()) continue;
    auto d = ParseDuration(f.text, f.flag, f.allow_negative);
    if (!d.ok()) return d.status();
    if (f.positive && d->count() <= 0) {
      return InvalidArgument(fmt::format("{} '{}': must be more than 0", f.flag, f.text));
    }
    *f.out = *d;
  }
  return o;
}

Result<std::unique_ptr<Client>> ConnectClient(const ConnectionArgs& args) {
  auto options = ToClientOptions(args);
  if (!options.ok()) return options.status();
  if (!args.verbose && std::getenv("NVMPATH_LOG") == nullptr) {
    base::SetLogLevel(base::LogLevel::kError);
  }
  return Client::Connect(*options);
}

Result<Device*> OpenDevice(Client& client, const ConnectionArgs& args) {
  if (args.nsid) {
    auto dev = client.Open(*args.nsid);
    if (!dev.ok()) return dev.status().WithContext(fmt::format("--ns {}", *args.nsid));
    return dev;
  }
  return client.OpenFirst();
}

void PrintError(std::string_view command, const Status& status) {
  std::fprintf(stderr, "nvmpath %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               status.message().c_str());
}

}  // namespace nvmpath::cli
