// The discovery log page (LID 70h): one entry per enabled port of every NVM subsystem the host
// may connect to, plus the discovery subsystem itself through the port the host used (SUBTYPE 3,
// "current discovery subsystem", as Linux nvmet reports it).
#include "nvme/discovery_log.h"
#include "target/commands.h"
#include "target/port_address.h"

namespace nvmpath::target {
namespace {

nvme::DiscoveryLogEntry Entry(const PortConfig& port, const std::string& nqn, uint8_t subtype,
                              uint16_t asqsz) {
  nvme::DiscoveryLogEntry e;
  e.trtype = nvme::kTrtypeTcp;
  e.adrfam = IsIpv6Address(port.address) ? nvme::kAdrfamIpv6 : nvme::kAdrfamIpv4;
  e.subtype = subtype;
  e.treq = nvme::kTreqNotRequired;  // no secure channel
  e.portid = port.id;
  e.cntlid = 0xFFFF;                // dynamic controller model
  e.asqsz = asqsz;
  e.trsvcid = std::to_string(port.port);
  e.subnqn = nqn;
  e.traddr = port.address;
  // TSAS for TCP: SECTYPE 0 (no security), all other bytes reserved.
  return e;
}

}  // namespace

std::vector<uint8_t> BuildDiscoveryLog(Core& core, uint16_t port_id, std::string_view hostnqn) {
  nvme::DiscoveryLog log;
  log.genctr = core.genctr();
  const uint16_t asqsz = AdminQueueEntriesMax(core.config());
  const auto& ports = core.ports().all();
  // The bound address and port (a host name and a config port of 0 mean "look it up" and "any"),
  // so the entry names a reachable service.
  auto bound = [](const PortState& p) {
    PortConfig c = p.config;
    if (p.listener) {
      c.port = p.listener->port();
      c.address = p.listen_address;
    }
    return c;
  };
  auto self = ports.find(port_id);
  if (self != ports.end()) {
    log.entries.push_back(Entry(bound(self->second), core.config().discovery_nqn,
                                nvme::kSubtypeCurrentDiscovery, asqsz));
  }
  for (const auto& [nqn, subsys] : core.model().subsystems()) {
    if (!subsys->HostAllowed(hostnqn)) continue;
    for (const auto& [id, port] : ports) {
      if (!port.config.enabled) continue;
      log.entries.push_back(Entry(bound(port), nqn, nvme::kSubtypeNvm, asqsz));
    }
  }
  return log.Encode();
}

}  // namespace nvmpath::target
