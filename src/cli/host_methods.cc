#include "cli/host_methods.h"

#include <fmt/format.h>

#include <ctime>

#include "cli/host_config.h"
#include "client/host_identity.h"
#include "control/json_fields.h"
#include "export/counter_fields.h"
#include "export/head_table.h"

namespace nvmpath::cli {
namespace {

using control::CheckObject;
using control::FieldError;
using control::Member;
using control::ReadString;
using Json = nlohmann::json;

constexpr std::chrono::milliseconds kDefaultDrain = std::chrono::seconds(10);

std::vector<SubsystemSnapshot> Snapshot(const exports::HostService& service) {
  std::vector<SubsystemSnapshot> out;
  for (size_t s = 0; s < service.subsystem_count(); ++s) {
    client::ClientImpl* c = service.client(static_cast<unsigned>(s));
    SubsystemSnapshot snap;
    snap.index = static_cast<unsigned>(s);
    snap.info = c->Describe();
    snap.policy = PathPolicyName(c->policy());
    snap.hostid = client::FormatUuid(c->identity().hostid);
    for (uint32_t nsid : c->nsids()) {
      auto dev = c->Open(nsid);
      if (dev.ok()) snap.counters.emplace_back(nsid, (*dev)->counters());
    }
    out.push_back(std::move(snap));
  }
  return out;
}

// "traddr=127.0.0.1,trsvcid=4420", as Linux shows a TCP controller's address.
std::string NvmeCliAddress(const Endpoint& e) {
  return fmt::format("traddr={},trsvcid={}", e.address, e.port);
}

const DeviceCounters* CountersOf(const SubsystemSnapshot& s, uint32_t nsid) {
  for (const auto& [n, c] : s.counters) {
    if (n == nsid) return &c;
  }
  return nullptr;
}

const PathCounters* PathCountersOf(const DeviceCounters* d, const std::string& path) {
  if (d == nullptr) return nullptr;
  for (const auto& [name, c] : d->paths) {
    if (name == path) return &c;
  }
  return nullptr;
}

Result<std::chrono::milliseconds> ReadDrain(const Json& params) {
  if (const Json* v = Member(params, "drain_timeout")) {
    return ReadDurationJson(*v, "params.drain_timeout", false, false);
  }
  return kDefaultDrain;
}

// The subsystems a verb applies to: the one named by an optional "nqn", or all.
Result<std::vector<client::ClientImpl*>> Targets(const exports::HostService& service,
                                                 const Json& params) {
  std::vector<client::ClientImpl*> out;
  if (const Json* v = Member(params, "nqn")) {
    auto nqn = ReadString(*v, "params.nqn");
    if (!nqn.ok()) return nqn.status();
    auto s = service.FindSubsystem(*nqn);
    if (!s) return FieldError("params.nqn", fmt::format("no subsystem {} on this host", *nqn));
    out.push_back(service.client(*s));
    return out;
  }
  for (size_t s = 0; s < service.subsystem_count(); ++s) {
    out.push_back(service.client(static_cast<unsigned>(s)));
  }
  return out;
}

Result<Endpoint> ReadPath(const Json& params) {
  const Json* v = Member(params, "path");
  if (v == nullptr) return FieldError("params.path", "missing (\"ADDR:PORT\")");
  auto text = ReadString(*v, "params.path");
  if (!text.ok()) return text.status();
  auto e = Endpoint::Parse(*text);
  if (!e.ok()) return e.status().WithContext("params.path");
  return e;
}

Result<Json> Connect(exports::HostService& service, const Json& params) {
  auto options = ParseSubsystemJson(params, "params");
  if (!options.ok()) return options.status();
  auto r = service.Connect(std::move(*options));
  if (!r.ok()) return r.status();
  client::ClientImpl* c = service.client(r->subsystem);
  Json added = Json::array();
  for (const Endpoint& e : r->added) added.push_back(e.ToString());
  Json heads = Json::array();
  for (uint32_t nsid : c->nsids()) heads.push_back(exports::HeadName({r->subsystem, nsid}));
  return Json{{"subsystem", r->subsystem}, {"nqn", c->subnqn()},
              {"new_subsystem", r->new_subsystem}, {"added", added},
              {"errors", r->errors}, {"heads", heads}};
}

Result<Json> Disconnect(exports::HostService& service, const Json& params) {
  NVMP_RETURN_IF_ERROR(CheckObject(params, "params", {"nqn", "path", "drain_timeout"}));
  auto drain = ReadDrain(params);
  if (!drain.ok()) return drain.status();
  const bool by_nqn = Member(params, "nqn") != nullptr;
  const bool by_path = Member(params, "path") != nullptr;
  if (by_nqn == by_path) {
    return FieldError("params", "give exactly one of \"nqn\" (every path of a subsystem) or "
                                "\"path\" (\"ADDR:PORT\")");
  }
  if (by_nqn) {
    auto nqn = ReadString(*Member(params, "nqn"), "params.nqn");
    if (!nqn.ok()) return nqn.status();
    NVMP_RETURN_IF_ERROR(service.DisconnectSubsystem(*nqn, *drain));
  } else {
    auto path = ReadPath(params);
    if (!path.ok()) return path.status();
    NVMP_RETURN_IF_ERROR(service.DisconnectPath(*path, *drain));
  }
  return Json::object();
}

Result<Json> SetPolicy(exports::HostService& service, const Json& params) {
  NVMP_RETURN_IF_ERROR(CheckObject(params, "params", {"policy", "nqn"}));
  const Json* v = Member(params, "policy");
  if (v == nullptr) return FieldError("params.policy", "missing");
  auto name = ReadString(*v, "params.policy");
  if (!name.ok()) return name.status();
  auto policy = ParsePathPolicy(*name);
  if (!policy.ok()) return policy.status().WithContext("params.policy");
  auto targets = Targets(service, params);
  if (!targets.ok()) return targets.status();
  for (client::ClientImpl* c : *targets) c->SetPolicy(*policy);
  return Json::object();
}

Result<Json> Rescan(exports::HostService& service, const Json& params) {
  NVMP_RETURN_IF_ERROR(CheckObject(params, "params", {"nqn"}));
  auto targets = Targets(service, params);
  if (!targets.ok()) return targets.status();
  for (client::ClientImpl* c : *targets) c->Rescan();
  return Json::object();
}

Result<Json> Reset(exports::HostService& service, const Json& params) {
  NVMP_RETURN_IF_ERROR(CheckObject(params, "params", {"path"}));
  auto path = ReadPath(params);
  if (!path.ok()) return path.status();
  std::string known;
  for (size_t s = 0; s < service.subsystem_count(); ++s) {
    client::ClientImpl* c = service.client(static_cast<unsigned>(s));
    Status st = c->ResetPath(*path);
    if (st.code() != Code::kNotFound) {
      if (!st.ok()) return st;
      return Json::object();
    }
    for (const Endpoint& e : c->paths()) known += (known.empty() ? "" : ", ") + e.ToString();
  }
  return FieldError("params.path", fmt::format("{} is not a path of this host (paths: {})",
                                               path->ToString(), known.empty() ? "none" : known));
}

Result<Json> SetTimeout(exports::HostService& service, const Json& params) {
  NVMP_RETURN_IF_ERROR(CheckObject(
      params, "params", {"nqn", "no_path_timeout", "fast_io_fail_tmo", "ctrl_loss_tmo"}));
  TimeoutChange change;
  struct Field {
    const char* key;
    std::optional<std::chrono::milliseconds>* out;
    bool allow_negative;
  };
  for (const Field& f : {Field{"no_path_timeout", &change.no_path_timeout, false},
                         Field{"fast_io_fail_tmo", &change.fast_io_fail_tmo, true},
                         Field{"ctrl_loss_tmo", &change.ctrl_loss_tmo, true}}) {
    if (const Json* v = Member(params, f.key)) {
      auto d = ReadDurationJson(*v, fmt::format("params.{}", f.key), f.allow_negative, false);
      if (!d.ok()) return d.status();
      *f.out = *d;
    }
  }
  if (!change.no_path_timeout && !change.fast_io_fail_tmo && !change.ctrl_loss_tmo) {
    return FieldError("params", "give at least one of no_path_timeout, fast_io_fail_tmo, "
                                "ctrl_loss_tmo");
  }
  auto targets = Targets(service, params);
  if (!targets.ok()) return targets.status();
  for (client::ClientImpl* c : *targets) NVMP_RETURN_IF_ERROR(c->SetTimeouts(change));
  return Json::object();
}

double Micros(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

Json QosJson(const QosCounters& q) {
  return {{"issued", q.issued}, {"released", q.released}, {"waiting", q.waiting}};
}

Json OpsJson(const OpCounters& ops) {
  Json j = Json::object();
  for (const exports::OpField& f : exports::kOpFields) {
    const IoCount& n = ops.*f.field;
    j[f.name] = {{"ios", n.ios}, {"bytes", n.bytes}};
  }
  return j;
}

// A path shows the classes an attempt can end with; a head also no_path and rejected.
Json ErrorsJson(const ErrorCounters& errors, bool head) {
  Json j = Json::object();
  for (const exports::ErrorClassField& f : exports::kErrorClassFields) {
    if (head || !f.head_only) j[f.name] = errors.*f.field;
  }
  return j;
}

Json LatencyJson(const LatencySummary& l) {
  return {{"count", l.count},
          {"mean_us", l.count == 0 ? 0.0 : Micros(l.sum_ns) / static_cast<double>(l.count)},
          {"p50_us", Micros(l.p50_ns)},
          {"p99_us", Micros(l.p99_ns)},
          {"p999_us", Micros(l.p999_ns)},
          {"max_us", Micros(l.max_ns)}};
}

// "2026-12-07T20:46:51.123456Z": a LastError's time as stats shows it (UTC, microseconds).
std::string Iso8601Utc(int64_t unix_ns) {
  constexpr int64_t kNsPerS = 1'000'000'000;
  // Floor division, so an instant before the epoch still names its own second.
  int64_t secs = unix_ns / kNsPerS;
  int64_t frac = unix_ns % kNsPerS;
  if (frac < 0) {
    frac += kNsPerS;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac / 1000);
}

Json LastErrorJson(const LastError& e) {
  if (e.unix_ns == 0) return nullptr;
  return {{"time", Iso8601Utc(e.unix_ns)}, {"unix_ns", e.unix_ns}, {"class", e.error_class},
          {"status", e.status}};
}

Json PathCountersJson(const PathCounters& c) {
  return {{"ios", c.ios},
          {"bytes", c.bytes},
          {"errors", c.errors},
          {"failovers", c.failovers},
          {"failovers_in", c.failovers_in},
          {"retries", c.retries},
          {"in_flight", c.in_flight},
          {"qos", QosJson(c.qos)},
          {"ops", OpsJson(c.ops)},
          {"errors_by_class", ErrorsJson(c.errors_by_class, false)},
          {"latency", LatencyJson(c.latency)},
          {"failover_gap", LatencyJson(c.failover_gap)},
          {"last_error", LastErrorJson(c.last_error)}};
}

Json HeadCountersJson(const DeviceCounters& c) {
  return {{"submitted", c.submitted},
          {"completed", c.completed},
          {"errors", c.errors},
          {"failovers", c.failovers},
          {"retries", c.retries},
          {"requeues", c.requeues},
          {"no_path", c.no_path},
          {"in_flight", c.outstanding},
          {"queued", c.queued},
          {"qos", QosJson(c.qos)},
          {"ops", OpsJson(c.ops)},
          {"errors_by_class", ErrorsJson(c.errors_by_class, true)},
          {"latency", LatencyJson(c.latency)},
          {"failover_gap", LatencyJson(c.failover_gap)},
          {"last_error", LastErrorJson(c.last_error)}};
}

}  // namespace

Json ListSubsysJson(const std::vector<SubsystemSnapshot>& subsystems) {
  // nvme-cli groups subsystems by host; every subsystem of one host shares its identity unless
  // the config gave one its own, so group by (HostNQN, HostID).
  Json hosts = Json::array();
  for (const SubsystemSnapshot& s : subsystems) {
    Json* host = nullptr;
    for (Json& h : hosts) {
      if (h["HostNQN"] == s.info.hostnqn && h["HostID"] == s.hostid) host = &h;
    }
    if (host == nullptr) {
      hosts.push_back({{"HostNQN", s.info.hostnqn}, {"HostID", s.hostid},
                       {"Subsystems", Json::array()}});
      host = &hosts.back();
    }
    Json paths = Json::array();
    for (const ControllerInfo& c : s.info.controllers) {
      Json p = {{"Name", c.name}, {"Transport", "tcp"}, {"Address", NvmeCliAddress(c.endpoint)},
                {"State", c.state}};
      // Linux shows a path's ANA state for a namespace; here that of the lowest NSID.
      for (const DeviceInfo& d : s.info.devices) {
        for (const PathInfo& pi : d.paths) {
          if (pi.name == c.name && !p.contains("ANAState")) p["ANAState"] = pi.ana_state;
        }
      }
      paths.push_back(std::move(p));
    }
    (*host)["Subsystems"].push_back({{"Name", fmt::format("nvmpath{}", s.index)},
                                     {"NQN", s.info.subnqn},
                                     {"IOPolicy", s.policy},
                                     {"Paths", paths}});
  }
  return hosts;
}

Json TopologyJson(const std::vector<SubsystemSnapshot>& subsystems) {
  Json subs = Json::array();
  for (const SubsystemSnapshot& s : subsystems) {
    Json heads = Json::array();
    for (const DeviceInfo& d : s.info.devices) {
      const DeviceCounters* counters = CountersOf(s, d.nsid);
      Json paths = Json::array();
      for (const PathInfo& p : d.paths) {
        const PathCounters* pc = PathCountersOf(counters, p.name);
        paths.push_back({{"path", p.name},
                         {"controller_state", p.controller_state},
                         {"ana_state", p.ana_state},
                         {"ana_group", p.ana_group},
                         {"usable", p.usable},
                         {"why_not", p.unusable_reason},
                         {"in_flight", pc != nullptr ? pc->in_flight : 0}});
      }
      heads.push_back({{"name", exports::HeadName({s.index, d.nsid})},
                       {"nsid", d.nsid},
                       {"capacity_bytes", d.capacity_blocks * d.block_size},
                       {"block_size", d.block_size},
                       {"in_flight", counters != nullptr ? counters->outstanding : 0},
                       {"paths", paths}});
    }
    subs.push_back({{"subsystem", s.index}, {"nqn", s.info.subnqn}, {"policy", s.policy},
                    {"heads", heads}, {"problems", s.info.problems}});
  }
  return {{"subsystems", subs}};
}

Json StatsJson(const std::vector<SubsystemSnapshot>& subsystems) {
  Json heads = Json::array();
  for (const SubsystemSnapshot& s : subsystems) {
    for (const auto& [nsid, c] : s.counters) {
      Json paths = Json::array();
      for (const auto& [name, pc] : c.paths) {
        Json p = PathCountersJson(pc);
        p["path"] = name;
        paths.push_back(std::move(p));
      }
      Json h = HeadCountersJson(c);
      h["name"] = exports::HeadName({s.index, nsid});
      h["nqn"] = s.info.subnqn;
      h["paths"] = std::move(paths);
      heads.push_back(std::move(h));
    }
  }
  return {{"heads", heads}};
}

void RegisterHostMethods(control::RpcDispatcher& dispatcher, exports::HostService& service) {
  using Handler = Result<Json> (*)(exports::HostService&, const Json&);
  for (auto [name, handler] : {std::pair<const char*, Handler>{"connect", Connect},
                               {"disconnect", Disconnect},
                               {"set_policy", SetPolicy},
                               {"rescan", Rescan},
                               {"reset", Reset},
                               {"set_timeout", SetTimeout}}) {
    dispatcher.Register(name, [&service, handler](const Json& params) {
      return handler(service, params);
    });
  }
  auto snapshot_method = [&service](Json (*shape)(const std::vector<SubsystemSnapshot>&)) {
    return [&service, shape](const Json& params) -> Result<Json> {
      NVMP_RETURN_IF_ERROR(CheckObject(params, "params", {}));
      return shape(Snapshot(service));
    };
  };
  dispatcher.Register("list_subsys", snapshot_method(ListSubsysJson));
  dispatcher.Register("show_topology", snapshot_method(TopologyJson));
  dispatcher.Register("stats", snapshot_method(StatsJson));
}

}  // namespace nvmpath::cli
