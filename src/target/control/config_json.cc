#include "target/control/config_json.h"

#include <fmt/format.h>
#include <sys/un.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <map>
#include <set>

#include "control/json_fields.h"
#include "target/port_address.h"

namespace nvmpath::target::control {

using nvmpath::control::FieldPath;
using nvmpath::control::IndexPath;
using nvmpath::control::DescribeValue;
using nvmpath::control::FieldError;
using nvmpath::control::ParseJsonText;
using nvmpath::control::CheckObject;
using nvmpath::control::Member;
using nvmpath::control::ReadUint;
using nvmpath::control::ReadString;
using nvmpath::control::ReadBool;
using nvmpath::control::ReadSize;
using nvmpath::control::FormatSize;
using nvmpath::control::Json;
namespace {

constexpr size_t kNqnMaxBytes = 223;
constexpr uint64_t kNsidMax = 0xFFFFFFFE;      // FFFFFFFFh means "all namespaces"
constexpr size_t kSerialMaxBytes = 20;         // Identify Controller SN
constexpr size_t kModelMaxBytes = 40;          // Identify Controller MN
constexpr uint64_t kAnaGroupsMaxLimit = 1024;  // keeps the ANA log page small
constexpr uint64_t kInCapsuleMaxBytes = 1 << 20;

// Assigns *out from the member `key` of `j` when present, through `read(value, path)`.
template <typename T, typename Read>
Status Optional(const Json& j, std::string_view parent, std::string_view key, T* out, Read read) {
  const Json* v = Member(j, key);
  if (v == nullptr) return Status::Ok();
  auto r = read(*v, FieldPath(parent, key));
  if (!r.ok()) return r.status();
  *out = static_cast<T>(*r);
  return Status::Ok();
}

auto UintIn(uint64_t min, uint64_t max) {
  return [min, max](const Json& v, std::string_view path) { return ReadUint(v, path, min, max); };
}

// Parses `digits` hex characters (dashes at `dash_after` positions) into `out`.
template <size_t N>
Result<std::array<uint8_t, N>> ParseHexId(const Json& v, std::string_view path,
                                          std::string_view form, std::set<size_t> dashes) {
  auto s = ReadString(v, path);
  if (!s.ok()) return s.status();
  std::string hex;
  bool ok = s->size() == N * 2 + dashes.size();
  for (size_t i = 0; ok && i < s->size(); ++i) {
    char c = (*s)[i];
    if (dashes.count(i)) {
      ok = c == '-';
    } else if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex.push_back(c);
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return FieldError(path, fmt::format("expected {}, got {}", form, DescribeValue(v)));
  }
  std::array<uint8_t, N> id{};
  bool all_zero = true;
  for (size_t i = 0; i < N; ++i) {
    id[i] = static_cast<uint8_t>(std::stoul(hex.substr(i * 2, 2), nullptr, 16));
    all_zero = all_zero && id[i] == 0;
  }
  // The specification reserves the all-zero value for "no identifier".
  if (all_zero) return FieldError(path, "all zeros means no identifier; leave the field out");
  return id;
}

template <size_t N>
std::string HexId(const std::array<uint8_t, N>& id, std::set<size_t> dashes) {
  std::string s;
  for (size_t i = 0; i < N; ++i) {
    if (dashes.count(s.size())) s.push_back('-');
    s += fmt::format("{:02x}", id[i]);
  }
  return s;
}

const std::set<size_t> kUuidDashes = {8, 13, 18, 23};
constexpr std::string_view kUuidForm = "a UUID like \"4f1c0a2e-9b7d-4c3a-8e21-6d5f0b9a7c13\"";

std::string_view BackendName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kMemory:
      return "memory";
    case BackendKind::kFile:
      return "file";
    case BackendKind::kNull:
      return "null";
  }
  return "memory";
}

Status CheckPrintable(std::string_view s, std::string_view path, size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) {
    return FieldError(path, fmt::format("expected 1..{} bytes, got {}", max_bytes, s.size()));
  }
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) {
      return FieldError(path, "only printable ASCII fits in the Identify Controller field");
    }
  }
  return Status::Ok();
}

