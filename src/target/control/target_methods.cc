#include "target/control/target_methods.h"

#include <fmt/format.h>

#include <cctype>

#include "nvme/opcodes.h"
#include "nvme/status.h"
#include "target/control/config_json.h"
#include "control/json_fields.h"
#include "target/port_address.h"

namespace nvmpath::target::control {

using nvmpath::control::RpcDispatcher;
using nvmpath::control::DescribeValue;
using nvmpath::control::FieldError;
using nvmpath::control::CheckObject;
using nvmpath::control::Member;
using nvmpath::control::ReadUint;
using nvmpath::control::ReadUintOrHexString;
using nvmpath::control::ReadString;
using nvmpath::control::ReadBool;
using nvmpath::control::ReadSize;
using nvmpath::control::Json;
namespace {

constexpr uint64_t kNsidMax = 0xFFFFFFFE;
constexpr uint64_t kDelayMsMax = 3'600'000;  // an hour: anything longer is a stall
constexpr uint64_t kCountMax = 1'000'000;

// Reads required and optional parameters of one call, naming each in its error.
class Params {
 public:
  explicit Params(const Json& params) : params_(params) {}

  template <typename T>
  Result<T> Uint(std::string_view name, uint64_t min, uint64_t max) const {
    const Json* v = Member(params_, name);
    if (v == nullptr) return FieldError(name, fmt::format("missing (an integer {}..{})", min, max));
    auto x = ReadUint(*v, name, min, max);
    if (!x.ok()) return x.status();
    return static_cast<T>(*x);
  }
  template <typename T>
  Result<std::optional<T>> OptionalUint(std::string_view name, uint64_t min, uint64_t max) const {
    if (Member(params_, name) == nullptr) return std::optional<T>();
    auto x = Uint<T>(name, min, max);
    if (!x.ok()) return x.status();
    return std::optional<T>(*x);
  }
  Result<std::string> String(std::string_view name) const {
    const Json* v = Member(params_, name);
    if (v == nullptr) return FieldError(name, "missing");
    return ReadString(*v, name);
  }
  Result<bool> Bool(std::string_view name) const {
    const Json* v = Member(params_, name);
    if (v == nullptr) return FieldError(name, "missing (true or false)");
    return ReadBool(*v, name);
  }
  const Json* Get(std::string_view name) const { return Member(params_, name); }

