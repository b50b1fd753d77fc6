#include "sim/target_faults.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "target/control/config_json.h"

namespace nvmpath::sim {
namespace {

Status NoSuch(const TargetModel& m, int p, int h) {
  return Status(Code::kInvalidArgument,
                fmt::format("no port {} or namespace {} (the target has {} ports, {} namespaces)",
                            p + 1, h + 1, m.ports(), m.namespaces()));
}

bool Valid(const TargetModel& m, int p, int h) {
  return p >= 0 && p < m.ports() && h >= 0 && h < m.namespaces();
}

// Each fault on the target; `t` is null while the target is down. `Control` is target::Target
// itself, or RpcRecorder (below), which says the same calls as JSON-RPC requests.
template <typename Control>
struct TargetApplier {
  Control* t;
  TargetModel& m;

  Status operator()(const fault::PortEnabled& f) {
    if (!Valid(m, f.port, 0)) return NoSuch(m, f.port, 0);
    m.enabled[f.port] = f.enabled;
    return t ? t->SetPortEnabled(m.PortId(f.port), f.enabled) : Status::Ok();
  }
  Status operator()(const fault::Ana& f) {
    if (!Valid(m, f.port, f.ns)) return NoSuch(m, f.port, f.ns);
    m.ana[f.port][f.ns] = f.state;
    return t ? t->SetAnaState(m.PortId(f.port), m.Group(f.ns), f.state) : Status::Ok();
  }
  Status operator()(const fault::NsAttached& f) {
    if (!Valid(m, f.port, f.ns)) return NoSuch(m, f.port, f.ns);
    m.ns[f.ns].attached[f.port] = f.attached;
    if (!t || !m.ns[f.ns].present) return Status::Ok();  // comes back attached everywhere
    return t->SetNamespaceAttached(m.subnqn, m.Nsid(f.ns), m.PortId(f.port), f.attached);
  }
  Status operator()(const fault::NsPresent& f) {
    if (!Valid(m, 0, f.ns)) return NoSuch(m, 0, f.ns);
    TargetModel::Namespace& ns = m.ns[f.ns];
    if (ns.present == f.present) return Status::Ok();
    ns.present = f.present;
    ns.attached.assign(m.ports(), true);  // a namespace added again is attached everywhere
    if (!t) return Status::Ok();
    if (!f.present) return t->RemoveNamespace(m.subnqn, m.Nsid(f.ns));
    return t->AddNamespace(m.subnqn, m.NsConfig(f.ns, f.fresh));
  }
  Status operator()(const fault::NsRemapped& f) {
    if (!Valid(m, 0, f.ns)) return NoSuch(m, 0, f.ns);
    if (f.identity == 0) return Status(Code::kInvalidArgument, "a remap's identity counts from 1");
    TargetModel::Namespace& ns = m.ns[f.ns];
    const bool was_present = ns.present;
    ns.present = true;
    ns.identity = f.identity;
    ns.attached.assign(m.ports(), true);
    if (!t) return Status::Ok();
    if (was_present) NVMP_RETURN_IF_ERROR(t->RemoveNamespace(m.subnqn, m.Nsid(f.ns)));
    return t->AddNamespace(m.subnqn, m.NsConfig(f.ns));
  }
  Status operator()(const fault::NsGrow& f) {
    if (!Valid(m, 0, f.ns)) return NoSuch(m, 0, f.ns);
    TargetModel::Namespace& ns = m.ns[f.ns];
    ns.size_bytes += f.blocks * m.block_size;
    if (!ns.present || !t) {  // the file grows anyway: the namespace comes back at its new size
      if (ns.file.empty()) return Status::Ok();
      if (::truncate(ns.file.c_str(), static_cast<off_t>(ns.size_bytes)) != 0) {
        return ErrnoStatus("truncate " + ns.file, errno);
      }
      return Status::Ok();
    }
    return t->ResizeNamespace(m.subnqn, m.Nsid(f.ns), ns.size_bytes);
  }
  Status operator()(const fault::FailNext& f) {
    if (!Valid(m, f.port, f.ns)) return NoSuch(m, f.port, f.ns);
    if (!t) return Status::Ok();
    target::FailNextSpec spec;
    spec.status = f.status;
    spec.count = f.count;
    spec.opcode = f.opcode;
    spec.port_id = m.PortId(f.port);
    spec.nsid = m.Nsid(f.ns);
    return t->FailNext(spec);
  }
  Status operator()(const fault::StallResponses& f) {
    if (!Valid(m, f.port, 0)) return NoSuch(m, f.port, 0);
    return t ? t->SetStalled(m.PortId(f.port), f.stalled) : Status::Ok();
  }
  Status operator()(const fault::DelayResponses& f) {
    if (!Valid(m, f.port, 0)) return NoSuch(m, f.port, 0);
    return t ? t->SetResponseDelay(m.PortId(f.port), f.delay) : Status::Ok();
  }
  Status operator()(const fault::DropConnections& f) {
    if (!Valid(m, f.port, 0)) return NoSuch(m, f.port, 0);
    return t ? t->DropConnections(m.PortId(f.port)) : Status::Ok();
  }
  Status operator()(const fault::LateWrites& f) {
    if (!Valid(m, f.port, 0)) return NoSuch(m, f.port, 0);
    return t ? t->SetLateWrites(m.PortId(f.port), f.count, f.delay) : Status::Ok();
  }
  // Behind the target's back: straight into the namespace's file.
  Status operator()(const fault::LoseData& f) {
    if (!Valid(m, 0, f.ns)) return NoSuch(m, 0, f.ns);
    const std::string& file = m.ns[f.ns].file;
    if (file.empty()) return Status(Code::kUnsupported, "only a file namespace can lose data");
    std::vector<uint8_t> zeroes(static_cast<size_t>(f.blocks) * m.block_size, 0);
    int fd = ::open(file.c_str(), O_WRONLY);
    if (fd < 0) return ErrnoStatus("open " + file, errno);
    ssize_t n = ::pwrite(fd, zeroes.data(), zeroes.size(), static_cast<off_t>(f.lba * m.block_size));
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(zeroes.size())) return ErrnoStatus("pwrite " + file, err);
    return Status::Ok();
  }
  Status operator()(const fault::Checkpoint&) { return Status::Ok(); }
  Status NotTheTargets(const Fault& f) {
    return Status(Code::kUnsupported,
                  fmt::format("\"{}\" is not the target's to play", Describe(f)));
  }
  Status operator()(const fault::LinkCut& f) { return NotTheTargets(f); }
  Status operator()(const fault::LinkRefuse& f) { return NotTheTargets(f); }
  Status operator()(const fault::LinkStall& f) { return NotTheTargets(f); }
  Status operator()(const fault::LinkLatency& f) { return NotTheTargets(f); }
  Status operator()(const fault::LinkDown& f) { return NotTheTargets(f); }
  Status operator()(const fault::LinkRate& f) { return NotTheTargets(f); }
  Status operator()(const fault::LinkChunking& f) { return NotTheTargets(f); }
  Status operator()(const fault::TargetKill& f) { return NotTheTargets(f); }
  Status operator()(const fault::HostPolicy& f) { return NotTheTargets(f); }
  Status operator()(const fault::TargetRestart& f) { return NotTheTargets(f); }
};

// The target's control methods the applier calls, said as `nvmpath target`'s JSON-RPC methods
// (target/control/target_methods.cc) instead of called.
class RpcRecorder {
 public:
  explicit RpcRecorder(std::vector<TargetRpc>* out) : out_(out) {}

