// target::ConnectionTable — the open connections of every port, and the closed ones waiting to be
// destroyed. A connection is never destroyed inside its own callbacks: closing moves it to the
// closed list, and a posted task destroys it.
//
// Thread: reactors[0]. Tasks and timers outliving the table do nothing.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "reactor/reactor.h"

namespace nvmpath::target {

class Connection;
class Core;

class ConnectionTable {
 public:
  using Map = std::map<uint64_t, std::shared_ptr<Connection>>;

  explicit ConnectionTable(reactor::Reactor* r) : reactor_(r) {}

  // Makes a connection for an accepted stream and starts it.
  void Accept(Core* core, uint16_t port_id, std::unique_ptr<reactor::Stream> stream);
  // Moves a closed connection to the closed list; a posted task destroys it.
  void Retire(const Connection& conn);
  // Destroys the closed connections (outside their callbacks).
  void Reap();
  // Closes the connections of one port (every port if none); each then retires itself.
  void Close(std::optional<uint16_t> port_id, std::string_view why);
  // Emits the responses a stall held back, on every connection.
  void ReleaseHeld();
  size_t count(uint16_t port_id) const;
  const Map& open() const { return open_; }

 private:
  reactor::Reactor* const reactor_;
  Map open_;
  std::vector<std::shared_ptr<Connection>> closed_;
  bool reap_posted_ = false;
  uint64_t next_id_ = 1;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted tasks hold a weak_ptr to it
};

}  // namespace nvmpath::target
