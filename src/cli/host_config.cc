#include "cli/host_config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>

#include "cli/connection_options.h"
#include "client/host_identity.h"
#include "target/control/config_json.h"
#include "control/json_fields.h"
#include "target/port_address.h"

namespace nvmpath::cli {
namespace {

using target::control::CheckNqn;
using control::CheckObject;
using control::DescribeValue;
using control::FieldError;
using control::FieldPath;
using control::IndexPath;
using control::Json;
using control::Member;
using control::ParseJsonText;
using control::ReadBool;
using control::ReadString;
using control::ReadUint;

constexpr uint64_t kIoThreadsMax = 64;  // Client::Connect's limit
constexpr size_t kUnixPathMaxBytes = sizeof(sockaddr_un::sun_path) - 1;

// A duration: a string as ParseDuration takes ("600", "500ms", "10s", "1m", "-1") or an integer
// number of seconds. `allow_negative`: -1 is allowed; `positive`: 0 is not.
Result<std::chrono::milliseconds> ReadDuration(const Json& v, std::string_view path,
                                               bool allow_negative, bool positive) {
  std::string text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_number_integer()) {
    text = v.dump();
  } else {
    return FieldError(path, fmt::format("expected a duration (whole seconds, or a string like "
                                        "\"500ms\", \"10s\", \"1m\"), got {}",
                                        DescribeValue(v)));
  }
  // ParseDuration's errors read "<flag> '<text>': <what>"; the flag here is "<path>:".
  auto d = ParseDuration(text, fmt::format("{}:", path), allow_negative);
  if (!d.ok()) return d.status();
  if (positive && d->count() <= 0) {
    return FieldError(path, fmt::format("{} must be more than 0", DescribeValue(v)));
  }
  return *d;
}

Result<Endpoint> ReadEndpoint(const Json& v, std::string_view path) {
  auto text = ReadString(v, path);
  if (!text.ok()) return text.status();
  auto ep = Endpoint::Parse(*text);
  if (!ep.ok()) return ep.status().WithContext(path);
  return ep;
}

// A host NQN or subsystem NQN: the NQN rules the target applies as well.
Result<std::string> ReadNqn(const Json& v, std::string_view path) {
  auto nqn = ReadString(v, path);
  if (!nqn.ok()) return nqn.status();
  NVMP_RETURN_IF_ERROR(CheckNqn(*nqn, path));
  return nqn;
}

Result<std::string> ReadHostId(const Json& v, std::string_view path) {
  auto id = ReadString(v, path);
  if (!id.ok()) return id.status();
  auto uuid = client::ParseUuid(*id);
  if (!uuid.ok()) return uuid.status().WithContext(path);
  return id;
}

// What the top level gives every subsystem unless the subsystem says otherwise.
struct HostDefaults {
  std::string hostnqn;
  std::string hostid;
};

Result<ClientOptions> ParseSubsystem(const Json& j, std::string_view path,
                                     const HostDefaults& defaults) {
  NVMP_RETURN_IF_ERROR(CheckObject(
      j, path,
      {"nqn", "paths", "discovery", "hostnqn", "hostid", "policy", "hdr_digest", "data_digest",
       "queue_size", "keep_alive_tmo", "reconnect_delay", "ctrl_loss_tmo", "fast_io_fail_tmo",
       "io_timeout", "no_path_timeout", "connect_timeout", "fence_delay", "queue_if_no_path",
       "head_qos", "path_qos", "persistent_discovery"}));
  ClientOptions o;
  o.hostnqn = defaults.hostnqn;
  o.hostid = defaults.hostid;

  if (const Json* nqn = Member(j, "nqn")) {
    auto r = ReadNqn(*nqn, FieldPath(path, "nqn"));
    if (!r.ok()) return r.status();
    o.subnqn = *r;
  }
  if (const Json* paths = Member(j, "paths")) {
    std::string paths_path = FieldPath(path, "paths");
    if (!paths->is_array()) {
      return FieldError(
          paths_path,
          fmt::format("expected an array of \"ADDR:PORT\" strings, got {}", DescribeValue(*paths)));
    }
    for (size_t i = 0; i < paths->size(); ++i) {
      std::string p_path = IndexPath(paths_path, i);
      auto ep = ReadEndpoint((*paths)[i], p_path);
      if (!ep.ok()) return ep.status();
      for (size_t k = 0; k < o.paths.size(); ++k) {
        if (o.paths[k] == *ep) {
          return FieldError(p_path, fmt::format("{} is already listed as {}", ep->ToString(),
                                                IndexPath(paths_path, k)));
        }
      }
      o.paths.push_back(*ep);
    }
  }
  if (const Json* discovery = Member(j, "discovery")) {
    auto ep = ReadEndpoint(*discovery, FieldPath(path, "discovery"));
    if (!ep.ok()) return ep.status();
    o.discovery = *ep;
  }
  if (o.paths.empty() && !o.discovery) {
    return FieldError(path,
                      "no path: give \"paths\" (\"ADDR:PORT\" of each path) or \"discovery\" "
                      "(\"ADDR:PORT\" of a discovery controller)");
  }
  if (o.subnqn.empty() && !o.discovery) {
    return FieldError(FieldPath(path, "nqn"),
                      "missing (the subsystem NQN is required unless \"discovery\" is given)");
  }
  if (const Json* v = Member(j, "hostnqn")) {
    auto r = ReadNqn(*v, FieldPath(path, "hostnqn"));
    if (!r.ok()) return r.status();
    o.hostnqn = *r;
  }
  if (const Json* v = Member(j, "hostid")) {
    auto r = ReadHostId(*v, FieldPath(path, "hostid"));
    if (!r.ok()) return r.status();
    o.hostid = *r;
  }
  if (const Json* v = Member(j, "policy")) {
    std::string policy_path = FieldPath(path, "policy");
    auto name = ReadString(*v, policy_path);
    if (!name.ok()) return name.status();
    auto policy = ParsePathPolicy(*name);
    if (!policy.ok()) return policy.status().WithContext(policy_path);
    o.policy = *policy;
  }
  for (auto [key, out] : {std::pair{"head_qos", &o.head_qos}, std::pair{"path_qos", &o.path_qos}}) {
    if (const Json* v = Member(j, key)) {
      const std::string field = FieldPath(path, key);
      auto text = ReadString(*v, field);
      if (!text.ok()) return text.status();
      auto q = QosLimits::Parse(*text);
      if (!q.ok()) return q.status().WithContext(field);
      *out = *q;
    }
  }
  struct BoolField {
    const char* key;
    bool* out;
  };
  for (const BoolField& f :
       {BoolField{"hdr_digest", &o.hdr_digest}, BoolField{"data_digest", &o.data_digest},
        BoolField{"queue_if_no_path", &o.queue_if_no_path},
        BoolField{"persistent_discovery", &o.persistent_discovery}}) {
    if (const Json* v = Member(j, f.key)) {
      auto b = ReadBool(*v, FieldPath(path, f.key));
      if (!b.ok()) return b.status();
      *f.out = *b;
    }
  }
  if (const Json* v = Member(j, "queue_size")) {
    auto n = ReadUint(*v, FieldPath(path, "queue_size"), 2, 65535);
    if (!n.ok()) return n.status();
    o.queue_size = static_cast<uint16_t>(*n);
  }
  struct DurationField {
    const char* key;
    std::chrono::milliseconds* out;
    bool allow_negative;  // -1: forever / off / the controller's CQT
    bool positive;
  };
  for (const DurationField& f : {
           DurationField{"keep_alive_tmo", &o.keep_alive_tmo, false, true},
           DurationField{"reconnect_delay", &o.reconnect_delay, false, false},
           DurationField{"ctrl_loss_tmo", &o.ctrl_loss_tmo, true, false},
           DurationField{"fast_io_fail_tmo", &o.fast_io_fail_tmo, true, false},
           DurationField{"io_timeout", &o.io_timeout, false, true},
           DurationField{"no_path_timeout", &o.no_path_timeout, false, false},
           DurationField{"connect_timeout", &o.connect_timeout, false, true},
           DurationField{"fence_delay", &o.fence_delay, true, false},
       }) {
    if (const Json* v = Member(j, f.key)) {
      auto d = ReadDuration(*v, FieldPath(path, f.key), f.allow_negative, f.positive);
      if (!d.ok()) return d.status();
      *f.out = *d;
    }
  }
  if (o.persistent_discovery && !o.discovery) {
    return FieldError(FieldPath(path, "persistent_discovery"),
                      "needs \"discovery\" (the discovery controller whose log to follow)");
  }
  return o;
}

Status ParseExports(const Json& j, HostConfig* c) {
  NVMP_RETURN_IF_ERROR(CheckObject(j, "exports", {"nbd", "fuse"}));
  if (const Json* nbd = Member(j, "nbd")) {
    if (!nbd->is_array()) {
      return FieldError("exports.nbd",
                        fmt::format("expected an array of \"unix:PATH\" or \"ADDR:PORT\" "
                                    "strings, got {}",
                                    DescribeValue(*nbd)));
    }
    for (size_t i = 0; i < nbd->size(); ++i) {
      std::string path = IndexPath("exports.nbd", i);
      auto addr = ReadString((*nbd)[i], path);
      if (!addr.ok()) return addr.status();
      NVMP_RETURN_IF_ERROR(CheckNbdAddress(*addr).WithContext(path));
      for (size_t k = 0; k < c->nbd.size(); ++k) {
        if (c->nbd[k] == *addr) {
          return FieldError(path, fmt::format("\"{}\" is already listed as {}", *addr,
                                              IndexPath("exports.nbd", k)));
        }
      }
      c->nbd.push_back(*addr);
    }
  }
  if (const Json* fuse = Member(j, "fuse")) {
    auto dir = ReadString(*fuse, "exports.fuse");
    if (!dir.ok()) return dir.status();
    if (dir->empty()) {
      return FieldError("exports.fuse", "is empty (leave the field out for no FUSE mount)");
    }
    if (dir->find('\0') != std::string::npos) {
      return FieldError("exports.fuse", "contains a NUL character");
    }
    c->fuse = *dir;
  }
  return Status::Ok();
}

Result<HostConfig> ParseTop(const Json& j) {
  NVMP_RETURN_IF_ERROR(
      CheckObject(j, "", {"hostnqn", "hostid", "io_threads", "exports", "metrics", "subsystems"}));
  HostConfig c;
  HostDefaults defaults;
  if (const Json* v = Member(j, "hostnqn")) {
    auto r = ReadNqn(*v, "hostnqn");
    if (!r.ok()) return r.status();
    defaults.hostnqn = *r;
  }
  if (const Json* v = Member(j, "hostid")) {
    auto r = ReadHostId(*v, "hostid");
    if (!r.ok()) return r.status();
    defaults.hostid = *r;
  }
  if (const Json* v = Member(j, "io_threads")) {
    auto n = ReadUint(*v, "io_threads", 1, kIoThreadsMax);
    if (!n.ok()) return n.status();
    c.io_threads = static_cast<unsigned>(*n);
  }
  if (const Json* exports = Member(j, "exports")) {
    NVMP_RETURN_IF_ERROR(ParseExports(*exports, &c));
  }
  if (const Json* v = Member(j, "metrics")) {
    auto text = ReadString(*v, "metrics");
    if (!text.ok()) return text.status();
    auto ep = ParseMetricsAddress(*text);
    if (!ep.ok()) return ep.status().WithContext("metrics");
    c.metrics = *ep;
  }

  const Json* subsystems = Member(j, "subsystems");
  if (subsystems == nullptr) return FieldError("subsystems", "missing (at least one subsystem)");
  if (!subsystems->is_array() || subsystems->empty()) {
    return FieldError("subsystems", fmt::format("expected a non-empty array of subsystems, got {}",
                                                DescribeValue(*subsystems)));
  }
  std::map<std::string, size_t> nqn_at;
  for (size_t i = 0; i < subsystems->size(); ++i) {
    std::string path = IndexPath("subsystems", i);
    auto s = ParseSubsystem((*subsystems)[i], path, defaults);
    if (!s.ok()) return s.status();
    // A subsystem found through discovery alone has no NQN here; it cannot be compared.
    if (!s->subnqn.empty()) {
      if (auto [it, inserted] = nqn_at.emplace(s->subnqn, i); !inserted) {
        return FieldError(
            FieldPath(path, "nqn"),
            fmt::format("\"{}\" is already used by subsystems[{}]", s->subnqn, it->second));
      }
    }
    s->io_threads = c.io_threads;
    c.subsystems.push_back(std::move(*s));
  }
  return c;
}

}  // namespace

