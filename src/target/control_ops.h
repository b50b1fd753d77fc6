// target::ControlOps — the control operations behind target::Target's control methods (and so
// behind `nvmpath target-ctl`): each checks what only the running target knows (does the
// subsystem, namespace or port exist), changes the model, ports or faults, and has the core tell
// the controllers concerned.
//
// Thread: reactors[0], like every Target control method.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "nvmpath/status.h"
#include "target/core.h"
#include "target/target.h"

namespace nvmpath::target {

class ControlOps {
 public:
  explicit ControlOps(Core& core) : core_(core) {}

  // Namespaces (AEN to the hosts concerned). Errors: kNotFound naming the subsystem, namespace
  // or port; kAlreadyExists; kInvalidArgument naming the field; the backend's errors.
  Status AddNamespace(std::string_view subnqn, const NamespaceConfig& ns);
  Status RemoveNamespace(std::string_view subnqn, uint32_t nsid);
  Status ResizeNamespace(std::string_view subnqn, uint32_t nsid, uint64_t size_bytes);
  Status SetNamespaceAttached(std::string_view subnqn, uint32_t nsid, uint16_t port_id,
                              bool attached);
  // ANA (AEN to the port's NVM controllers). Errors: kNotFound (port), kInvalidArgument (group).
  Status SetAnaState(uint16_t port_id, uint32_t group, nvme::AnaState state);

  // Ports. Errors: kNotFound (port); the listener's error when enabling.
  Status SetPortEnabled(uint16_t port_id, bool enabled);
  Status DropConnections(uint16_t port_id);
  // Adds a port and starts it if enabled; its groups take `ana_state` (default optimized).
  // Discovery controllers get a Discovery Log Page Change notice. Errors: PortTable::Add's and
  // Start's (nothing is left behind after one).
  Status AddPort(const PortConfig& port, std::optional<nvme::AnaState> ana_state);
  // Removes a port: its listener closes, the controllers on it end and its connections close
  // (as Linux nvmet does when a port is unlinked), and everything the port named is forgotten
  // (ANA states, detached namespaces, faults). Discovery controllers get the notice.
  // Errors: kNotFound (port).
  Status RemovePort(uint16_t port_id);

  // Faults. Errors: kNotFound (port), kInvalidArgument naming the field.
  Status SetResponseDelay(std::optional<uint16_t> port_id, Duration delay);
  Status SetStalled(std::optional<uint16_t> port_id, bool stalled);
  Status FailNext(const FailNextSpec& spec);
  Status SetLateWrites(uint16_t port_id, uint32_t count, Duration delay);

 private:
  Status CheckPort(std::optional<uint16_t> port_id) const;

  Core& core_;
};

}  // namespace nvmpath::target
