#include "target/ports.h"

#include <string>

#include "base/assert.h"
#include "reactor/host_names.h"
#include "target/port_address.h"

namespace nvmpath::target {
namespace {

std::string Endpoint(const std::string& address, uint16_t port) {
  const bool v6 = IsIpv6Address(address);
  return (v6 ? "[" : "") + address + (v6 ? "]:" : ":") + std::to_string(port);
}

}  // namespace

PortTable::PortTable(const std::vector<PortConfig>& ports) {
  for (const auto& p : ports) {
    PortConfig& c = ports_[p.id].config = p;
    // Validated by Target::Create; brackets dropped so "[::1]" and "::1" are the same address.
    if (auto host = NormalizeHost(p.address); host.ok()) c.address = *host;
  }
}

PortState* PortTable::Find(uint16_t port_id) {
  auto it = ports_.find(port_id);
  return it == ports_.end() ? nullptr : &it->second;
}

const PortState* PortTable::Find(uint16_t port_id) const {
  auto it = ports_.find(port_id);
  return it == ports_.end() ? nullptr : &it->second;
}

Status PortTable::Start(PortState& port, reactor::Reactor& r, const OnAccept& on_accept) {
  const uint16_t id = port.config.id;
  const std::string where =
      "port " + std::to_string(id) + " (" + Endpoint(port.config.address, port.config.port) + ")";
  auto host = NormalizeHost(port.config.address);
  if (!host.ok()) return host.status().WithContext(where);
  auto addresses = reactor::ResolveHostName(*host);
  if (!addresses.ok()) return addresses.status().WithContext(where);
  Status last;
  for (const std::string& address : *addresses) {
    auto l = r.Listen(
        address, port.config.port,
        [on_accept, id](std::unique_ptr<reactor::Stream> s) { on_accept(id, std::move(s)); });
    if (!l.ok()) {
      last = l.status();
      continue;
    }
    port.listener = std::move(*l);
    port.listen_address = address;
    if (port.config.port == 0) port.config.port = port.listener->port();
    return Status::Ok();
  }
  return last.WithContext(where);
}

Status PortTable::StartAll(reactor::Reactor& r, const OnAccept& on_accept) {
  for (auto& [id, port] : ports_) {
    if (!port.config.enabled || port.listener) continue;
    Status s = Start(port, r, on_accept);
    if (!s.ok()) {
      CloseListeners();
      return s;
    }
  }
  return Status::Ok();
}

void PortTable::Stop(PortState& port) {
  port.listener.reset();
  port.listen_address.clear();
}

void PortTable::CloseListeners() {
  for (auto& [id, port] : ports_) Stop(port);
}

Result<PortState*> PortTable::Add(const PortConfig& config) {
  if (config.id == 0) return InvalidArgument("port: 0 is not a port ID (1..65535)");
  auto host = NormalizeHost(config.address);
  if (!host.ok()) return host.status().WithContext("address");
  if (const PortState* old = Find(config.id)) {
    return Status(Code::kAlreadyExists, "port " + std::to_string(config.id) + " exists (" +
                                            Endpoint(old->config.address, old->config.port) + ")");
  }
  for (const auto& [id, p] : ports_) {
    if (config.port != 0 && p.config.port == config.port && p.config.address == *host) {
      return Status(Code::kAlreadyExists, "address " + Endpoint(*host, config.port) +
                                              " is already used by port " + std::to_string(id));
    }
  }
  PortState& port = ports_[config.id];
  port.config = config;
  port.config.address = *host;
  return &port;
}

void PortTable::Remove(uint16_t port_id) {
  auto it = ports_.find(port_id);
  NVMP_ASSERT(it != ports_.end(), "removing a port that does not exist");
  ports_.erase(it);
}

}  // namespace nvmpath::target