Result<PortConfig> ParsePort(const Json& j, std::string_view path) {
  NVMP_RETURN_IF_ERROR(CheckObject(j, path, {"id", "address", "port", "enabled"}));
  PortConfig p;
  const Json* id = Member(j, "id");
  if (id == nullptr) return FieldError(FieldPath(path, "id"), "missing (a port ID 1..65535)");
  NVMP_RETURN_IF_ERROR(Optional(j, path, "id", &p.id, UintIn(1, 65535)));
  NVMP_RETURN_IF_ERROR(Optional(j, path, "address", &p.address, ReadString));
  auto host = NormalizeHost(p.address);
  if (!host.ok()) return FieldError(FieldPath(path, "address"), host.status().message());
  p.address = *host;
  if (const Json* port = Member(j, "port")) {
    std::string port_path = FieldPath(path, "port");
    if (port->is_number_integer() && !ReadUint(*port, port_path, 0, 65535).ok()) {
      return FieldError(port_path, fmt::format("{} is not a TCP port", DescribeValue(*port)));
    }
    NVMP_RETURN_IF_ERROR(Optional(j, path, "port", &p.port, UintIn(0, 65535)));
  }
  NVMP_RETURN_IF_ERROR(Optional(j, path, "enabled", &p.enabled, ReadBool));
  return p;
}

Result<SubsystemConfig> ParseSubsystem(const Json& j, std::string_view path,
                                       uint32_t ana_groups_max) {
  NVMP_RETURN_IF_ERROR(CheckObject(
      j, path, {"nqn", "serial", "model", "allowed_hosts", "mdts_pages", "namespaces"}));
  SubsystemConfig s;
  if (Member(j, "nqn") == nullptr) {
    return FieldError(FieldPath(path, "nqn"), "missing (e.g. \"nqn.2026-11.io.nvmpath:demo\")");
  }
  NVMP_RETURN_IF_ERROR(Optional(j, path, "nqn", &s.nqn, ReadString));
  NVMP_RETURN_IF_ERROR(CheckNqn(s.nqn, FieldPath(path, "nqn")));
  NVMP_RETURN_IF_ERROR(Optional(j, path, "serial", &s.serial, ReadString));
  NVMP_RETURN_IF_ERROR(CheckPrintable(s.serial, FieldPath(path, "serial"), kSerialMaxBytes));
  NVMP_RETURN_IF_ERROR(Optional(j, path, "model", &s.model, ReadString));
  NVMP_RETURN_IF_ERROR(CheckPrintable(s.model, FieldPath(path, "model"), kModelMaxBytes));
  // MDTS is an exponent (2^n pages of 4 KiB); the target serves up to 2^13 pages (32 MiB).
  NVMP_RETURN_IF_ERROR(Optional(j, path, "mdts_pages", &s.mdts_pages, UintIn(0, 13)));
  if (const Json* hosts = Member(j, "allowed_hosts")) {
    std::string hosts_path = FieldPath(path, "allowed_hosts");
    if (!hosts->is_array()) {
      return FieldError(
          hosts_path, fmt::format("expected an array of host NQNs, got {}", DescribeValue(*hosts)));
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < hosts->size(); ++i) {
      std::string host_path = IndexPath(hosts_path, i);
      auto nqn = ReadString((*hosts)[i], host_path);
      if (!nqn.ok()) return nqn.status();
      NVMP_RETURN_IF_ERROR(CheckNqn(*nqn, host_path));
      if (!seen.insert(*nqn).second) {
        return FieldError(host_path, fmt::format("\"{}\" is listed twice", *nqn));
      }
      s.allowed_hosts.push_back(*nqn);
    }
  }
  if (const Json* nss = Member(j, "namespaces")) {
    std::string nss_path = FieldPath(path, "namespaces");
    if (!nss->is_array()) {
      return FieldError(nss_path, fmt::format("expected an array, got {}", DescribeValue(*nss)));
    }
    std::map<uint32_t, size_t> nsid_at;
    for (size_t i = 0; i < nss->size(); ++i) {
      std::string ns_path = IndexPath(nss_path, i);
      auto ns = ParseNamespaceConfig((*nss)[i], ns_path, ana_groups_max);
      if (!ns.ok()) return ns.status();
      auto [it, inserted] = nsid_at.emplace(ns->nsid, i);
      if (!inserted) {
        return FieldError(
            FieldPath(ns_path, "nsid"),
            fmt::format("{} is already used by {}", ns->nsid, IndexPath(nss_path, it->second)));
      }
      s.namespaces.push_back(std::move(*ns));
    }
  }
  return s;
}

