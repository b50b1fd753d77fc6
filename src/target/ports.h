// target::PortTable — the target's TCP ports: their configuration and, while enabled, their
// listeners. A port ID names the port in the discovery log and in control calls.
//
// Thread: reactors[0]; listeners are made on, and accept on, the reactor given to Start.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "target/config.h"

namespace nvmpath::target {

struct PortState {
  PortConfig config;
  std::unique_ptr<reactor::Listener> listener;
};

class PortTable {
 public:
  // Hands an accepted stream to its owner, with the ID of the port it arrived on.
  using OnAccept = std::function<void(uint16_t port_id, std::unique_ptr<reactor::Stream> stream)>;

  explicit PortTable(const std::vector<PortConfig>& ports);

  PortState* Find(uint16_t port_id);
  bool Has(uint16_t port_id) const { return ports_.count(port_id) != 0; }
  const std::map<uint16_t, PortState>& all() const { return ports_; }

  // Listens on the port. A port configured as 0 keeps the port the kernel picked, so disabling
  // and re-enabling it brings it back where its hosts reconnect to.
  // Errors: the reactor's ("port 2 (127.0.0.1:4421): address in use").
  Status Start(PortState& port, reactor::Reactor& r, const OnAccept& on_accept);
  // Starts every enabled port; on an error none is left listening.
  Status StartAll(reactor::Reactor& r, const OnAccept& on_accept);
  void CloseListeners();

 private:
  std::map<uint16_t, PortState> ports_;
};

}  // namespace nvmpath::target
