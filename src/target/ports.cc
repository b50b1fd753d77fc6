#include "target/ports.h"

#include <string>

namespace nvmpath::target {

PortTable::PortTable(const std::vector<PortConfig>& ports) {
  for (const auto& p : ports) ports_[p.id].config = p;
}

PortState* PortTable::Find(uint16_t port_id) {
  auto it = ports_.find(port_id);
  return it == ports_.end() ? nullptr : &it->second;
}

Status PortTable::Start(PortState& port, reactor::Reactor& r, const OnAccept& on_accept) {
  const uint16_t id = port.config.id;
  auto l = r.Listen(
      port.config.address, port.config.port,
      [on_accept, id](std::unique_ptr<reactor::Stream> s) { on_accept(id, std::move(s)); });
  if (!l.ok()) {
    return l.status().WithContext("port " + std::to_string(id) + " (" + port.config.address + ":" +
                                  std::to_string(port.config.port) + ")");
  }
  port.listener = std::move(*l);
  if (port.config.port == 0) port.config.port = port.listener->port();
  return Status::Ok();
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

void PortTable::CloseListeners() {
  for (auto& [id, port] : ports_) port.listener.reset();
}

}  // namespace nvmpath::target