Result<AnaConfig> ParseAna(const Json& j, std::string_view path, uint32_t ana_groups_max) {
  NVMP_RETURN_IF_ERROR(CheckObject(j, path, {"port", "group", "state"}));
  AnaConfig a;
  for (std::string_view key : {"port", "group", "state"}) {
    if (Member(j, key) == nullptr) return FieldError(FieldPath(path, key), "missing");
  }
  NVMP_RETURN_IF_ERROR(Optional(j, path, "port", &a.port_id, UintIn(1, 65535)));
  NVMP_RETURN_IF_ERROR(Optional(j, path, "group", &a.group, UintIn(1, ana_groups_max)));
  auto name = ReadString(*Member(j, "state"), FieldPath(path, "state"));
  if (!name.ok()) return name.status();
  auto state = ParseAnaStateName(*name, FieldPath(path, "state"));
  if (!state.ok()) return state.status();
  a.state = *state;
  return a;
}

Result<TargetConfig> ParseTop(const Json& j) {
  NVMP_RETURN_IF_ERROR(CheckObject(
      j, "",
      {"ports", "subsystems", "ana", "discovery_nqn", "ana_groups_max", "io_queues_max",
       "queue_size_max", "in_capsule_bytes", "max_h2c_data", "cqt_ms", "control_socket"}));
  TargetConfig c;
  // Scalars first: ana_groups_max bounds the group numbers below.
  NVMP_RETURN_IF_ERROR(Optional(j, "", "discovery_nqn", &c.discovery_nqn, ReadString));
  NVMP_RETURN_IF_ERROR(CheckNqn(c.discovery_nqn, "discovery_nqn"));
  NVMP_RETURN_IF_ERROR(
      Optional(j, "", "ana_groups_max", &c.ana_groups_max, UintIn(1, kAnaGroupsMaxLimit)));
  // Number of Queues is a 16-bit 0's based count.
  NVMP_RETURN_IF_ERROR(Optional(j, "", "io_queues_max", &c.io_queues_max, UintIn(1, 65535)));
  // MQES is 0's based and at least 1, so a queue has 2..65536 entries; the field here is a u16.
  NVMP_RETURN_IF_ERROR(Optional(j, "", "queue_size_max", &c.queue_size_max, UintIn(2, 65535)));
  NVMP_RETURN_IF_ERROR(
      Optional(j, "", "in_capsule_bytes", &c.in_capsule_bytes, UintIn(0, kInCapsuleMaxBytes)));
  if (c.in_capsule_bytes % 16 != 0) {
    // IOCCSZ counts 16-byte units.
    return FieldError("in_capsule_bytes",
                      fmt::format("{} is not a multiple of 16", c.in_capsule_bytes));
  }
  // NVMe/TCP: MAXH2CDATA is at least 4096 and a multiple of 4 (dword aligned).
  NVMP_RETURN_IF_ERROR(Optional(j, "", "max_h2c_data", &c.max_h2c_data, UintIn(4096, UINT32_MAX)));
  if (c.max_h2c_data % 4 != 0) {
    return FieldError("max_h2c_data", fmt::format("{} is not a multiple of 4", c.max_h2c_data));
  }
  uint64_t cqt_ms = 0;
  // CQT is a 16-bit millisecond field in Identify Controller.
  NVMP_RETURN_IF_ERROR(Optional(j, "", "cqt_ms", &cqt_ms, UintIn(0, 65535)));
  c.cqt = std::chrono::milliseconds(cqt_ms);
  NVMP_RETURN_IF_ERROR(Optional(j, "", "control_socket", &c.control_socket, ReadString));
  if (c.control_socket.size() >= sizeof(sockaddr_un::sun_path)) {
    return FieldError("control_socket", fmt::format("a Unix socket path is at most {} bytes",
                                                    sizeof(sockaddr_un::sun_path) - 1));
  }

  const Json* ports = Member(j, "ports");
  if (ports == nullptr) return FieldError("ports", "missing (at least one port)");
  if (!ports->is_array() || ports->empty()) {
    return FieldError(
        "ports", fmt::format("expected a non-empty array of ports, got {}", DescribeValue(*ports)));
  }
  std::map<uint16_t, size_t> id_at;
  std::map<std::pair<std::string, uint16_t>, size_t> endpoint_at;
  for (size_t i = 0; i < ports->size(); ++i) {
    std::string path = IndexPath("ports", i);
    auto p = ParsePort((*ports)[i], path);
    if (!p.ok()) return p.status();
    if (auto [it, inserted] = id_at.emplace(p->id, i); !inserted) {
      return FieldError(FieldPath(path, "id"),
                        fmt::format("{} is already used by ports[{}]", p->id, it->second));
    }
    if (p->port != 0) {  // port 0 asks for any free port, so several may share it
      if (auto [it, inserted] = endpoint_at.emplace(std::make_pair(p->address, p->port), i);
          !inserted) {
        return FieldError(FieldPath(path, "port"), fmt::format("{}:{} is already used by ports[{}]",
                                                               p->address, p->port, it->second));
      }
    }
    c.ports.push_back(std::move(*p));
  }

  const Json* subsystems = Member(j, "subsystems");
  if (subsystems == nullptr) return FieldError("subsystems", "missing (an array, may be empty)");
  if (!subsystems->is_array()) {
    return FieldError("subsystems",
                      fmt::format("expected an array, got {}", DescribeValue(*subsystems)));
  }
  std::map<std::string, size_t> nqn_at;
  for (size_t i = 0; i < subsystems->size(); ++i) {
    std::string path = IndexPath("subsystems", i);
    auto s = ParseSubsystem((*subsystems)[i], path, c.ana_groups_max);
    if (!s.ok()) return s.status();
    if (s->nqn == c.discovery_nqn) {
      return FieldError(FieldPath(path, "nqn"), "is the discovery subsystem's NQN");
    }
    if (auto [it, inserted] = nqn_at.emplace(s->nqn, i); !inserted) {
      return FieldError(
          FieldPath(path, "nqn"),
          fmt::format("\"{}\" is already used by subsystems[{}]", s->nqn, it->second));
    }
    c.subsystems.push_back(std::move(*s));
  }

  if (const Json* ana = Member(j, "ana")) {
    if (!ana->is_array()) {
      return FieldError("ana", fmt::format("expected an array, got {}", DescribeValue(*ana)));
    }
    std::map<std::pair<uint16_t, uint32_t>, size_t> entry_at;
    for (size_t i = 0; i < ana->size(); ++i) {
      std::string path = IndexPath("ana", i);
      auto a = ParseAna((*ana)[i], path, c.ana_groups_max);
      if (!a.ok()) return a.status();
      if (!id_at.count(a->port_id)) {
        return FieldError(FieldPath(path, "port"), fmt::format("no port has id {}", a->port_id));
      }
      if (auto [it, inserted] = entry_at.emplace(std::make_pair(a->port_id, a->group), i);
          !inserted) {
        return FieldError(path, fmt::format("port {} group {} is already set by ana[{}]",
                                            a->port_id, a->group, it->second));
      }
      c.ana.push_back(*a);
    }
  }
  return c;
}

}  // namespace

