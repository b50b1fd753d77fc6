// sim::TcpFabric — the scenario model with the real thing under it: target::Target (one reactor,
// file-backed namespaces in a fresh directory under $TMPDIR, so their data survives a restart)
// and mpath::MultipathHost (its controllers, namespace scans and heads on `reactors` reactors),
// joined by reactor::Sim's simulated network, in one SimWorld per seed. Target faults play
// through ApplyToTarget (target_faults.h), link faults through ApplyToNetwork; a killed target is
// stopped and destroyed with its commands unanswered (none of its timers runs again) and
// restarted from the model's config, on the same ports and files.
//
// Host timing is scaled down from Linux's defaults so faults play out in milliseconds of virtual
// time; the ratios keep Linux's order (I/O timeout < keep-alive < nothing gives up).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mpath/multipath_host.h"
#include "reactor/sim.h"
#include "reactor/sim_random.h"
#include "sim/fabric.h"
#include "sim/target_faults.h"
#include "target/target.h"

namespace nvmpath::sim {

// The target's Command Quiesce Time and the host's keep-alive and I/O timeouts.
inline constexpr Duration kTcpFabricCqt = std::chrono::milliseconds(3);
inline constexpr Duration kTcpFabricKato = std::chrono::milliseconds(20);
inline constexpr Duration kTcpFabricIoTimeout = std::chrono::milliseconds(8);

struct TcpFabricOptions {
  uint64_t seed = 1;
  int heads = 1;     // namespaces, 1..4, one ANA group each
  int ports = 2;     // target ports (paths per head), 2..4
  int reactors = 2;  // host reactors
  uint64_t blocks = 128;
  uint32_t block_size = 512;
  Duration link_latency = std::chrono::microseconds(40);  // one way, every link
  // ANA: namespace h optimized behind port h % ports, non-optimized behind the next, inaccessible
  // behind the rest (blktests nvme/058); healed: optimized behind h % ports, non-optimized
  // elsewhere.
  // The host's write fence (ControllerOptions::fence_delay); unset: KATO + CQT, which covers a
  // write held in a black-holed link.
  std::optional<Duration> fence_delay;
  // The host fails writes over without waiting for the fence (tests only).
  bool TEST_disable_write_fence = false;
  // QoS limits on every head and every path, drawn from the seed by a generator of their own (so
  // a seed's schedule does not change with them); at quiesce every limiter must have every
  // ticket back and nobody waiting (a violation otherwise).
  bool qos = true;
  // A test's own settings, applied after the fabric's: the target model (its CQT, say) before the
  // target starts, and the host's options (Linux-like timeouts, queueing, policy) before the host
  // starts. The ports, namespaces and their files stay the fabric's.
  std::function<void(TargetModel&)> adjust_model;
  std::function<void(mpath::MultipathHostOptions&)> adjust_host;
};

class TcpFabric final : public Fabric {
 public:
  explicit TcpFabric(const TcpFabricOptions& options);
  ~TcpFabric() override;

  TimePoint now() const override { return world_.now(); }
  bool RunUntil(const std::function<bool()>& done, Duration limit) override;
  Status Start() override;
  std::vector<mpath::Head*> heads() const override { return heads_; }
  std::vector<reactor::Reactor*> host_reactors() const override { return host_reactors_; }
  Status Apply(const Fault& fault) override;
  Status Heal() override;
  bool AllPathsBack() const override;
  std::string DescribePaths() const override;
  void AddTotals(ScenarioReport& report) override;
  Status Stop() override;

  // For a schedule's expectations, read on the driving thread between model steps (every reactor
  // of the simulated world runs on it): the host and the target (null before Start, after Stop,
  // and the target while killed) and the target's model as the faults have left it.
  mpath::MultipathHost* host() const { return host_.get(); }
  target::Target* target() const { return target_.get(); }
  const TargetModel& model() const { return model_; }

 private:
  Status MakeFiles();
  Status OnTarget(const std::function<Status()>& fn);
  Status StartTarget();
  Status StartHost();
  Status Kill();
  Status Restart();
  // Waits until a killed target has finished closing.
  bool WaitTargetGone();
  bool PathBack(int p, int h) const;
  Status SettleRemaps();

  TcpFabricOptions o_;
  reactor::SimWorld world_;
  reactor::SimRandom rng_;
  std::vector<reactor::Reactor*> host_reactors_;
  reactor::Sim* t_ = nullptr;
  std::string dir_;
  TargetModel model_;
  std::unique_ptr<target::Target> target_;  // null while killed
  bool target_dying_ = false;               // stopped, not yet destroyed
  uint64_t restarts_ = 0;
  std::unique_ptr<mpath::MultipathHost> host_;
  std::vector<mpath::Head*> heads_;
  std::set<int> remapped_;  // namespaces NsRemapped since the last heal
  bool spinning_ = false;
  bool stuck_ = false;  // something hung: the fabric must not be destroyed
};

}  // namespace nvmpath::sim