  Status SetPortEnabled(uint16_t port, bool enabled) {
    return Say(enabled ? "port_enable" : "port_disable", {{"port", port}});
  }
  Status SetAnaState(uint16_t port, uint32_t group, nvme::AnaState state) {
    return Say("ana_set", {{"port", port},
                           {"group", group},
                           {"state", std::string(target::control::AnaStateConfigName(state))}});
  }
  Status SetNamespaceAttached(const std::string& subnqn, uint32_t nsid, uint16_t port,
                              bool attached) {
    return Say(attached ? "ns_attach" : "ns_detach",
               {{"subsystem", subnqn}, {"nsid", nsid}, {"port", port}});
  }
  Status RemoveNamespace(const std::string& subnqn, uint32_t nsid) {
    return Say("ns_remove", {{"subsystem", subnqn}, {"nsid", nsid}});
  }
  Status AddNamespace(const std::string& subnqn, const target::NamespaceConfig& ns) {
    return Say("ns_add", {{"subsystem", subnqn}, {"namespace", target::control::ToJson(ns)}});
  }
  Status ResizeNamespace(const std::string& subnqn, uint32_t nsid, uint64_t size_bytes) {
    return Say("ns_resize", {{"subsystem", subnqn}, {"nsid", nsid}, {"size", size_bytes}});
  }
  Status FailNext(const target::FailNextSpec& spec) {
    nlohmann::json p = {{"count", spec.count},
                        {"status", spec.status.code()},
                        {"dnr", spec.status.dnr()}};
    if (spec.opcode) p["opcode"] = *spec.opcode;
    if (spec.port_id) p["port"] = *spec.port_id;
    if (spec.nsid) p["nsid"] = *spec.nsid;
    return Say("fail_next", std::move(p));
  }
  Status SetStalled(uint16_t port, bool on) { return Say("stall", {{"port", port}, {"on", on}}); }
  Status SetResponseDelay(uint16_t port, Duration delay) {
    return Say("delay", {{"port", port}, {"ms", Ms(delay)}});
  }
  Status DropConnections(uint16_t port) { return Say("port_drop", {{"port", port}}); }
  Status SetLateWrites(uint16_t port, uint32_t count, Duration delay) {
    return Say("late_writes", {{"port", port}, {"count", count}, {"delay_ms", Ms(delay)}});
  }