Status CheckNqn(std::string_view nqn, std::string_view path) {
  if (nqn.substr(0, 4) != "nqn." || nqn.size() <= 4) {
    return FieldError(path, fmt::format("\"{}\" is not an NQN (it must start with \"nqn.\", e.g. "
                                        "\"nqn.2026-11.io.nvmpath:demo\")",
                                        nqn));
  }
  if (nqn.size() > kNqnMaxBytes) {
    return FieldError(path,
                      fmt::format("is {} bytes; an NQN is at most {}", nqn.size(), kNqnMaxBytes));
  }
  for (char c : nqn) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return FieldError(path, fmt::format("\"{}\" contains a space or control character", nqn));
    }
  }
  return Status::Ok();
}

Status CheckBlockSize(uint64_t block_size, std::string_view path) {
  if (block_size < 512 || block_size > 4096 || (block_size & (block_size - 1)) != 0) {
    return FieldError(path, fmt::format("{} is not a power of two 512..4096", block_size));
  }
  return Status::Ok();
}

Result<nvme::AnaState> ParseAnaStateName(std::string_view name, std::string_view path) {
  static constexpr nvme::AnaState kStates[] = {
      nvme::AnaState::kOptimized, nvme::AnaState::kNonOptimized, nvme::AnaState::kInaccessible,
      nvme::AnaState::kPersistentLoss, nvme::AnaState::kChange};
  for (nvme::AnaState s : kStates) {
    if (AnaStateConfigName(s) == name) return s;
  }
  return FieldError(path, fmt::format("\"{}\" is not an ANA state (optimized, non-optimized, "
                                      "inaccessible, persistent-loss, change)",
                                      name));
}

