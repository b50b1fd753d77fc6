// target::Target — the userspace NVMe/TCP target: subsystems, namespaces, ports, ANA groups, and
// run-time control with fault injection (shared/DESIGN.md "The target").
//
// THIS FILE IS THE CONTRACT between the target core (target.cc and the files it uses) and its
// control plane (the JSON config parser, the JSON-RPC control socket, `nvmpath target` and
// `nvmpath target-ctl`). The declarations below are fixed; the private section and the
// implementation belong to the target core.
//
// Threads: a Target runs on the reactors given to Create; reactors[0] is the control reactor.
// Every control method must be called on reactors[0] (post to it from other threads). Today every
// port listens and every connection runs on reactors[0] too, so the model needs no sharing; the
// other reactors are accepted for a later spreading of connections (docs/ARCHITECTURE.md,
// "The target").
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvme/status.h"
#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "target/config.h"

namespace nvmpath::target {

struct FailNextSpec {
  uint32_t count = 1;
  nvme::NvmeStatus status;               // what those commands complete with
  std::optional<uint8_t> opcode;         // only I/O commands with this opcode
  std::optional<uint16_t> port_id;       // only commands that arrive through this port
  std::optional<uint32_t> nsid;
};

class Target {
 public:
  // Validates the config (errors name the field: "subsystems[0].namespaces[1].nsid: 0 is not a
  // valid NSID") and builds the target; nothing listens yet.
  static Result<std::unique_ptr<Target>> Create(TargetConfig config,
                                                std::vector<reactor::Reactor*> reactors);
  ~Target();

  // Binds every enabled port ("port 2 (127.0.0.1:4421): address in use"). A host name is looked
  // up here (and whenever its port starts again).
  Status Start();
  // Closes every port and connection; `done` runs on reactors[0] when all are gone.
  void Stop(std::function<void()> done);

  // The bound TCP port of a port ID (useful with port 0), or 0 if it is not listening.
  uint16_t BoundPort(uint16_t port_id) const;

  // ---- control (reactors[0]) ----
  Status AddNamespace(std::string_view subnqn, const NamespaceConfig& ns);   // AEN to hosts
  Status RemoveNamespace(std::string_view subnqn, uint32_t nsid);           // AEN to hosts
  Status ResizeNamespace(std::string_view subnqn, uint32_t nsid, uint64_t size_bytes);
  // Detaches the namespace from (or re-attaches it to) the controllers of one port: through that
  // port it is inactive (not listed, Identify zeroes, I/O gets Invalid Namespace) while every
  // other port serves it unchanged. AEN to the port's hosts. Added after the contract was first
  // fixed, for "namespace removed and re-added behind one port" (issues 4 and 5).
  Status SetNamespaceAttached(std::string_view subnqn, uint32_t nsid, uint16_t port_id,
                              bool attached);
  Status SetAnaState(uint16_t port_id, uint32_t group, nvme::AnaState state);  // ANA AEN
  Status SetPortEnabled(uint16_t port_id, bool enabled);  // disabling drops its connections
  Status DropConnections(uint16_t port_id);
  // Adds a port at run time and starts it (if enabled); every subsystem is served through it, its
  // ANA groups in `ana_state` (default optimized). Removing a port closes its listener and ends
  // the controllers and connections on it, as Linux nvmet does when a port is unlinked. Both
  // raise a Discovery Log Page Change notice on the discovery controllers. Added after the
  // contract was first fixed (issue 14). Errors: "port 3 exists (...)", "address ... is already
  // used by port 1", the listener's ("port 3 (...): ... address in use"), a bad or unresolvable
  // address; kNotFound "port 9".
  Status AddPort(const PortConfig& port, std::optional<nvme::AnaState> ana_state = std::nullopt);
  Status RemovePort(uint16_t port_id);
  // Responses (completions and read data) through the port (all ports if none) are held back by
  // `delay`; with `stalled` they are held until un-stalled.
  Status SetResponseDelay(std::optional<uint16_t> port_id, Duration delay);
  Status SetStalled(std::optional<uint16_t> port_id, bool stalled);
  Status FailNext(const FailNextSpec& spec);
  // The next `count` writes arriving through `port_id` are not executed when they arrive but
  // `delay` after their connection has closed — a controller executing a stale write, which is
  // what host-side fencing (CQT) must defend against.
  Status SetLateWrites(uint16_t port_id, uint32_t count, Duration delay);

  // The whole state: ports (bound address, enabled, connections), subsystems, namespaces (size,
  // backend, ANA group), ANA states per port, controllers, active faults.
  nlohmann::json DescribeState() const;

 private:
  Target() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nvmpath::target
