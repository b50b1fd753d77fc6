// sim::MemPath — an in-process path: a namespace served from memory through a simulated
// controller on the host's reactors, with fault controls. It stands where an NVMe/TCP controller
// stands (it implements blk::Path), so the multipath core, the simulator and benchmarks can run
// without sockets; it stays as the fast path for tests.
//
// A command takes `latency` from submission to execution. Faults model what a real controller and
// link do: the target-side ANA state changes at once (commands get ANA statuses) and the host
// learns it after `notice_delay` (the AEN and log read); a detached namespace answers Invalid
// Namespace and the host notices at its next rescan; a lost controller fails every in-flight
// attempt at once with "aborted by host" and executes none of them later; a stall parks commands
// until released.
//
// Threads: Submit and attempt completion on the channel's reactor (per-reactor channels with
// their attempt lists and QoS limiters, no sharing); fault controls, state() and the observer on home.
// The fault state read by executing reactors is atomic.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blk/path.h"
#include "blk/qos.h"
#include "sim/mem_namespace.h"
#include "reactor/reactor.h"

namespace nvmpath::sim {

// Bugs a path can be told to have, so tests can show the simulator's checks catching them.
enum class MemPathFault : uint8_t {
  kNone,
  kCheckOwnCapacity,   // range-check I/O against the path's own capacity (seed 001's bug)
  kLeakTicketOnError,  // keep the QoS ticket of an attempt that ends in error (seed 000's class)
  kLoseWrites,         // acknowledge every 7th write without executing it
};

struct MemPathOptions {
  std::string name = "mem";
  blk::QosLimits qos;                     // a path QoS limiter on each reactor; unlimited: none
  Duration latency = std::chrono::microseconds(20);
  Duration notice_delay = std::chrono::microseconds(200);  // AEN + log read / rescan
  blk::AnaState ana = blk::AnaState::kOptimized;
  int numa_node = -1;
  std::array<uint16_t, 3> crdt{};         // Command Retry Delay Times (100 ms units)
  MemPathFault TEST_fault = MemPathFault::kNone;
};

class MemPath final : public blk::Path {
 public:
  // REQUIRES: ns and every reactor outlive the path; home < shards.size().
  MemPath(MemPathOptions options, MemNamespace* ns, std::vector<reactor::Reactor*> shards,
          unsigned home);
  ~MemPath() override;

  // blk::Path
  const std::string& name() const override { return options_.name; }
  blk::PathChannel& Channel(unsigned shard) override;
  unsigned channel_count() const override { return static_cast<unsigned>(shards_.size()); }
  blk::PathState state() const override { return state_; }
  void OnPathError(nvme::PathAction action) override;
  void SetObserver(blk::PathObserver* observer) override { observer_ = observer; }

  // ---- fault controls (home reactor) ----
  void SetAnaState(blk::AnaState ana);
  void Detach();  // the namespace is removed behind this controller
  void Attach();  // ... and comes back
  void NoticeResize();  // the namespace was resized: report the new capacity at the next rescan
  // The next `count` commands (of `op` only, if given) complete with `status` without executing.
  void FailNext(uint32_t count, nvme::NvmeStatus status, std::optional<blk::Op> op = std::nullopt);
  void SetLatency(Duration latency);
  void Stall(bool stalled);
  void LoseController();     // connection lost: in-flight attempts abort; controller reconnecting
  void RestoreController();  // reconnected: live again
  // Fast-fail timer expired while reconnecting: the path stops counting as "may return".
  void ExpireFastFail();

  uint64_t TEST_InFlight() const;
  // Attempts from `shard` that hold a QoS ticket now.
  uint64_t TEST_TicketsHeld(unsigned shard) const;
  const blk::Limiter* TEST_Limiter(unsigned shard) const;

 private:
  struct Attempt;
  struct Shard;

  void Submit(Shard& s, blk::Bio* bio, blk::AttemptSink* sink);
  void Start(Shard& s, Attempt* a);
  void Execute(Shard& s, Attempt* a);
  void Finish(Shard& s, Attempt* a, nvme::NvmeStatus status);
  nvme::NvmeStatus Outcome(const blk::Bio& bio);
  void Rescan();
  void Notify();
  void OnAllShards(std::function<void(Shard&)> fn);
  void AfterNotice(std::function<void()> fn);

  MemPathOptions options_;
  MemNamespace* ns_;
  std::vector<reactor::Reactor*> reactors_;
  unsigned home_;
  std::vector<std::unique_ptr<Shard>> shards_;

  // home
  blk::PathState state_;
  blk::PathObserver* observer_ = nullptr;

  // fault state read by every reactor
  std::atomic<bool> detached_{false};
  std::atomic<bool> stalled_{false};
  std::atomic<bool> ctrl_up_{true};
  std::atomic<uint8_t> target_ana_;
  std::atomic<int64_t> latency_ns_;
  std::atomic<uint64_t> epoch_{0};  // bumped on controller loss: older attempts are aborted
  std::atomic<uint32_t> fail_next_{0};
  std::atomic<uint16_t> fail_status_{0};
  std::atomic<int> fail_op_{-1};

  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::atomic<int> messages_in_flight_{0};
};

}  // namespace nvmpath::sim
