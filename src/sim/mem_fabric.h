// sim::MemFabric — the scenario model of in-process paths: heads over sim::MemPaths on
// reactor::Sim, one MemNamespace per head reached through one MemPath per port, laid out like
// blktests nvme/058 (optimized behind port 0, non-optimized behind port 1, inaccessible behind the
// rest). Faults (fault.h) map onto the paths' fault controls: an ANA change is the target-side
// state (the host notices later); a namespace detached behind a port answers Invalid Namespace
// and the host's rescan removes the path some time later, racing new I/O to it (seed 001); a
// dropped connection loses the controllers behind the port and they reconnect after a while;
// stalls and delays act on every path behind the port. Link and target faults have no meaning
// here and are refused. It runs a remap storm in tens of microseconds of wall time per event,
// which is why it stays beside the real target over the simulated network (tcp_fabric.h).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "reactor/sim.h"
#include "reactor/sim_random.h"
#include "sim/fabric.h"
#include "sim/mem_path.h"

namespace nvmpath::sim {

struct MemFabricOptions {
  uint64_t seed = 1;
  int heads = 2;
  int ports = 3;
  int reactors = 2;  // host reactors
  uint64_t blocks = 128;
  uint32_t block_size = 512;
  // Give every path a bug on purpose, to show the checks catch it (tests only).
  MemPathFault TEST_fault = MemPathFault::kNone;
};

class MemFabric final : public Fabric {
 public:
  explicit MemFabric(const MemFabricOptions& options);
  ~MemFabric() override;

  TimePoint now() const override { return world_.now(); }
  bool RunUntil(const std::function<bool()>& done, Duration limit) override;
  Status Start() override;
  std::vector<mpath::Head*> heads() const override;
  std::vector<reactor::Reactor*> host_reactors() const override { return reactors_; }
  Status Apply(const Fault& fault) override;
  void CheckAfterEvent(InvariantChecker& checker) override;
  Status Heal() override;
  bool AllPathsBack() const override;
  std::string DescribePaths() const override;
  void AddTotals(ScenarioReport& report) override;
  Status Stop() override;

 private:
  struct Port {
    std::unique_ptr<MemPath> path;  // null while the namespace is not mapped behind the port
    nvme::AnaState ana = nvme::AnaState::kOptimized;  // the target-side state of the group
    Duration latency{0};                              // the path's own latency
    bool removing = false;   // detached; the host's rescan has not removed the path yet
    bool reattach = false;   // attach again once the removal is done
    bool ctrl_lost = false;
    bool stalled = false;
  };
  struct HeadRig {
    std::unique_ptr<MemNamespace> ns;
    std::unique_ptr<mpath::Head> head;
    std::vector<Port> ports;
  };
  struct Applier;

  reactor::Reactor& home() { return *reactors_[0]; }
  // Runs `fn` on the home reactor (where every head and path control runs) and waits for it.
  Status OnHome(const std::function<Status()>& fn);
  void NewPath(int h, int p);
  void Detach(int h, int p);
  void Attach(int h, int p);
  void LoseController(int h, int p);

  MemFabricOptions o_;
  reactor::SimWorld world_;
  reactor::SimRandom rng_;
  std::vector<reactor::Reactor*> reactors_;
  std::vector<HeadRig> heads_;
  std::vector<std::unique_ptr<MemPath>> graveyard_;  // removed paths, destroyed at the end
  int pending_drains_ = 0;
  bool spinning_ = false;
};

}  // namespace nvmpath::sim
