// target::Core — the wiring of the target's parts behind target::Target: the namespace model,
// ANA states, ports, controllers, connections, keep-alive, faults and late writes, each in its
// own file. Core holds them and does what crosses parts: a connection accepted on a port, an
// association ended with its queues, a change told to the controllers it concerns.
//
// Thread: everything here lives on reactors[0] (the control reactor). Connections run there too:
// a port listens on reactors[0] and the accepted streams belong to it, so the model is never
// read from another thread (docs/ARCHITECTURE.md "The target").
// Lifetime: held by shared_ptr; listener callbacks and posted tasks capture a weak_ptr, so one
// running after the Target is gone does nothing.
// Invariants: every controller's admin connection is live or the controller is gone; a
// connection bound to a controller appears in that controller's queue map.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "reactor/reactor.h"
#include "target/ana_states.h"
#include "target/config.h"
#include "target/connection_table.h"
#include "target/controller_table.h"
#include "target/faults.h"
#include "target/keep_alive.h"
#include "target/late_writes.h"
#include "target/namespace_model.h"
#include "target/ports.h"

namespace nvmpath::target {

class Connection;

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(TargetConfig config, std::vector<reactor::Reactor*> reactors);
  ~Core();

  const TargetConfig& config() const { return config_; }
  reactor::Reactor* reactor() const { return reactors_[0]; }

  // ---- the parts ----
  NamespaceModel& model() { return model_; }
  const NamespaceModel& model() const { return model_; }
  AnaStates& ana() { return ana_; }
  const AnaStates& ana() const { return ana_; }
  PortTable& ports() { return ports_; }
  const PortTable& ports() const { return ports_; }
  ControllerTable& controllers() { return controllers_; }
  const ControllerTable& controllers() const { return controllers_; }
  ConnectionTable& connections() { return connections_; }
  const ConnectionTable& connections() const { return connections_; }
  KeepAlive& keep_alive() { return keep_alive_; }
  Faults& faults() { return faults_; }
  const Faults& faults() const { return faults_; }
  LateWrites& late_writes() { return late_writes_; }
  const LateWrites& late_writes() const { return late_writes_; }
  // The discovery log's generation counter.
  uint64_t genctr() const { return genctr_; }

  // ---- ports and connections ----
  Status StartPorts();
  Status StartPort(PortState& port);
  // Called by a connection when it closed (any reason): ends its controller if it was the admin
  // queue, unbinds it, and retires it.
  void OnConnectionClosed(Connection& conn);

  // ---- associations ----
  // Ends the association: closes its queues' connections and destroys the controller.
  void DestroyController(uint16_t cntlid, std::string_view why);

  // ---- telling controllers about changes ----
  // The subsystem's controllers (only those on `port_id` if given) learn that `nsid` changed.
  void NamespaceChanged(Subsystem& subsystem, uint32_t nsid,
                        std::optional<uint16_t> port_id = std::nullopt);
  // The NVM controllers on `port_id` learn that an ANA state there changed.
  void AnaChanged(uint16_t port_id);
  // The discovery log changed: a new GENCTR, and a notice to every discovery controller.
  void DiscoveryChanged();

  // ---- stopping ----
  // Closes every port and connection; `done` runs after the closed connections are destroyed.
  void Stop(std::function<void()> done);
  // Closes everything at once (Target destructor); no callback runs afterwards.
  void Shutdown();

 private:
  PortTable::OnAccept AcceptInto();

  TargetConfig config_;
  std::vector<reactor::Reactor*> reactors_;
  NamespaceModel model_;
  AnaStates ana_;
  PortTable ports_;
  ControllerTable controllers_;
  ConnectionTable connections_;
  KeepAlive keep_alive_;
  Faults faults_;
  LateWrites late_writes_;
  uint64_t genctr_ = 1;
};

// The target's Identify Controller for `ctrl` (NVM or discovery), encoded (4096 B).
std::vector<uint8_t> BuildIdentifyController(const Core& core, const Controller& ctrl);

}  // namespace nvmpath::target
