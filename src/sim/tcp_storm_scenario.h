// The TCP storm's scenario object, shared by the files that implement it: tcp_storm.cc (setup,
// the event loop, heal, teardown, the run) and tcp_storm_faults.cc (the faults it plays). Not
// part of the sim library's interface; tcp_storm.h is.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mpath/multipath_host.h"
#include "reactor/sim.h"
#include "reactor/sim_network.h"
#include "reactor/sim_random.h"
#include "sim/invariants.h"
#include "sim/tcp_storm.h"
#include "sim/verify_workload.h"
#include "target/target.h"

namespace nvmpath::sim::tcp_storm_internal {

using nvme::AnaState;

constexpr char kSubnqn[] = "nqn.2026-11.io.nvmpath:tcp-storm";
constexpr char kHostnqn[] = "nqn.2026-11.io.nvmpath:tcp-storm-host";
constexpr char kAddress[] = "127.0.0.1";
constexpr uint16_t kFirstTcpPort = 4420;

// Host timing, scaled down from Linux's defaults so a seed's faults play out in milliseconds of
// virtual time; the ratios keep Linux's order (I/O timeout < keep-alive < nothing gives up).
constexpr Duration kIoTimeout = std::chrono::milliseconds(8);
constexpr Duration kKato = kTcpStormKato;
constexpr Duration kReconnectDelay = std::chrono::milliseconds(1);
constexpr Duration kConnectTimeout = std::chrono::milliseconds(4);
constexpr Duration kAdminTimeout = std::chrono::milliseconds(8);
// The target's Command Quiesce Time, which the host's write fence waits out; late writes land
// well inside it.
constexpr Duration kCqt = kTcpStormCqt;
constexpr Duration kLateWriteMax = std::chrono::microseconds(1500);
// How long the end of a seed may take to drain, bring every path back and verify.
constexpr Duration kSettleLimit = std::chrono::seconds(10);

inline uint64_t Us(Duration d) { return static_cast<uint64_t>(ToMicros(d)); }

struct PortModel {
  bool enabled = true;
  bool stalled = false;      // target holds responses
  bool net_refuse = false;   // the link refuses connects
  bool net_stalled = false;  // the link is black-holed
};

struct NsModel {
  bool present = true;
  uint64_t size_bytes = 0;
  std::string file;
};

class TcpStorm {
 public:
  TcpStorm(const TcpStormOptions& o, const std::function<void(const std::string&)>& on_event)
      : o_(o), on_event_(on_event), world_(o.seed), rng_(o.seed ^ 0x7C95A3D1E4B2F068ull) {}
  ~TcpStorm();

  TcpStormResult Run();
  bool hung() const { return hung_; }

 private:
  reactor::SimNetwork& net() { return world_.network(); }
  static uint16_t TcpPort(int p) { return static_cast<uint16_t>(kFirstTcpPort + p); }
  static uint16_t PortId(int p) { return static_cast<uint16_t>(p + 1); }
  static uint32_t Nsid(int h) { return static_cast<uint32_t>(h + 1); }
  static uint32_t Group(int h) { return static_cast<uint32_t>(h + 1); }
  std::string PortName(int p) const { return fmt::format("port {} ({})", PortId(p), TcpPort(p)); }

  void Log(const std::string& what) {
    if (on_event_) on_event_(fmt::format("t={:.3f}ms {}", ToMicros(world_.now()) / 1000, what));
  }
  // The target's control method `name` must succeed whenever the target is up.
  void Expect(const Status& st, const std::string& name);
  void Violation(const std::string& what);
  // A limiter (or a sum of them) must have every ticket back and nobody waiting.
  void CheckQosQuiesced(const std::string& who, const blk::QosCounters& q);
  // Runs the world until `done`, bounded by virtual time and by events (a livelock spins in
  // zero virtual time). Returns whether `done` became true.
  bool RunUntil(const std::function<bool()>& done, Duration limit);

  Status MakeFiles();
  target::NamespaceConfig NsConfig(int h) const;
  target::TargetConfig ConfigFromModel() const;
  void StartTarget();
  Status StartHost();
  bool PathBack(int p, int h) const;
  bool AllPathsBack() const;
  std::string DescribePaths() const;

  void ScheduleEvent();
  void Event();
  void CheckAfterEvent();
  template <typename Fn>
  void Later(Duration d, Fn fn);

  void TogglePort(int p);
  void FlipAna(int p, int h);
  void RemoveNs(int h);
  void ReAddNs(int h);
  void Resize(int h);
  void InjectError(int p, int h);
  void StallResponses(int p);
  void DelayResponses(int p);
  void DropConnections(int p);
  void LateWrites(int p);
  void CutLink(int p);
  void RefuseLink(int p);
  void StallLink(int p);
  void SlowLink(int p);
  void ToggleChunking();
  void KillTarget();
  void RestartTarget();
  void LoseData();

  void Heal();
  void HealTarget(std::vector<bool> was_present);
  void Teardown();

  TcpStormOptions o_;
  const std::function<void(const std::string&)>& on_event_;
  reactor::SimWorld world_;
  reactor::SimRandom rng_;
  std::vector<reactor::Reactor*> host_reactors_;
  reactor::Sim* t_ = nullptr;

  std::string dir_;
  std::vector<PortModel> ports_;
  std::vector<NsModel> ns_;
  std::vector<std::vector<AnaState>> ana_;  // [port][head]
  bool chunking_ = true;

  std::unique_ptr<target::Target> target_;  // null while killed
  bool target_dying_ = false;               // stopped, not yet destroyed
  bool restart_pending_ = false;
  uint64_t restarts_ = 0;

  std::unique_ptr<mpath::MultipathHost> host_;
  std::vector<mpath::Head*> heads_;
  std::vector<std::unique_ptr<VerifyWorkload>> workloads_;  // [head * reactors + reactor]
  InvariantChecker checker_;
  uint64_t next_bio_id_ = 1;
  size_t violations_seen_ = 0;
  std::vector<std::string> own_violations_;  // the storm's own (setup, control, heal)

  int events_done_ = 0;
  bool events_over_ = false;
  bool healed_ = false;  // delayed restores do nothing after the heal
  bool heal_applied_ = false;
  bool hung_ = false;
  bool spinning_ = false;
};

template <typename Fn>
void TcpStorm::Later(Duration d, Fn fn) {
  t_->AddTimer(d, [this, fn = std::move(fn)]() mutable {
    if (!healed_) fn();
  });
}

}  // namespace nvmpath::sim::tcp_storm_internal
