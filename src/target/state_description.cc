#include "target/state_description.h"

#include <set>

#include "target/connection.h"

namespace nvmpath::target {
namespace {

using nlohmann::json;

json ConnectionsOf(const Core& core, uint16_t port_id) {
  json conns = json::array();
  for (const auto& [cid, c] : core.connections().open()) {
    if (c->port_id() != port_id) continue;
    conns.push_back({{"id", cid},
                     {"peer", c->description()},
                     {"state", ConnectionStateName(c->state())},
                     {"qid", c->qid()},
                     {"cntlid", c->controller() ? c->controller()->cntlid() : 0},
                     {"outstanding", c->outstanding()},
                     {"late_writes", c->late_writes()}});
  }
  return conns;
}

json Ports(const Core& core) {
  // Every group some port has a state for or some namespace is in.
  std::set<uint32_t> groups = core.ana().ConfiguredGroups();
  for (const auto& [nqn, s] : core.model().subsystems()) {
    for (const auto& [nsid, ns] : s->namespaces()) groups.insert(ns->config.ana_group);
  }
  json ports = json::array();
  for (const auto& [id, p] : core.ports().all()) {
    json ana = json::array();
    for (uint32_t g : groups) {
      ana.push_back({{"group", g}, {"state", nvme::AnaStateName(core.ana().StateFor(id, g))}});
    }
    ports.push_back({{"id", id},
                     {"address", p.config.address},
                     {"port", p.config.port},
                     {"bound_port", p.listener ? p.listener->port() : 0},
                     {"listen_address", p.listen_address},
                     {"enabled", p.config.enabled},
                     {"connections", ConnectionsOf(core, id)},
                     {"ana", ana}});
  }
  return ports;
}

json Subsystems(const Core& core) {
  json subs = json::array();
  for (const auto& [nqn, s] : core.model().subsystems()) {
    json nss = json::array();
    for (const auto& [nsid, ns] : s->namespaces()) {
      nss.push_back({{"nsid", nsid},
                     {"size_bytes", ns->backend->size_bytes()},
                     {"block_size", ns->block_size()},
                     {"backend", ns->backend->kind_name()},
                     {"path", ns->config.path},
                     {"ana_group", ns->config.ana_group},
                     {"detached_ports", ns->detached_ports}});
    }
    subs.push_back({{"nqn", nqn},
                    {"serial", s->config().serial},
                    {"model", s->config().model},
                    {"allowed_hosts", s->config().allowed_hosts},
                    {"mdts_pages", s->config().mdts_pages},
                    {"namespaces", nss}});
  }
  return subs;
}

json Controllers(const Core& core) {
  json ctrls = json::array();
  for (const auto& [id, c] : core.controllers().all()) {
    json io = json::array();
    for (const auto& [qid, w] : c->io_queues) io.push_back(qid);
    ctrls.push_back({{"cntlid", id},
                     {"subnqn", c->subsystem()->nqn()},
                     {"hostnqn", c->hostnqn()},
                     {"port_id", c->port_id()},
                     {"state", ControllerStateName(c->state())},
                     {"kato_ms", c->kato_ms()},
                     {"io_queues", io},
                     {"aers_held", c->aers_held()}});
  }
  return ctrls;
}

}  // namespace

json DescribeState(const Core& core) {
  json j;
  j["ports"] = Ports(core);
  j["subsystems"] = Subsystems(core);
  j["controllers"] = Controllers(core);
  j["faults"] = core.faults().Describe();
  j["discovery_genctr"] = core.genctr();
  j["ana_change_count"] = core.ana().change_count();
  j["late_writes_executed"] = core.late_writes().executed();
  return j;
}

}  // namespace nvmpath::target