std::string_view AnaStateConfigName(nvme::AnaState state) {
  switch (state) {
    case nvme::AnaState::kOptimized:
      return "optimized";
    case nvme::AnaState::kNonOptimized:
      return "non-optimized";
    case nvme::AnaState::kInaccessible:
      return "inaccessible";
    case nvme::AnaState::kPersistentLoss:
      return "persistent-loss";
    case nvme::AnaState::kChange:
      return "change";
  }
  return "unknown";
}

Result<NamespaceConfig> ParseNamespaceConfig(const Json& j, std::string_view path,
                                             uint32_t ana_groups_max) {
  NVMP_RETURN_IF_ERROR(CheckObject(
      j, path,
      {"nsid", "backend", "size", "path", "block_size", "ana_group", "uuid", "nguid", "eui64"}));
  NamespaceConfig ns;
  if (Member(j, "nsid") == nullptr) {
    return FieldError(FieldPath(path, "nsid"), fmt::format("missing (1..{})", kNsidMax));
  }
  NVMP_RETURN_IF_ERROR(Optional(j, path, "nsid", &ns.nsid, UintIn(1, kNsidMax)));
  if (const Json* backend = Member(j, "backend")) {
    std::string backend_path = FieldPath(path, "backend");
    auto name = ReadString(*backend, backend_path);
    if (!name.ok()) return name.status();
    if (*name == "memory") {
      ns.backend = BackendKind::kMemory;
    } else if (*name == "file") {
      ns.backend = BackendKind::kFile;
    } else if (*name == "null") {
      ns.backend = BackendKind::kNull;
    } else {
      return FieldError(backend_path,
                        fmt::format("\"{}\" is not a backend (memory, file, null)", *name));
    }
  }
  NVMP_RETURN_IF_ERROR(Optional(j, path, "block_size", &ns.block_size, UintIn(0, UINT32_MAX)));
  NVMP_RETURN_IF_ERROR(CheckBlockSize(ns.block_size, FieldPath(path, "block_size")));

  std::string size_path = FieldPath(path, "size");
  std::string file_path = FieldPath(path, "path");
  if (ns.backend == BackendKind::kFile) {
    if (Member(j, "size") != nullptr) {
      return FieldError(size_path, "a file backend takes the file's size; leave \"size\" out");
    }
    if (Member(j, "path") == nullptr)
      return FieldError(file_path, "missing (the file backend's file)");
    NVMP_RETURN_IF_ERROR(Optional(j, path, "path", &ns.path, ReadString));
    if (ns.path.empty()) return FieldError(file_path, "is empty");
  } else {
    if (Member(j, "path") != nullptr) {
      return FieldError(file_path, fmt::format("only a file backend has a path (backend is \"{}\")",
                                               BackendName(ns.backend)));
    }
    NVMP_RETURN_IF_ERROR(Optional(j, path, "size", &ns.size_bytes, ReadSize));
    if (ns.size_bytes == 0) return FieldError(size_path, "must be more than 0");
    if (ns.size_bytes % ns.block_size != 0) {
      return FieldError(size_path, fmt::format("{} bytes is not a multiple of block_size {}",
                                               ns.size_bytes, ns.block_size));
    }
  }
  NVMP_RETURN_IF_ERROR(Optional(j, path, "ana_group", &ns.ana_group, UintIn(1, ana_groups_max)));
  if (const Json* v = Member(j, "uuid")) {
    auto id = ParseHexId<16>(*v, FieldPath(path, "uuid"), kUuidForm, kUuidDashes);
    if (!id.ok()) return id.status();
    ns.uuid = *id;
  }
  if (const Json* v = Member(j, "nguid")) {
    auto id = ParseHexId<16>(*v, FieldPath(path, "nguid"), "32 hex digits", {});
    if (!id.ok()) return id.status();
    ns.nguid = *id;
  }
  if (const Json* v = Member(j, "eui64")) {
    auto id = ParseHexId<8>(*v, FieldPath(path, "eui64"), "16 hex digits", {});
    if (!id.ok()) return id.status();
    ns.eui64 = *id;
  }
  return ns;
}

