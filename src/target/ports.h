// target::PortTable — the target's TCP ports: their configuration and, while enabled, their
// listeners. A port ID names the port in the discovery log and in control calls. Ports come from
// the config and may be added and removed at run time.
//
// Addresses: a numeric IPv4 or IPv6 address, or a host name, which is looked up each time the
// port starts; the port listens on the first of its addresses that binds, and that numeric
// address is what the discovery log reports (hosts connect to numeric addresses).
//
// Thread: reactors[0]; listeners are made on, and accept on, the reactor given to Start.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "target/config.h"

namespace nvmpath::target {

struct PortState {
  PortConfig config;
  std::unique_ptr<reactor::Listener> listener;
  std::string listen_address;  // the numeric address bound; empty while not listening
};

class PortTable {
 public:
  // Hands an accepted stream to its owner, with the ID of the port it arrived on.
  using OnAccept = std::function<void(uint16_t port_id, std::unique_ptr<reactor::Stream> stream)>;

  explicit PortTable(const std::vector<PortConfig>& ports);

  PortState* Find(uint16_t port_id);
  const PortState* Find(uint16_t port_id) const;
  bool Has(uint16_t port_id) const { return ports_.count(port_id) != 0; }
  const std::map<uint16_t, PortState>& all() const { return ports_; }

  // Listens on the port. A port configured as 0 keeps the port the kernel picked, so disabling
  // and re-enabling it brings it back where its hosts reconnect to.
  // Errors: the address is not valid or does not resolve; the reactor's ("port 2
  // (127.0.0.1:4421): ... address in use"), all naming the port.
  Status Start(PortState& port, reactor::Reactor& r, const OnAccept& on_accept);
  // Starts every enabled port; on an error none is left listening.
  Status StartAll(reactor::Reactor& r, const OnAccept& on_accept);
  void Stop(PortState& port);
  void CloseListeners();

  // Adds a port (not started). Errors: kInvalidArgument (ID 0, bad address); kAlreadyExists
  // ("port 3 exists (127.0.0.1:4422)", or another port has the same address and TCP port).
  Result<PortState*> Add(const PortConfig& config);
  // Removes a port (its listener closes). REQUIRES: Has(port_id).
  void Remove(uint16_t port_id);

 private:
  std::map<uint16_t, PortState> ports_;
};

}  // namespace nvmpath::target