 private:
  static uint64_t Ms(Duration d) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  }
  Status Say(const char* method, nlohmann::json params) {
    out_->push_back({method, std::move(params)});
    return Status::Ok();
  }
  std::vector<TargetRpc>* out_;
};

struct NetworkApplier {
  reactor::SimNetwork& net;
  const TargetModel& m;

  bool Bad(int p) const { return p < 0 || p >= m.ports(); }
  Status operator()(const fault::LinkCut& f) {
    if (Bad(f.port)) return NoSuch(m, f.port, 0);
    net.Cut(m.address, m.tcp_ports[f.port]);
    return Status::Ok();
  }
  Status operator()(const fault::LinkRefuse& f) {
    if (Bad(f.port)) return NoSuch(m, f.port, 0);
    net.SetRefuse(m.address, m.tcp_ports[f.port], f.refuse);
    return Status::Ok();
  }
  Status operator()(const fault::LinkStall& f) {
    if (Bad(f.port)) return NoSuch(m, f.port, 0);
    net.Stall(m.address, m.tcp_ports[f.port], f.stalled);
    return Status::Ok();
  }
  Status operator()(const fault::LinkLatency& f) {
    if (Bad(f.port)) return NoSuch(m, f.port, 0);
    net.SetLatency(m.address, m.tcp_ports[f.port], f.latency);
    return Status::Ok();
  }
  // No carrier: the simulated link holds every byte and refuses connects until it is back.
  Status operator()(const fault::LinkDown& f) {
    if (Bad(f.port)) return NoSuch(m, f.port, 0);
    net.Stall(m.address, m.tcp_ports[f.port], f.down);
    net.SetRefuse(m.address, m.tcp_ports[f.port], f.down);
    return Status::Ok();
  }
  Status operator()(const fault::LinkChunking& f) {
    net.SetChunking(f.chunked);
    return Status::Ok();
  }
  template <typename F>
  Status operator()(const F& f) {
    return Status(Code::kUnsupported,
                  fmt::format("\"{}\" is not the network's to play", Describe(Fault(f))));
  }
};

}  // namespace

TargetModel TargetModel::Make(std::string subnqn, int ports, uint16_t first_tcp_port,
                              int namespaces, uint64_t size_bytes, std::vector<std::string> files,
                              nvme::AnaState state) {
  TargetModel m;
  m.subnqn = std::move(subnqn);
  for (int p = 0; p < ports; ++p) {
    m.tcp_ports.push_back(first_tcp_port == 0 ? 0 : static_cast<uint16_t>(first_tcp_port + p));
    m.enabled.push_back(true);
  }
  for (int h = 0; h < namespaces; ++h) {
    Namespace ns;
    ns.size_bytes = size_bytes;
    if (static_cast<size_t>(h) < files.size()) ns.file = files[h];
    ns.attached.assign(ports, true);
    m.ns.push_back(std::move(ns));
  }
  m.ana.assign(ports, std::vector<nvme::AnaState>(namespaces, state));
  m.healed_ana = m.ana;
  return m;
}

