// sim::Fabric — what a scenario runs on: the model that owns the heads, the paths under them and
// whatever plays the faults, and the clock that drives them. The runner (runner.h) knows only
// this interface, so a fault is written once (fault.h) and plays on every model:
//   MemFabric (mem_fabric.h)   heads over in-process MemPaths, on reactor::Sim;
//   TcpFabric (tcp_fabric.h)   the real target and the multipath host over the simulated network;
//   the demo's fabric (cli/demo_tcp.cc)  the real target on its own io_uring thread and the host
//                              over real NVMe/TCP on 127.0.0.1, in real time;
//   e2e::ProcessFabric (tests/e2e/process_fabric.h)  `nvmpath target` as a child process (in a
//                              network namespace, for the link tests) and the host, in real time.
//
// Threads: every method is called from the thread that drives the model, outside any reactor
// callback; a fabric posts what must run on a reactor and runs the model until it has.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/time.h"
#include "mpath/head.h"
#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "sim/fault.h"
#include "sim/invariants.h"

namespace nvmpath::sim {

struct ScenarioReport;

class Fabric {
 public:
  virtual ~Fabric() = default;

  // ---- the clock ----
  virtual TimePoint now() const = 0;
  // Runs the model until `done` is true or `limit` has passed; false on the limit (or when the
  // model spins without time passing: a livelock).
  virtual bool RunUntil(const std::function<bool()>& done, Duration limit) = 0;

  // ---- the model ----
  // Builds and starts it; OK when every head has a usable path.
  virtual Status Start() = 0;
  // The heads (one per namespace) and the host reactors the workloads run on.
  virtual std::vector<mpath::Head*> heads() const = 0;
  virtual std::vector<reactor::Reactor*> host_reactors() const = 0;
  // Plays `fault` now. Not OK: the model could not play it (a control call refused, a fault this
  // model does not have) — the status names which.
  virtual Status Apply(const Fault& fault) = 0;
  // After every event: checks only this model can make (QoS tickets of its paths).
  virtual void CheckAfterEvent(InvariantChecker& checker) { (void)checker; }
  // Undoes every fault: every port enabled and live, every namespace present and attached, the
  // healed ANA layout, clean links. The paths come back some time later (AllPathsBack).
  virtual Status Heal() = 0;
  // Every path of every head is back: live, ready, in the ANA state the model gives it.
  virtual bool AllPathsBack() const = 0;
  virtual std::string DescribePaths() const = 0;
  // Adds the model's own totals (failovers, associations, restarts, ...) to `report`.
  virtual void AddTotals(ScenarioReport& report) = 0;
  // Stops the host and the model. Not OK: something hung; the fabric must then not be destroyed
  // (the caller keeps it for the life of the process).
  virtual Status Stop() = 0;
};

}  // namespace nvmpath::sim