 private:
  const Json& params_;
};

#define NVMP_ASSIGN_OR_RETURN(lhs, expr)                \
  auto lhs##_result = (expr);                           \
  if (!lhs##_result.ok()) return lhs##_result.status(); \
  auto lhs = std::move(*lhs##_result)

Result<Json> Done(const Status& s, Json echo) {
  if (!s.ok()) return s;
  return echo;
}

Json PortJson(std::optional<uint16_t> port) { return port ? Json(*port) : Json("all"); }

// "ANA Inaccessible" -> "ana-inaccessible".
std::string Slug(std::string_view name) {
  std::string s;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!s.empty() && s.back() != '-') {
      s.push_back('-');
    }
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s;
}

}  // namespace

Result<uint16_t> ParseNvmeStatusCode(const Json& v, std::string_view path) {
  constexpr uint64_t kCodeMax = 0x7FF;  // SCT (3 bits) << 8 | SC
  uint64_t code = 0;
  if (v.is_string() && !v.get_ref<const std::string&>().empty() &&
      !std::isdigit(static_cast<unsigned char>(v.get_ref<const std::string&>()[0]))) {
    std::string wanted = Slug(v.get_ref<const std::string&>());
    // The specification's names say "Asymmetric Access"; people say "ANA".
    if (wanted.rfind("ana-", 0) == 0) wanted = "asymmetric-access-" + wanted.substr(4);
    bool found = false;
    for (uint16_t c = 1; c <= kCodeMax && !found; ++c) {
      const char* name = nvme::StatusCodeName(c);
      if (name != nullptr && Slug(name) == wanted) code = c, found = true;
    }
    if (!found) {
      return FieldError(path, fmt::format("unknown NVMe status {} (give SCT<<8|SC like 0x302, or a "
                                          "name like \"ana-inaccessible\")",
                                          DescribeValue(v)));
    }
  } else {
    auto x = ReadUintOrHexString(v, path, 0, kCodeMax);
    if (!x.ok()) return x.status();
    code = *x;
  }
  if (code == nvme::sc::kSuccess) {
    return FieldError(path, "0 is success; give an error status such as 0x302");
  }
  return static_cast<uint16_t>(code);
}

Result<uint8_t> ParseIoOpcode(const Json& v, std::string_view path) {
  static constexpr std::pair<std::string_view, nvme::IoOpcode> kNames[] = {
      {"flush", nvme::IoOpcode::kFlush},
      {"write", nvme::IoOpcode::kWrite},
      {"read", nvme::IoOpcode::kRead},
      {"write-zeroes", nvme::IoOpcode::kWriteZeroes},
      {"dsm", nvme::IoOpcode::kDatasetManagement}};
  if (v.is_string()) {
    for (auto [name, op] : kNames) {
      if (name == v.get_ref<const std::string&>()) return static_cast<uint8_t>(op);
    }
  }
  auto x = ReadUintOrHexString(v, path, 0, 255);
  if (!x.ok()) {
    return FieldError(path, fmt::format("expected an opcode 0..255 or one of flush, write, read, "
                                        "write-zeroes, dsm; got {}",
                                        DescribeValue(v)));
  }
  return static_cast<uint8_t>(*x);
}

void RegisterTargetMethods(RpcDispatcher& d, Target& target) {
  Target* t = &target;

  d.Register("ns_add", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"subsystem", "namespace"}));
    Params p(params);
    NVMP_ASSIGN_OR_RETURN(subsystem, p.String("subsystem"));
    NVMP_RETURN_IF_ERROR(CheckNqn(subsystem, "subsystem"));
    const Json* ns_json = p.Get("namespace");
    if (ns_json == nullptr)
      return FieldError("namespace", "missing (an object: {nsid, size, ...})");
    NVMP_ASSIGN_OR_RETURN(ns, ParseNamespaceConfig(*ns_json, "namespace", UINT32_MAX));
    return Done(t->AddNamespace(subsystem, ns),
                {{"subsystem", subsystem}, {"namespace", ToJson(ns)}});
  });

  d.Register("ns_remove", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"subsystem", "nsid"}));
    Params p(params);
    NVMP_ASSIGN_OR_RETURN(subsystem, p.String("subsystem"));
    NVMP_ASSIGN_OR_RETURN(nsid, p.Uint<uint32_t>("nsid", 1, kNsidMax));
    return Done(t->RemoveNamespace(subsystem, nsid), {{"subsystem", subsystem}, {"nsid", nsid}});
  });

  d.Register("ns_resize", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"subsystem", "nsid", "size"}));
    Params p(params);
    NVMP_ASSIGN_OR_RETURN(subsystem, p.String("subsystem"));
    NVMP_ASSIGN_OR_RETURN(nsid, p.Uint<uint32_t>("nsid", 1, kNsidMax));
    const Json* size_json = p.Get("size");
    if (size_json == nullptr)
      return FieldError("size", "missing (bytes, or a string like \"128MiB\")");
    NVMP_ASSIGN_OR_RETURN(size, ReadSize(*size_json, "size"));
    if (size == 0) return FieldError("size", "must be more than 0");
    return Done(t->ResizeNamespace(subsystem, nsid, size),
                {{"subsystem", subsystem}, {"nsid", nsid}, {"size", size}});
  });

  // ns_detach / ns_attach: the namespace goes away from (comes back to) one port's controllers.
  for (auto [method, attach] : {std::pair<const char*, bool>{"ns_detach", false}, {"ns_attach", true}}) {
    d.Register(method, [t, attach](const Json& params) -> Result<Json> {
      NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"subsystem", "nsid", "port"}));
      Params p(params);
      NVMP_ASSIGN_OR_RETURN(subsystem, p.String("subsystem"));
      NVMP_ASSIGN_OR_RETURN(nsid, p.Uint<uint32_t>("nsid", 1, kNsidMax));
      NVMP_ASSIGN_OR_RETURN(port, p.Uint<uint16_t>("port", 1, 65535));
      return Done(t->SetNamespaceAttached(subsystem, nsid, port, attach),
                  {{"subsystem", subsystem}, {"nsid", nsid}, {"port", port}});
    });
  }

  d.Register("ana_set", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"port", "group", "state"}));
    Params p(params);
    NVMP_ASSIGN_OR_RETURN(port, p.Uint<uint16_t>("port", 1, 65535));
    NVMP_ASSIGN_OR_RETURN(group, p.Uint<uint32_t>("group", 1, UINT32_MAX));
    NVMP_ASSIGN_OR_RETURN(name, p.String("state"));
    NVMP_ASSIGN_OR_RETURN(state, ParseAnaStateName(name, "state"));
    return Done(t->SetAnaState(port, group, state),
                {{"port", port}, {"group", group}, {"state", AnaStateConfigName(state)}});
  });

  for (auto [method, action] :
       {std::pair<const char*, int>{"port_enable", 0}, {"port_disable", 1}, {"port_drop", 2}}) {
    d.Register(method, [t, action](const Json& params) -> Result<Json> {
      NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"port"}));
      NVMP_ASSIGN_OR_RETURN(port, Params(params).Uint<uint16_t>("port", 1, 65535));
      Status s = action == 2 ? t->DropConnections(port) : t->SetPortEnabled(port, action == 0);
      return Done(s, {{"port", port}});
    });
  }

  // port_add {port, address: "HOST:PORT", ana_state?}: a new port serving every subsystem.
  d.Register("port_add", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"port", "address", "ana_state"}));
    Params p(params);
    NVMP_ASSIGN_OR_RETURN(port, p.Uint<uint16_t>("port", 1, 65535));
    NVMP_ASSIGN_OR_RETURN(address, p.String("address"));
    auto endpoint = ParseHostPort(address);
    if (!endpoint.ok()) return FieldError("address", endpoint.status().message());
    std::optional<nvme::AnaState> ana_state;
    if (p.Get("ana_state") != nullptr) {
      NVMP_ASSIGN_OR_RETURN(name, p.String("ana_state"));
      NVMP_ASSIGN_OR_RETURN(state, ParseAnaStateName(name, "ana_state"));
      ana_state = state;
    }
    PortConfig config{.id = port, .address = endpoint->host, .port = endpoint->port};
    NVMP_RETURN_IF_ERROR(t->AddPort(config, ana_state));
    // The bound TCP port, so "HOST:0" (any free port) tells the caller where it landed.
    return Json{{"port", port},
                {"address", endpoint->host},
                {"bound_port", t->BoundPort(port)},
                {"ana_state", AnaStateConfigName(ana_state.value_or(nvme::AnaState::kOptimized))}};
  });

  d.Register("port_remove", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"port"}));
    NVMP_ASSIGN_OR_RETURN(port, Params(params).Uint<uint16_t>("port", 1, 65535));
    return Done(t->RemovePort(port), {{"port", port}});
  });

  d.Register("delay", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"port", "ms"}));
    Params p(params);
    NVMP_ASSIGN_OR_RETURN(port, p.OptionalUint<uint16_t>("port", 1, 65535));
    NVMP_ASSIGN_OR_RETURN(ms, p.Uint<uint64_t>("ms", 0, kDelayMsMax));
    return Done(t->SetResponseDelay(port, std::chrono::milliseconds(ms)),
                {{"port", PortJson(port)}, {"ms", ms}});
  });

  d.Register("stall", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"port", "on"}));
    Params p(params);
    NVMP_ASSIGN_OR_RETURN(port, p.OptionalUint<uint16_t>("port", 1, 65535));
    NVMP_ASSIGN_OR_RETURN(on, p.Bool("on"));
    return Done(t->SetStalled(port, on), {{"port", PortJson(port)}, {"on", on}});
  });

  d.Register("fail_next", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(
        CheckObject(params, "", {"count", "status", "dnr", "opcode", "port", "nsid"}));
    Params p(params);
    FailNextSpec spec;
    NVMP_ASSIGN_OR_RETURN(count, p.Uint<uint32_t>("count", 1, kCountMax));
    spec.count = count;
    const Json* status_json = p.Get("status");
    if (status_json == nullptr)
      return FieldError("status", "missing (e.g. 0x302 or \"ana-inaccessible\")");
    NVMP_ASSIGN_OR_RETURN(code, ParseNvmeStatusCode(*status_json, "status"));
    bool dnr = false;
    if (p.Get("dnr") != nullptr) {
      NVMP_ASSIGN_OR_RETURN(dnr_value, p.Bool("dnr"));
      dnr = dnr_value;
    }
    spec.status = nvme::NvmeStatus::Of(code, dnr);
    if (const Json* op = p.Get("opcode")) {
      NVMP_ASSIGN_OR_RETURN(opcode, ParseIoOpcode(*op, "opcode"));
      spec.opcode = opcode;
    }
    NVMP_ASSIGN_OR_RETURN(port, p.OptionalUint<uint16_t>("port", 1, 65535));
    spec.port_id = port;
    NVMP_ASSIGN_OR_RETURN(nsid, p.OptionalUint<uint32_t>("nsid", 1, kNsidMax));
    spec.nsid = nsid;
    Json echo = {{"count", count},
                 {"status", fmt::format("{:#05x}", code)},
                 {"status_name", spec.status.ToString()},
                 {"dnr", dnr}};
    if (spec.opcode) echo["opcode"] = *spec.opcode;
    if (spec.port_id) echo["port"] = *spec.port_id;
    if (spec.nsid) echo["nsid"] = *spec.nsid;
    return Done(t->FailNext(spec), std::move(echo));
  });

  d.Register("late_writes", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {"port", "count", "delay_ms"}));
    Params p(params);
    NVMP_ASSIGN_OR_RETURN(port, p.Uint<uint16_t>("port", 1, 65535));
    NVMP_ASSIGN_OR_RETURN(count, p.Uint<uint32_t>("count", 0, kCountMax));
    NVMP_ASSIGN_OR_RETURN(delay_ms, p.Uint<uint64_t>("delay_ms", 0, kDelayMsMax));
    return Done(t->SetLateWrites(port, count, std::chrono::milliseconds(delay_ms)),
                {{"port", port}, {"count", count}, {"delay_ms", delay_ms}});
  });

  d.Register("state", [t](const Json& params) -> Result<Json> {
    NVMP_RETURN_IF_ERROR(CheckObject(params, "", {}));
    return t->DescribeState();
  });
}

}  // namespace nvmpath::target::control
