#include "cli/host_ctl_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>

#include "cli/connection_options.h"
#include "cli/ctl_verb.h"
#include "control/json_fields.h"
#include "control/rpc_client.h"
#include "export/counter_fields.h"

namespace nvmpath::cli {
namespace {

using Json = nlohmann::json;

constexpr const char* kDefaultSocket = "/tmp/nvmpath-host.sock";
// A connect waits for every path's association and scan (connect_timeout, 10 s by default)
// and a disconnect for the drain; the socket call waits longer than either.
constexpr auto kCallTimeout = std::chrono::seconds(120);

struct HostCtlArgs {
  std::string socket;
  bool json = false;
  ConnectionArgs conn;  // connect
  std::string nqn;
  std::string path;
  std::string drain_timeout;
  std::string policy;
  std::string no_path_timeout, fast_io_fail_tmo, ctrl_loss_tmo;
  std::string method;
  std::string params_text;
};

int Run(const HostCtlArgs& a, const std::string& verb, const std::string& method,
        const Json& params, const std::function<std::string(const Json&)>& describe) {
  auto r = control::RpcCall(a.socket, method, params, kCallTimeout,
                            "nvmpath host --control-socket " + a.socket);
  if (!r.ok()) {
    std::fprintf(stderr, "nvmpath host-ctl %s: %s\n", verb.c_str(), r.status().message().c_str());
    return r.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  if (a.json || a.conn.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    std::fputs(describe(*r).c_str(), stdout);
  }
  return 0;
}

// The connect flags as a subsystem object of the host config (the method's params): only what
// was given, as given, so the host applies its own defaults and checks.
Result<Json> ConnectParams(const ConnectionArgs& c, CLI::App* cmd) {
  for (const char* flag : {"--ns", "--reactors", "--verbose"}) {
    if (cmd->count(flag) > 0) {
      return InvalidArgument(fmt::format(
          "{}: not a connect option (the running host has its own I/O threads and exports every "
          "namespace)",
          flag));
    }
  }
  // Checked here first, so an error names the flag rather than a JSON field.
  auto options = ToClientOptions(c);
  if (!options.ok()) return options.status();
  Json j = Json::object();
  if (!c.nqn.empty()) j["nqn"] = c.nqn;
  if (!c.paths.empty()) j["paths"] = c.paths;
  if (!c.discovery.empty()) j["discovery"] = c.discovery;
  if (c.persistent) j["persistent_discovery"] = true;
  if (!c.hostnqn.empty()) j["hostnqn"] = c.hostnqn;
  if (!c.hostid.empty()) j["hostid"] = c.hostid;
  if (cmd->count("--policy") > 0) j["policy"] = c.policy;
  if (c.hdr_digest) j["hdr_digest"] = true;
  if (c.data_digest) j["data_digest"] = true;
  if (cmd->count("--queue-size") > 0) j["queue_size"] = c.queue_size;
  if (!c.head_qos.empty()) j["head_qos"] = c.head_qos;
  if (!c.path_qos.empty()) j["path_qos"] = c.path_qos;
  for (auto [key, value] : {std::pair{"keep_alive_tmo", &c.keep_alive_tmo},
                            std::pair{"reconnect_delay", &c.reconnect_delay},
                            std::pair{"ctrl_loss_tmo", &c.ctrl_loss_tmo},
                            std::pair{"fast_io_fail_tmo", &c.fast_io_fail_tmo},
                            std::pair{"connect_timeout", &c.connect_timeout},
                            std::pair{"io_timeout", &c.io_timeout},
                            std::pair{"no_path_timeout", &c.no_path_timeout},
                            std::pair{"fence_delay", &c.fence_delay}}) {
    if (!value->empty()) j[key] = *value;
  }
  return j;
}

std::string DescribeConnect(const Json& r) {
  std::string added;
  for (const Json& p : r["added"]) added += (added.empty() ? "" : ", ") + p.get<std::string>();
  std::string heads;
  for (const Json& h : r["heads"]) heads += (heads.empty() ? "" : ", ") + h.get<std::string>();
  std::string out = fmt::format("{} {} as nvmpath{}: paths added: {}; heads: {}\n",
                                r["new_subsystem"].get<bool>() ? "connected" : "extended",
                                r["nqn"].get<std::string>(), r["subsystem"].get<unsigned>(),
                                added.empty() ? "none" : added, heads.empty() ? "none" : heads);
  for (const Json& e : r["errors"]) out += "not added: " + e.get<std::string>() + "\n";
  return out;
}

std::string Text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::string FormatListSubsys(const Json& result) {
  std::string out;
  for (const Json& host : result) {
    for (const Json& s : host["Subsystems"]) {
      out += fmt::format("{} - NQN={}\n{}hostnqn={}\n{}iopolicy={}\n\\\n", Text(s["Name"]),
                         Text(s["NQN"]), std::string(Text(s["Name"]).size() + 3, ' '),
                         Text(host["HostNQN"]), std::string(Text(s["Name"]).size() + 3, ' '),
                         Text(s["IOPolicy"]));
      for (const Json& p : s["Paths"]) {
        out += fmt::format(" +- {} {} {} {}", Text(p["Name"]), Text(p["Transport"]),
                           Text(p["Address"]), Text(p["State"]));
        if (p.contains("ANAState")) out += " " + Text(p["ANAState"]);
        out += "\n";
      }
      if (s["Paths"].empty()) out += " (no path)\n";
    }
  }
  return out;
}

std::string FormatTopology(const Json& result) {
  std::string out;
  for (const Json& s : result["subsystems"]) {
    out += fmt::format("nvmpath{} {} policy={}\n", s["subsystem"].get<unsigned>(),
                       Text(s["nqn"]), Text(s["policy"]));
    for (const Json& h : s["heads"]) {
      out += fmt::format("  {} nsid {} {} B, {} in flight\n", Text(h["name"]), Text(h["nsid"]),
                         Text(h["capacity_bytes"]), Text(h["in_flight"]));
      for (const Json& p : h["paths"]) {
        out += fmt::format("    {} ctrl {} ana {} group {} {} in_flight {}\n", Text(p["path"]),
                           Text(p["controller_state"]), Text(p["ana_state"]),
                           Text(p["ana_group"]),
                           p["usable"].get<bool>() ? "usable"
                                                   : "unusable (" + Text(p["why_not"]) + ")",
                           Text(p["in_flight"]));
      }
      if (h["paths"].empty()) out += "    (no path)\n";
    }
    for (const Json& problem : s["problems"]) out += "  problem: " + Text(problem) + "\n";
  }
  return out;
}

namespace {

// j[key], or null when j is not an object or has no such key: the answer comes from another
// process (maybe another version), and a missing key must not be undefined behaviour.
const Json& At(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// "errors 1 (no_path 1)": the total, and the classes that are not zero.
std::string ErrorsText(const Json& counters) {
  std::string classes;
  const Json& by_class = At(counters, "errors_by_class");
  for (const exports::ErrorClassField& f : exports::kErrorClassFields) {
    const Json& n = At(by_class, f.name);
    if (!n.is_null() && n != 0) {
      classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", f.name, Text(n));
    }
  }
  return fmt::format("errors {}{}", Text(At(counters, "errors")),
                     classes.empty() ? "" : " (" + classes + ")");
}

// "read 10/40960 B write 5/20480 B other 1/0 B": I/Os / bytes by operation.
std::string OpsText(const Json& ops) {
  std::string out;
  for (const exports::OpField& f : exports::kOpFields) {
    const Json& n = At(ops, f.name);
    if (n.is_null()) continue;
    out += fmt::format("{}{} {}/{} B", out.empty() ? "" : " ", f.name, Text(At(n, "ios")),
                       Text(At(n, "bytes")));
  }
  return out;
}

std::string Us(const Json& v) {
  return v.is_number() ? fmt::format("{:.1f}", v.get<double>()) : Text(v);
}

// "lat us p50 12.0 p99 40.0 p99.9 80.0 max 95.5; gap us p50 300.0 p99 900.0 max 950.0": the
// failover gap only when some I/O failed over; "lat us -" before any I/O.
std::string LatencyText(const Json& counters) {
  const Json& l = At(counters, "latency");
  const Json& count = At(l, "count");
  if (count.is_null() || count == 0) return "lat us -";
  std::string out =
      fmt::format("lat us p50 {} p99 {} p99.9 {} max {}", Us(At(l, "p50_us")),
                  Us(At(l, "p99_us")), Us(At(l, "p999_us")), Us(At(l, "max_us")));
  const Json& g = At(counters, "failover_gap");
  const Json& gaps = At(g, "count");
  if (!gaps.is_null() && gaps != 0) {
    out += fmt::format("; gap us p50 {} p99 {} max {}", Us(At(g, "p50_us")),
                       Us(At(g, "p99_us")), Us(At(g, "max_us")));
  }
  return out;
}

std::string LastErrorText(const Json& counters, const char* indent) {
  const Json& e = At(counters, "last_error");
  if (!e.is_object()) return "";
  return fmt::format("{}last error {} {}: {}\n", indent, Text(At(e, "time")),
                     Text(At(e, "class")), Text(At(e, "status")));
}

}  // namespace

std::string FormatStats(const Json& result) {
  std::string out;
  for (const Json& h : result["heads"]) {
    out += fmt::format(
        "{} ({}): submitted {} completed {} {} failovers {} retries {} requeues {} no_path {} "
        "in_flight {} | {} | {}\n",
        Text(h["name"]), Text(h["nqn"]), Text(h["submitted"]), Text(h["completed"]),
        ErrorsText(h), Text(h["failovers"]), Text(h["retries"]), Text(h["requeues"]),
        Text(h["no_path"]), Text(h["in_flight"]), OpsText(At(h, "ops")), LatencyText(h));
    out += LastErrorText(h, "  ");
    for (const Json& p : h["paths"]) {
      out += fmt::format(
          "  {}: ios {} bytes {} {} failovers {} in {} retries {} in_flight {} | {} | {}\n",
          Text(p["path"]), Text(p["ios"]), Text(p["bytes"]), ErrorsText(p), Text(p["failovers"]),
          Text(At(p, "failovers_in")), Text(p["retries"]), Text(p["in_flight"]),
          OpsText(At(p, "ops")), LatencyText(p));
      out += LastErrorText(p, "    ");
    }
  }
  if (out.empty()) out = "(no heads)\n";
  return out;
}

void AddHostCtlCommand(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<HostCtlArgs>();
  const char* env = std::getenv("NVMPATH_HOST_SOCKET");
  a->socket = env != nullptr && *env != '\0' ? env : kDefaultSocket;
  CLI::App* ctl = app.add_subcommand(
      "host-ctl", "Steer and inspect a running `nvmpath host` through its control socket");
  ctl->require_subcommand(1);
  ctl->footer(
      "Examples:\n"
      "  nvmpath host-ctl list-subsys --json\n"
      "  nvmpath host-ctl connect --nqn nqn.2026-11.io.nvmpath:demo --path 127.0.0.1:4422\n"
      "  nvmpath host-ctl disconnect --path 127.0.0.1:4420\n"
      "  nvmpath host-ctl set-timeout --no-path-timeout 30s\n"
      "The socket is --socket, else $NVMPATH_HOST_SOCKET, else /tmp/nvmpath-host.sock (start\n"
      "the host with --control-socket PATH).");
  ctl->add_option("--socket", a->socket, "Control socket of the host")->capture_default_str();
  ctl->add_flag("--json", a->json, "Print the raw JSON result");
  int& ec = exit_code;

  CLI::App* v = CtlVerb(ctl, "connect",
                     "Add a subsystem, or paths to one; returns once they are live or says why not",
                     "nvmpath host-ctl connect --nqn nqn.2026-11.io.nvmpath:demo "
                     "--path 127.0.0.1:4422");
  AddConnectionOptions(v, &a->conn);
  v->callback([a, v, &ec] {
    auto params = ConnectParams(a->conn, v);
    if (!params.ok()) {
      std::fprintf(stderr, "nvmpath host-ctl connect: %s\n", params.status().message().c_str());
      ec = 2;
      return;
    }
    ec = Run(*a, "connect", "connect", *params, DescribeConnect);
  });

  v = CtlVerb(ctl, "disconnect",
           "Drain a path (or every path of a subsystem) onto the others, then remove it",
           "nvmpath host-ctl disconnect --path 127.0.0.1:4420");
  auto* nqn = v->add_option("--nqn", a->nqn, "Every path of this subsystem");
  auto* path = v->add_option("--path", a->path, "This path (ADDR:PORT)");
  nqn->excludes(path);
  v->add_option("--drain-timeout", a->drain_timeout,
                "Wait this long for I/O in flight on the path before failing it over "
                "(default 10s)");
  v->callback([a, &ec] {
    if (a->nqn.empty() == a->path.empty()) {
      std::fprintf(stderr, "nvmpath host-ctl disconnect: give --nqn NQN or --path ADDR:PORT\n");
      ec = 2;
      return;
    }
    Json params = Json::object();
    if (!a->nqn.empty()) params["nqn"] = a->nqn;
    if (!a->path.empty()) params["path"] = a->path;
    if (!a->drain_timeout.empty()) params["drain_timeout"] = a->drain_timeout;
    const std::string what = a->nqn.empty() ? a->path : a->nqn;
    ec = Run(*a, "disconnect", "disconnect", params,
             [what](const Json&) { return "disconnected " + what + "\n"; });
  });

  v = CtlVerb(ctl, "list-subsys", "Subsystems and their paths (nvme-cli's list-subsys shape)",
           "nvmpath host-ctl list-subsys --json");
  v->callback([a, &ec] { ec = Run(*a, "list-subsys", "list_subsys", Json::object(),
                                  FormatListSubsys); });

  v = CtlVerb(ctl, "show-topology",
           "Heads and their paths: controller and ANA state, usable or why not, I/O in flight",
           "nvmpath host-ctl show-topology");
  v->callback([a, &ec] { ec = Run(*a, "show-topology", "show_topology", Json::object(),
                                  FormatTopology); });

  v = CtlVerb(ctl, "stats", "Counters per head and per path", "nvmpath host-ctl stats --json");
  v->callback([a, &ec] { ec = Run(*a, "stats", "stats", Json::object(), FormatStats); });

  v = CtlVerb(ctl, "set-policy", "Change the path policy (numa, round-robin, queue-depth)",
           "nvmpath host-ctl set-policy round-robin");
  v->add_option("policy", a->policy, "numa, round-robin or queue-depth")->required();
  v->add_option("--nqn", a->nqn, "Only this subsystem (default: all)");
  v->callback([a, &ec] {
    Json params = {{"policy", a->policy}};
    if (!a->nqn.empty()) params["nqn"] = a->nqn;
    ec = Run(*a, "set-policy", "set_policy", params,
             [a](const Json&) { return "policy " + a->policy + "\n"; });
  });

  v = CtlVerb(ctl, "rescan", "Read every controller's namespaces and ANA log again",
           "nvmpath host-ctl rescan");
  v->add_option("--nqn", a->nqn, "Only this subsystem (default: all)");
  v->callback([a, &ec] {
    Json params = Json::object();
    if (!a->nqn.empty()) params["nqn"] = a->nqn;
    ec = Run(*a, "rescan", "rescan", params, [](const Json&) { return std::string("rescan\n"); });
  });

  v = CtlVerb(ctl, "reset", "Reset one path's controller (its I/O fails over; it reconnects)",
           "nvmpath host-ctl reset --path 127.0.0.1:4420");
  v->add_option("--path", a->path, "ADDR:PORT")->required();
  v->callback([a, &ec] {
    ec = Run(*a, "reset", "reset", {{"path", a->path}},
             [a](const Json&) { return "reset " + a->path + "\n"; });
  });

  v = CtlVerb(ctl, "set-timeout", "Change the no-path, fast-io-fail or ctrl-loss timeout",
           "nvmpath host-ctl set-timeout --no-path-timeout 30s --ctrl-loss-tmo -1");
  v->add_option("--no-path-timeout", a->no_path_timeout,
                "How long I/O waits for a usable path (0: as long as one may return)");
  v->add_option("--fast-io-fail-tmo", a->fast_io_fail_tmo,
                "Fail I/O of a reconnecting path after this long (-1: off)");
  v->add_option("--ctrl-loss-tmo", a->ctrl_loss_tmo, "Give a lost path up after this long "
                                                     "(-1: never)");
  v->add_option("--nqn", a->nqn, "Only this subsystem (default: all)");
  v->callback([a, &ec] {
    Json params = Json::object();
    if (!a->nqn.empty()) params["nqn"] = a->nqn;
    if (!a->no_path_timeout.empty()) params["no_path_timeout"] = a->no_path_timeout;
    if (!a->fast_io_fail_tmo.empty()) params["fast_io_fail_tmo"] = a->fast_io_fail_tmo;
    if (!a->ctrl_loss_tmo.empty()) params["ctrl_loss_tmo"] = a->ctrl_loss_tmo;
    ec = Run(*a, "set-timeout", "set_timeout", params,
             [](const Json&) { return std::string("timeouts set\n"); });
  });

  v = CtlVerb(ctl, "call", "Call any control method with JSON params (prints the JSON result)",
           "nvmpath host-ctl call show_topology '{}'");
  v->add_option("method", a->method, "Method name")->required();
  v->add_option("params", a->params_text, "Params: a JSON object (default {})");
  v->callback([a, &ec] {
    Json params = Json::object();
    if (!a->params_text.empty()) {
      auto parsed = control::ParseJsonText(a->params_text);
      if (!parsed.ok()) {
        std::fprintf(stderr, "nvmpath host-ctl call: params: %s\n",
                     parsed.status().message().c_str());
        ec = 2;
        return;
      }
      params = std::move(*parsed);
    }
    ec = Run(*a, "call", a->method, params, [](const Json& r) { return r.dump(2) + "\n"; });
  });
}

}  // namespace nvmpath::cli