Result<ClientOptions> ParseSubsystemJson(const nlohmann::json& j, std::string_view path) {
  return ParseSubsystem(j, path, HostDefaults{});
}

Result<std::chrono::milliseconds> ReadDurationJson(const nlohmann::json& v, std::string_view path,
                                                   bool allow_negative, bool positive) {
  return ReadDuration(v, path, allow_negative, positive);
}

Status CheckNbdAddress(std::string_view text) {
  auto bad = [&](std::string_view what) {
    return InvalidArgument(fmt::format("NBD address \"{}\": {}", text, what));
  };
  constexpr std::string_view kUnix = "unix:";
  if (text.substr(0, kUnix.size()) == kUnix) {
    std::string_view path = text.substr(kUnix.size());
    if (path.empty()) return bad("the socket path is empty (expected unix:/path/to/socket)");
    if (path.size() > kUnixPathMaxBytes) {
      return bad(fmt::format("the socket path is {} bytes; a Unix socket path is at most {}",
                             path.size(), kUnixPathMaxBytes));
    }
    if (path.find('\0') != std::string_view::npos) {
      return bad("the socket path contains a NUL character");
    }
    return Status::Ok();
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return bad(
        "expected \"unix:PATH\" or \"ADDR:PORT\" (e.g. \"unix:/run/nvmpath.sock\", "
        "\"127.0.0.1:10809\")");
  }
  std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  // Port 0: any free port (`nvmpath host` prints the one it got).
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return bad(fmt::format("port \"{}\" is not a number in 0..65535", port));
  }
  const std::string addr(text.substr(0, colon));
  in_addr parsed{};
  if (addr.empty() || inet_pton(AF_INET, addr.c_str(), &parsed) != 1) {
    return bad(
        fmt::format("\"{}\" is not a numeric IPv4 address (expected ADDR:PORT, e.g. "
                    "127.0.0.1:10809, or unix:PATH)",
                    addr));
  }
  return Status::Ok();
}

Result<Endpoint> ParseMetricsAddress(std::string_view text) {
  auto hp = target::ParseHostPort(text);
  if (!hp.ok()) {
    return InvalidArgument(fmt::format("metrics address \"{}\": {}", text, hp.status().message()));
  }
  return Endpoint{hp->host, hp->port};
}

Result<HostConfig> ParseHostConfig(std::string_view text) {
  auto j = ParseJsonText(text);
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return InvalidArgument(
        fmt::format("expected a JSON object at the top level, got {}", DescribeValue(*j)));
  }
  return ParseTop(*j);
}

Result<HostConfig> LoadHostConfig(const std::string& path) {
  const std::string what = fmt::format("host config {}", path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoStatus(what, errno);
  std::string text;
  char buf[64 * 1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return ErrnoStatus(what, err);
  auto c = ParseHostConfig(text);
  if (!c.ok()) return c.status().WithContext(what);
  return c;
}

}  // namespace nvmpath::cli