Json ToJson(const NamespaceConfig& ns) {
  Json j = {{"nsid", ns.nsid},
            {"backend", BackendName(ns.backend)},
            {"block_size", ns.block_size},
            {"ana_group", ns.ana_group}};
  if (ns.backend == BackendKind::kFile) {
    j["path"] = ns.path;
  } else {
    j["size"] = FormatSize(ns.size_bytes);
  }
  if (ns.uuid) j["uuid"] = HexId(*ns.uuid, kUuidDashes);
  if (ns.nguid) j["nguid"] = HexId(*ns.nguid, {});
  if (ns.eui64) j["eui64"] = HexId(*ns.eui64, {});
  return j;
}

Json ToJson(const TargetConfig& c) {
  Json ports = Json::array();
  for (const PortConfig& p : c.ports) {
    ports.push_back(
        {{"id", p.id}, {"address", p.address}, {"port", p.port}, {"enabled", p.enabled}});
  }
  Json subsystems = Json::array();
  for (const SubsystemConfig& s : c.subsystems) {
    Json nss = Json::array();
    for (const NamespaceConfig& ns : s.namespaces) nss.push_back(ToJson(ns));
    subsystems.push_back({{"nqn", s.nqn},
                          {"serial", s.serial},
                          {"model", s.model},
                          {"allowed_hosts", s.allowed_hosts},
                          {"mdts_pages", s.mdts_pages},
                          {"namespaces", std::move(nss)}});
  }
  Json ana = Json::array();
  for (const AnaConfig& a : c.ana) {
    ana.push_back(
        {{"port", a.port_id}, {"group", a.group}, {"state", AnaStateConfigName(a.state)}});
  }
  return {{"ports", std::move(ports)},
          {"subsystems", std::move(subsystems)},
          {"ana", std::move(ana)},
          {"discovery_nqn", c.discovery_nqn},
          {"ana_groups_max", c.ana_groups_max},
          {"io_queues_max", c.io_queues_max},
          {"queue_size_max", c.queue_size_max},
          {"in_capsule_bytes", c.in_capsule_bytes},
          {"max_h2c_data", c.max_h2c_data},
          {"cqt_ms", std::chrono::duration_cast<std::chrono::milliseconds>(c.cqt).count()},
          {"control_socket", c.control_socket}};
}

Result<TargetConfig> ParseTargetConfig(std::string_view json_text) {
  auto j = ParseJsonText(json_text);
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return InvalidArgument(
        fmt::format("expected a JSON object at the top level, got {}", DescribeValue(*j)));
  }
  return ParseTop(*j);
}

Result<TargetConfig> LoadTargetConfig(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoStatus(fmt::format("open {}", path), errno);
  std::string text;
  char buf[64 * 1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) return ErrnoStatus(fmt::format("read {}", path), err);
  auto c = ParseTargetConfig(text);
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

}  // namespace nvmpath::target::control
