#include "cli/target_ctl_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>

#include "cli/ctl_verb.h"
#include "control/json_fields.h"
#include "control/rpc_client.h"

namespace nvmpath::cli {
namespace {

using Json = nlohmann::json;

constexpr const char* kDefaultSocket = "/tmp/nvmpath-target.sock";

// Everything any verb takes; each verb reads only its own fields.
struct CtlArgs {
  std::string socket;
  bool json = false;
  std::string subsystem;
  uint32_t nsid = 0;
  std::string size;
  std::string backend;
  std::string path;
  uint32_t block_size = 0;
  uint32_t ana_group = 0;
  std::string uuid, nguid, eui64;
  uint16_t port = 0;
  std::optional<uint16_t> port_opt;
  uint32_t group = 0;
  std::string state;
  std::string address;
  uint64_t ms = 0;
  std::string on_off;
  uint32_t count = 0;
  std::string status;
  bool dnr = false;
  std::string opcode;
  std::optional<uint32_t> nsid_opt;
  uint64_t delay_ms = 0;
  std::string method;
  std::string params_text;
};

// Calls `method` and prints the result: `describe(result)` as one line, or raw JSON with --json.
int Run(const CtlArgs& a, const std::string& verb, const std::string& method, const Json& params,
        const std::function<std::string(const Json&)>& describe) {
  auto r = control::RpcCall(a.socket, method, params);
  if (!r.ok()) {
    std::fprintf(stderr, "nvmpath target-ctl %s: %s\n", verb.c_str(), r.status().message().c_str());
    return 1;
  }
  if (a.json || !describe) {
    std::printf("%s\n", r->dump(a.json ? -1 : 2).c_str());
  } else {
    std::printf("%s\n", describe(*r).c_str());
  }
  return 0;
}

std::string PortText(const Json& port) {
  return port.is_string() ? "all ports" : fmt::format("port {}", port.dump());
}

}  // namespace

void AddTargetCtlCommand(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<CtlArgs>();
  const char* env = std::getenv("NVMPATH_TARGET_SOCKET");
  a->socket = env != nullptr && *env != '\0' ? env : kDefaultSocket;
  CLI::App* ctl = app.add_subcommand(
      "target-ctl", "Change a running `nvmpath target` through its control socket");
  ctl->require_subcommand(1);
  ctl->footer(
      "Examples:\n"
      "  nvmpath target-ctl state\n"
      "  nvmpath target-ctl ana-set --port 2 --group 1 inaccessible\n"
      "  nvmpath target-ctl port-disable 2\n"
      "  nvmpath target-ctl port-add 3 [::1]:4422\n"
      "  nvmpath target-ctl fail-next --count 3 --status 0x302\n"
      "The socket is --socket, else $NVMPATH_TARGET_SOCKET, else /tmp/nvmpath-target.sock.");
  ctl->add_option("--socket", a->socket, "Control socket of the target")->capture_default_str();
  ctl->add_flag("--json", a->json, "Print the raw JSON result");
  int& ec = exit_code;

  CLI::App* v =
      CtlVerb(ctl, "state", "Print the whole target state (pretty JSON)", "nvmpath target-ctl state");
  v->callback([a, &ec] { ec = Run(*a, "state", "state", Json::object(), nullptr); });

  v = CtlVerb(
      ctl, "ns-add", "Add a namespace to a subsystem (hosts get an AEN)",
      "nvmpath target-ctl ns-add --subsystem nqn.2026-11.io.nvmpath:demo --nsid 2 --size 64MiB");
  v->add_option("--subsystem", a->subsystem, "Subsystem NQN")->required();
  v->add_option("--nsid", a->nsid, "Namespace ID")->required();
  v->add_option("--size", a->size, "Size: bytes or 64MiB, 1GiB (memory and null backends)");
  v->add_option("--backend", a->backend, "memory (default), file or null");
  v->add_option("--path", a->path, "File or block device (file backend)");
  v->add_option("--block-size", a->block_size, "512 (default), 1024, 2048 or 4096");
  v->add_option("--ana-group", a->ana_group, "ANA group (default 1)");
  v->add_option("--uuid", a->uuid, "UUID (8-4-4-4-12 hex)");
  v->add_option("--nguid", a->nguid, "NGUID (32 hex digits)");
  v->add_option("--eui64", a->eui64, "EUI-64 (16 hex digits)");
  v->callback([a, &ec] {
    Json ns = {{"nsid", a->nsid}};
    if (!a->backend.empty()) ns["backend"] = a->backend;
    if (!a->size.empty()) ns["size"] = a->size;
    if (!a->path.empty()) ns["path"] = a->path;
    if (a->block_size != 0) ns["block_size"] = a->block_size;
    if (a->ana_group != 0) ns["ana_group"] = a->ana_group;
    if (!a->uuid.empty()) ns["uuid"] = a->uuid;
    if (!a->nguid.empty()) ns["nguid"] = a->nguid;
    if (!a->eui64.empty()) ns["eui64"] = a->eui64;
    ec = Run(*a, "ns-add", "ns_add", {{"subsystem", a->subsystem}, {"namespace", ns}},
             [](const Json& r) {
               return fmt::format("added namespace {} to {}", r["namespace"]["nsid"].dump(),
                                  r["subsystem"].get<std::string>());
             });
  });

  v = CtlVerb(ctl, "ns-remove", "Remove a namespace (hosts get an AEN)",
           "nvmpath target-ctl ns-remove --subsystem nqn.2026-11.io.nvmpath:demo --nsid 1");
  v->add_option("--subsystem", a->subsystem, "Subsystem NQN")->required();
  v->add_option("--nsid", a->nsid, "Namespace ID")->required();
  v->callback([a, &ec] {
    ec = Run(*a, "ns-remove", "ns_remove", {{"subsystem", a->subsystem}, {"nsid", a->nsid}},
             [](const Json& r) {
               return fmt::format("removed namespace {} from {}", r["nsid"].dump(),
                                  r["subsystem"].get<std::string>());
             });
  });

  v = CtlVerb(ctl, "ns-resize", "Change a namespace's size",
           "nvmpath target-ctl ns-resize --subsystem nqn.2026-11.io.nvmpath:demo --nsid 1 --size "
           "128MiB");
  v->add_option("--subsystem", a->subsystem, "Subsystem NQN")->required();
  v->add_option("--nsid", a->nsid, "Namespace ID")->required();
  v->add_option("--size", a->size, "New size: bytes or 128MiB, 1GiB")->required();
  v->callback([a, &ec] {
    ec = Run(
        *a, "ns-resize", "ns_resize",
        {{"subsystem", a->subsystem}, {"nsid", a->nsid}, {"size", a->size}}, [](const Json& r) {
          return fmt::format("namespace {} is now {} bytes", r["nsid"].dump(), r["size"].dump());
        });
  });

  for (auto [name, method, help, done] :
       {std::tuple<const char*, const char*, const char*, const char*>{
            "ns-detach", "ns_detach",
            "Detach a namespace from one port (other ports keep serving it; that port's hosts get "
            "an AEN)",
            "detached from"},
        {"ns-attach", "ns_attach", "Attach a detached namespace to its port again", "attached to"}}) {
    v = CtlVerb(ctl, name, help,
             fmt::format("nvmpath target-ctl {} --subsystem nqn.2026-11.io.nvmpath:demo --nsid 1 "
                         "--port 2",
                         name));
    v->add_option("--subsystem", a->subsystem, "Subsystem NQN")->required();
    v->add_option("--nsid", a->nsid, "Namespace ID")->required();
    v->add_option("--port", a->port, "Port ID")->required();
    v->callback([a, &ec, name, method, done] {
      ec = Run(*a, name, method,
               {{"subsystem", a->subsystem}, {"nsid", a->nsid}, {"port", a->port}},
               [done](const Json& r) {
                 return fmt::format("namespace {} {} port {}", r["nsid"].dump(), done,
                                    r["port"].dump());
               });
    });
  }

  v = CtlVerb(ctl, "ana-set", "Set the ANA state of a group as seen through a port",
           "nvmpath target-ctl ana-set --port 2 --group 1 inaccessible");
  v->add_option("--port", a->port, "Port ID")->required();
  v->add_option("--group", a->group, "ANA group ID")->required();
  v->add_option("state", a->state,
                "optimized, non-optimized, inaccessible, persistent-loss or change")
      ->required();
  v->callback([a, &ec] {
    ec = Run(*a, "ana-set", "ana_set",
             {{"port", a->port}, {"group", a->group}, {"state", a->state}}, [](const Json& r) {
               return fmt::format("port {} group {}: {}", r["port"].dump(), r["group"].dump(),
                                  r["state"].get<std::string>());
             });
  });

  struct PortVerb {
    const char* name;
    const char* method;
    const char* help;
    const char* done;
  };
  for (const PortVerb& pv :
       {PortVerb{"port-enable", "port_enable", "Start listening on a port", "enabled"},
        PortVerb{"port-disable", "port_disable",
                 "Stop listening on a port and drop its connections", "disabled"},
        PortVerb{"port-drop", "port_drop", "Drop a port's connections (it keeps listening)",
                 "connections dropped"}}) {
    v = CtlVerb(ctl, pv.name, pv.help, fmt::format("nvmpath target-ctl {} 2", pv.name));
    v->add_option("port", a->port, "Port ID")->required();
    v->callback([a, &ec, pv] {
      ec = Run(*a, pv.name, pv.method, {{"port", a->port}}, [pv](const Json& r) {
        return fmt::format("port {}: {}", r["port"].dump(), pv.done);
      });
    });
  }

  v = CtlVerb(ctl, "port-add",
           "Add a port serving every subsystem (discovery controllers get a log change notice)",
           "nvmpath target-ctl port-add 3 [::1]:4422 --ana-state non-optimized");
  v->add_option("port", a->port, "Port ID (1..65535, not in use)")->required();
  v->add_option("address", a->address,
                "ADDR:PORT to listen on: 127.0.0.1:4422, [::1]:4422 or localhost:4422")
      ->required();
  v->add_option("--ana-state", a->state,
                "ANA state of every group through the port: optimized (default), non-optimized, "
                "inaccessible, persistent-loss or change");
  v->callback([a, &ec] {
    Json params = {{"port", a->port}, {"address", a->address}};
    if (!a->state.empty()) params["ana_state"] = a->state;
    ec = Run(*a, "port-add", "port_add", params, [](const Json& r) {
      return fmt::format("port {}: listening on {}, port {} (ANA {})", r["port"].dump(),
                         r["address"].get<std::string>(), r["bound_port"].dump(),
                         r["ana_state"].get<std::string>());
    });
  });

  v = CtlVerb(ctl, "port-remove",
           "Remove a port: close its listener and its connections, end its controllers",
           "nvmpath target-ctl port-remove 3");
  v->add_option("port", a->port, "Port ID")->required();
  v->callback([a, &ec] {
    ec = Run(*a, "port-remove", "port_remove", {{"port", a->port}},
             [](const Json& r) { return fmt::format("port {}: removed", r["port"].dump()); });
  });

  v = CtlVerb(ctl, "delay", "Hold responses back by MS milliseconds (0: no delay)",
           "nvmpath target-ctl delay --port 1 200");
  v->add_option("--port", a->port_opt, "Port ID (default: all ports)");
  v->add_option("ms", a->ms, "Delay in milliseconds")->required();
  v->callback([a, &ec] {
    Json params = {{"ms", a->ms}};
    if (a->port_opt) params["port"] = *a->port_opt;
    ec = Run(*a, "delay", "delay", params, [](const Json& r) {
      return fmt::format("{}: responses delayed by {} ms", PortText(r["port"]), r["ms"].dump());
    });
  });

  v = CtlVerb(ctl, "stall", "Hold every response until un-stalled",
           "nvmpath target-ctl stall --port 2 on");
  v->add_option("--port", a->port_opt, "Port ID (default: all ports)");
  v->add_option("on_off", a->on_off, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  v->callback([a, &ec] {
    Json params = {{"on", a->on_off == "on"}};
    if (a->port_opt) params["port"] = *a->port_opt;
    ec = Run(*a, "stall", "stall", params, [](const Json& r) {
      return fmt::format("{}: {}", PortText(r["port"]),
                         r["on"].get<bool>() ? "stalled" : "not stalled");
    });
  });

  v = CtlVerb(ctl, "fail-next", "Fail the next N matching commands with a status",
           "nvmpath target-ctl fail-next --count 3 --status 0x302 --opcode write");
  v->add_option("--count", a->count, "How many commands")->required();
  v->add_option("--status", a->status,
                "SCT<<8|SC (0x302) or a name (ana-inaccessible, \"Namespace Not Ready\")")
      ->required();
  v->add_flag("--dnr", a->dnr, "Set Do Not Retry");
  v->add_option("--opcode", a->opcode, "Only this I/O opcode (number, or read, write, flush, ...)");
  v->add_option("--port", a->port_opt, "Only commands through this port");
  v->add_option("--nsid", a->nsid_opt, "Only commands for this namespace");
  v->callback([a, &ec] {
    Json params = {{"count", a->count}, {"status", a->status}, {"dnr", a->dnr}};
    if (!a->opcode.empty()) params["opcode"] = a->opcode;
    if (a->port_opt) params["port"] = *a->port_opt;
    if (a->nsid_opt) params["nsid"] = *a->nsid_opt;
    ec = Run(*a, "fail-next", "fail_next", params, [](const Json& r) {
      return fmt::format("the next {} matching commands fail with {}", r["count"].dump(),
                         r["status_name"].get<std::string>());
    });
  });

  v = CtlVerb(ctl, "late-writes",
           "Execute the next N writes through a port DELAY ms after their connection closes",
           "nvmpath target-ctl late-writes --port 1 --count 1 --delay-ms 2000");
  v->add_option("--port", a->port, "Port ID")->required();
  v->add_option("--count", a->count, "How many writes")->required();
  v->add_option("--delay-ms", a->delay_ms, "Delay after the connection closes")->required();
  v->callback([a, &ec] {
    ec =
        Run(*a, "late-writes", "late_writes",
            {{"port", a->port}, {"count", a->count}, {"delay_ms", a->delay_ms}}, [](const Json& r) {
              return fmt::format(
                  "port {}: the next {} writes run {} ms after their connection "
                  "closes",
                  r["port"].dump(), r["count"].dump(), r["delay_ms"].dump());
            });
  });

  v = CtlVerb(ctl, "call", "Call any control method with JSON params (for scripts)",
           "nvmpath target-ctl call ana_set '{\"port\":2,\"group\":1,\"state\":\"optimized\"}'");
  v->add_option("method", a->method, "Method name (ns_add, ana_set, state, ...)")->required();
  v->add_option("params", a->params_text, "Params as a JSON object (default {})");
  v->callback([a, &ec] {
    Json params = Json::object();
    if (!a->params_text.empty()) {
      auto p = control::ParseJsonText(a->params_text);
      if (!p.ok()) {
        std::fprintf(stderr, "nvmpath target-ctl call: params: %s\n", p.status().message().c_str());
        ec = 2;
        return;
      }
      params = std::move(*p);
    }
    ec = Run(*a, "call", a->method, params, nullptr);
  });
}

}  // namespace nvmpath::cli