target::NamespaceConfig TargetModel::NsConfig(int h, bool fresh) const {
  target::NamespaceConfig c;
  c.nsid = Nsid(h);
  c.size_bytes = ns[h].size_bytes;
  c.block_size = block_size;
  c.ana_group = Group(h);
  if (!fresh && !ns[h].file.empty()) {
    c.backend = target::BackendKind::kFile;
    c.path = ns[h].file;
  }
  if (const uint32_t id = ns[h].identity; id != 0) {
    // Distinct for every (namespace, identity); the UUID is a version 4, variant 1 one.
    std::array<uint8_t, 16> bytes{};
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<uint8_t>(id >> (24 - 8 * i));
    bytes[4] = static_cast<uint8_t>(h + 1);
    bytes[5] = 0x5A;
    c.nguid = bytes;
    std::array<uint8_t, 16> uuid = bytes;
    uuid[6] = 0x40 | (uuid[6] & 0x0F);
    uuid[8] = 0x80 | (uuid[8] & 0x3F);
    uuid[15] = 0xA5;
    c.uuid = uuid;
    std::array<uint8_t, 8> eui{};
    std::copy(bytes.begin(), bytes.begin() + 8, eui.begin());
    eui[7] = 0xE1;
    c.eui64 = eui;
  }
  return c;
}

target::TargetConfig TargetModel::Config() const {
  target::TargetConfig c;
  for (int p = 0; p < ports(); ++p) {
    c.ports.push_back({.id = PortId(p),
                       .address = port_addresses.empty() ? address : port_addresses[p],
                       .port = tcp_ports[p],
                       .enabled = enabled[p]});
    for (int h = 0; h < namespaces(); ++h) {
      c.ana.push_back({.port_id = PortId(p), .group = Group(h), .state = ana[p][h]});
    }
  }
  target::SubsystemConfig s;
  s.nqn = subnqn;
  s.serial = serial;
  for (int h = 0; h < namespaces(); ++h) {
    if (ns[h].present) s.namespaces.push_back(NsConfig(h));
  }
  c.subsystems.push_back(s);
  c.cqt = cqt;
  return c;
}

void TargetModel::Heal() {
  for (int p = 0; p < ports(); ++p) enabled[p] = true;
  for (Namespace& n : ns) n.attached.assign(ports(), true);
  ana = healed_ana;
}

Status HealTarget(target::Target& t, const TargetModel& m) {
  Status first = Status::Ok();
  auto keep = [&](Status st) {
    if (first.ok() && !st.ok()) first = std::move(st);
  };
  keep(t.SetStalled(std::nullopt, false));
  keep(t.SetResponseDelay(std::nullopt, Duration(0)));
  for (int p = 0; p < m.ports(); ++p) {
    keep(t.SetStalled(m.PortId(p), false));
    keep(t.SetResponseDelay(m.PortId(p), Duration(0)));
    keep(t.SetPortEnabled(m.PortId(p), true));
    keep(t.SetLateWrites(m.PortId(p), 0, Duration(0)));
    for (int h = 0; h < m.namespaces(); ++h) {
      keep(t.SetAnaState(m.PortId(p), m.Group(h), m.ana[p][h]));
    }
  }
  for (int h = 0; h < m.namespaces(); ++h) {
    for (int p = 0; p < m.ports(); ++p) {
      keep(t.SetNamespaceAttached(m.subnqn, m.Nsid(h), m.PortId(p), true));
    }
  }
  return first;
}

Status ApplyToTarget(target::Target* target, TargetModel& model, const Fault& fault) {
  return std::visit(TargetApplier<target::Target>{target, model}, fault);
}

Result<std::vector<TargetRpc>> FaultToRpc(TargetModel& model, const Fault& fault) {
  std::vector<TargetRpc> calls;
  RpcRecorder recorder(&calls);
  NVMP_RETURN_IF_ERROR(std::visit(TargetApplier<RpcRecorder>{&recorder, model}, fault));
  return calls;
}

bool IsLinkFault(const Fault& f) {
  return std::holds_alternative<fault::LinkCut>(f) || std::holds_alternative<fault::LinkRefuse>(f) ||
         std::holds_alternative<fault::LinkStall>(f) ||
         std::holds_alternative<fault::LinkLatency>(f) ||
         std::holds_alternative<fault::LinkDown>(f) || std::holds_alternative<fault::LinkRate>(f) ||
         std::holds_alternative<fault::LinkChunking>(f);
}

Status ApplyToNetwork(reactor::SimNetwork& net, const TargetModel& model, const Fault& fault) {
  return std::visit(NetworkApplier{net, model}, fault);
}

}  // namespace nvmpath::sim
