// target::Core — the target's shared state behind target::Target: subsystems, ports, ANA states,
// controllers, connections and faults, plus what command handlers need from them.
//
// Thread: everything here lives on reactors[0] (the control reactor). Connections run there too:
// a port listens on reactors[0] and the accepted streams belong to it, so the model is never
// read from another thread (docs/ARCHITECTURE.md "The target").
// Lifetime: held by shared_ptr; timers capture a weak_ptr so a timer firing after the Target is
// gone does nothing. Connections are destroyed only from a posted task, never inside their own
// callbacks.
// Invariants: every controller's admin connection is live or the controller is gone; a
// connection bound to a controller appears in that controller's queue map.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvme/ana_log.h"
#include "nvme/identify.h"
#include "reactor/reactor.h"
#include "target/config.h"
#include "target/controller.h"
#include "target/faults.h"
#include "target/subsystem.h"

namespace nvmpath::target {

class Connection;

struct PortState {
  PortConfig config;
  std::unique_ptr<reactor::Listener> listener;
};

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(TargetConfig config, std::vector<reactor::Reactor*> reactors);
  ~Core();

  const TargetConfig& config() const { return config_; }
  reactor::Reactor* reactor() const { return reactors_[0]; }

  // ---- model ----
  Subsystem* FindSubsystem(std::string_view nqn);
  Subsystem& discovery() { return *discovery_; }
  std::map<std::string, std::unique_ptr<Subsystem>, std::less<>>& subsystems() {
    return subsystems_;
  }
  std::map<uint16_t, PortState>& ports() { return ports_; }
  nvme::AnaState AnaStateFor(uint16_t port_id, uint32_t group) const;
  // The ANA log of `subsystem` through `port_id`: every group with a namespace or a configured
  // state, NSIDs ascending.
  nvme::AnaLog BuildAnaLog(uint16_t port_id, const Subsystem& subsystem) const;
  uint64_t genctr() const { return genctr_; }
  Faults& faults() { return faults_; }

  // ---- controllers ----
  // Allocates a CNTLID (1..0xFFEF) and creates the controller; nullptr if none is free.
  Controller* CreateController(Subsystem* subsystem, uint16_t port_id, std::string hostnqn,
                               std::array<uint8_t, 16> hostid, uint32_t kato_ms);
  Controller* FindController(uint16_t cntlid);
  // (Re)arms the keep-alive timer from the controller's last activity.
  void ArmKeepAlive(Controller& ctrl);
  // Ends the association: closes its queues' connections and destroys it.
  void DestroyController(uint16_t cntlid, std::string_view why);
  // Raises `kind` on `ctrl` and completes held AERs with pending notices.
  void RaiseEvent(Controller& ctrl, EventKind kind);
  void DeliverEvents(Controller& ctrl);

  // ---- connections ----
  void Accept(uint16_t port_id, std::unique_ptr<reactor::Stream> stream);
  // Called by a connection when it closed (any reason); unbinds it and destroys it later.
  void OnConnectionClosed(Connection& conn);
  void CloseConnections(std::optional<uint16_t> port_id, std::string_view why);
  void ReleaseHeld();  // after a stall ends
  size_t connection_count(uint16_t port_id) const;

  // ---- control (Target's methods) ----
  Status StartPorts();
  Status StartPort(PortState& port);
  void Stop(std::function<void()> done);
  Status AddNamespace(std::string_view subnqn, const NamespaceConfig& ns);
  Status RemoveNamespace(std::string_view subnqn, uint32_t nsid);
  Status ResizeNamespace(std::string_view subnqn, uint32_t nsid, uint64_t size_bytes);
  Status SetNamespaceAttached(std::string_view subnqn, uint32_t nsid, uint16_t port_id,
                              bool attached);
  Status SetAnaState(uint16_t port_id, uint32_t group, nvme::AnaState state);
  Status SetPortEnabled(uint16_t port_id, bool enabled);
  // A late write runs `delay` from now against (subnqn, nsid), if the namespace still exists.
  void ScheduleLateWrite(std::string subnqn, uint32_t nsid, uint64_t offset,
                         std::vector<uint8_t> data, Duration delay);
  nlohmann::json Describe() const;

 private:
  // Tells the subsystem's controllers (only those on `port_id` if given) that `nsid` changed.
  void NamespaceChanged(Subsystem& subsystem, uint32_t nsid,
                        std::optional<uint16_t> port_id = std::nullopt);
  void DiscoveryChanged();
  void ReapClosed();

 public:
  // Closes everything at once (Target destructor); no callback runs afterwards.
  void Shutdown();
  uint64_t late_writes_done() const { return late_writes_done_; }

 private:

  TargetConfig config_;
  std::vector<reactor::Reactor*> reactors_;
  std::unique_ptr<Subsystem> discovery_;
  std::map<std::string, std::unique_ptr<Subsystem>, std::less<>> subsystems_;
  std::map<uint16_t, PortState> ports_;
  std::map<std::pair<uint16_t, uint32_t>, nvme::AnaState> ana_;
  uint64_t ana_chgcnt_ = 1;
  std::map<uint32_t, uint64_t> group_chgcnt_;
  uint64_t genctr_ = 1;
  Faults faults_;
  std::map<uint16_t, std::unique_ptr<Controller>> controllers_;
  uint16_t next_cntlid_ = 1;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_;
  std::vector<std::shared_ptr<Connection>> closed_;  // destroyed by a posted task
  bool reap_posted_ = false;
  uint64_t next_connection_id_ = 1;
  uint64_t late_writes_done_ = 0;
};

// The target's Identify Controller for `ctrl` (NVM or discovery), encoded (4096 B).
std::vector<uint8_t> BuildIdentifyController(const Core& core, const Controller& ctrl);

}  // namespace nvmpath::target
