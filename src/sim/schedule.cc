#include "sim/schedule.h"

#include <algorithm>
#include <array>
#include <iterator>

#include "nvme/opcodes.h"
#include "reactor/sim_random.h"

namespace nvmpath::sim {
namespace {

using nvme::AnaState;
using std::chrono::microseconds;

uint64_t Us(Duration d) { return static_cast<uint64_t>(ToMicros(d)); }

// Draws one storm. The generator keeps its own view of what is broken until when, so a fault is
// not played on top of itself (a port disabled twice, the target killed while down) and faults
// that need the target are not played while it is down; when the drawn fault cannot play, the
// event becomes an ANA flip (the storms' bread and butter, as in blktests nvme/058).
class Generator {
 public:
  Generator(uint64_t seed, const FaultMix& mix, const StormShape& shape)
      : mix_(mix),
        shape_(shape),
        rng_(seed ^ 0x5C4EDB1E5EEDull),
        port_down_(shape.ports),
        stalled_(shape.ports),
        refusing_(shape.ports),
        link_stalled_(shape.ports),
        ns_absent_(shape.namespaces),
        detached_(shape.namespaces, std::vector<bool>(shape.ports, false)) {}

  Schedule Draw() {
    // The kinds in Play's order: a new kind goes last, so the seeds of a mix without it draw the
    // same schedules as before.
    const std::array<int, 18> weights = {
        mix_.port_toggle, mix_.ana,         mix_.ns_detach,   mix_.ns_attach,  mix_.ns_remove,
        mix_.ns_grow,     mix_.fail_next,   mix_.stall,       mix_.delay,      mix_.drop,
        mix_.late_writes, mix_.link_cut,    mix_.link_refuse, mix_.link_stall, mix_.link_latency,
        mix_.link_chunking, mix_.target_kill, mix_.ns_remap};
    int total = 0;
    for (int w : weights) total += w;
    NVMP_ASSERT(total > 0, "a fault mix with nothing in it");
    for (int e = 0; e < shape_.events; ++e) {
      now_ += microseconds(rng_.Between(1, 2 * Us(shape_.mean_gap)));
      const int p = static_cast<int>(rng_.Below(shape_.ports));
      const int h = static_cast<int>(rng_.Below(shape_.namespaces));
      int dice = static_cast<int>(rng_.Below(static_cast<uint64_t>(total)));
      size_t kind = 0;
      while (dice >= weights[kind]) dice -= weights[kind++];
      if (!Play(kind, p, h)) Ana(p, h);
    }
    std::stable_sort(out_.begin(), out_.end(),
                     [](const TimedFault& a, const TimedFault& b) { return a.at < b.at; });
    return std::move(out_);
  }

 private:
  void Now(Fault f) { out_.push_back({now_, std::move(f), true, {}}); }
  void After(Duration d, Fault f) { out_.push_back({now_ + d, std::move(f), false, {}}); }
  bool Free(const std::vector<TimePoint>& until, int p) const { return until[p] <= Tp(now_); }
  static TimePoint Tp(Duration d) { return TimePoint(d); }
  bool TargetUp() const { return target_down_until_ <= Tp(now_); }
  Duration Between(uint64_t lo_us, uint64_t hi_us) {
    return microseconds(rng_.Between(lo_us, hi_us));
  }

  bool Play(size_t kind, int p, int h) {
    switch (kind) {
      case 0: return TogglePort(p);
      case 1: return Ana(p, h), true;
      case 2: return Detach(p, h);
      case 3: return Attach(p, h);
      case 4: return RemoveNs(h);
      case 5: return Grow(h);
      case 6: return FailNext(p, h);
      case 7: return Stall(p);
      case 8: return Delay(p);
      case 9: return Drop(p);
      case 10: return LateWrites(p);
      case 11: return Now(fault::LinkCut{p}), true;
      case 12: return Refuse(p);
      case 13: return LinkStall(p);
      case 14: return LinkLatency(p);
      case 15: return Now(fault::LinkChunking{chunked_ = !chunked_}), true;
      case 16: return Kill();
      default: return Remap(h);
    }
  }

  bool TogglePort(int p) {
    if (!Free(port_down_, p)) return false;
    const Duration d = Between(500, 6000);
    Now(fault::PortEnabled{p, false});
    After(d, fault::PortEnabled{p, true});
    port_down_[p] = Tp(now_ + d);
    return true;
  }

  void Ana(int p, int h) {
    static constexpr AnaState kStates[] = {AnaState::kOptimized, AnaState::kNonOptimized,
                                           AnaState::kInaccessible, AnaState::kChange};
    Now(fault::Ana{p, h, kStates[rng_.Below(std::size(kStates))]});
  }

  bool Detach(int p, int h) {
    if (detached_[h][p]) return false;
    detached_[h][p] = true;
    Now(fault::NsAttached{p, h, false});
    return true;
  }

  bool Attach(int p, int h) {
    if (!detached_[h][p]) return false;
    detached_[h][p] = false;
    Now(fault::NsAttached{p, h, true});
    return true;
  }

  bool RemoveNs(int h) {
    if (!Free(ns_absent_, h)) return false;
    const Duration d = Between(300, 5000);
    Now(fault::NsPresent{h, false});
    After(d, fault::NsPresent{h, true});
    ns_absent_[h] = Tp(now_ + d);
    return true;
  }

  // 058's remap: the namespace leaves every port and comes back at once with new identifiers,
  // attached everywhere (a detachment does not survive it). Not while it is removed: its NsPresent
  // undo is due.
  bool Remap(int h) {
    if (!Free(ns_absent_, h)) return false;
    Now(fault::NsRemapped{h, ++identity_});
    for (int p = 0; p < shape_.ports; ++p) detached_[h][p] = false;
    return true;
  }

  bool Grow(int h) { return Now(fault::NsGrow{h, rng_.Between(1, 16)}), true; }

  bool FailNext(int p, int h) {
    if (!TargetUp()) return false;
    fault::FailNext f{.port = p, .ns = h};
    if (!mix_.tcp_statuses) {
      static constexpr uint16_t kCodes[] = {
          nvme::sc::kInternalPathError, nvme::sc::kAnaInaccessible,
          nvme::sc::kAnaTransition,     nvme::sc::kInternalError,
          nvme::sc::kTransientTransportError, nvme::sc::kInvalidNamespace};
      f.status = nvme::NvmeStatus::Of(kCodes[rng_.Below(std::size(kCodes))]);
      f.count = static_cast<uint32_t>(rng_.Between(1, 2));
      return Now(f), true;
    }
    // Path errors and ANA statuses fail over; Invalid Namespace fails over and has the controller
    // rescan; the rest are retried on the same path (once here, under the retry limit).
    static constexpr uint16_t kFailover[] = {
        nvme::sc::kInternalPathError, nvme::sc::kControllerPathError, nvme::sc::kHostPathError,
        nvme::sc::kAbortedByHost,     nvme::sc::kAnaInaccessible,     nvme::sc::kAnaTransition,
        nvme::sc::kAnaPersistentLoss, nvme::sc::kInvalidNamespace,    nvme::sc::kNamespaceNotReady};
    static constexpr uint16_t kRetry[] = {nvme::sc::kInternalError,
                                          nvme::sc::kTransientTransportError,
                                          nvme::sc::kCommandInterrupted};
    const bool retry = rng_.OneIn(3);
    f.status = nvme::NvmeStatus::Of(retry ? kRetry[rng_.Below(std::size(kRetry))]
                                          : kFailover[rng_.Below(std::size(kFailover))]);
    f.count = retry ? 1 : static_cast<uint32_t>(rng_.Between(1, 3));
    switch (rng_.Below(3)) {
      case 0:
        f.opcode = static_cast<uint8_t>(nvme::IoOpcode::kWrite);
        break;
      case 1:
        f.opcode = static_cast<uint8_t>(nvme::IoOpcode::kRead);
        break;
      default:
        break;
    }
    return Now(f), true;
  }

  // Sometimes shorter than the I/O timeout (responses just arrive late), sometimes past it (the
  // controller resets and its I/O fails over).
  bool Stall(int p) {
    if (!TargetUp() || !Free(stalled_, p)) return false;
    const Duration d = Between(50, 2 * Us(shape_.io_timeout));
    Now(fault::StallResponses{p, true});
    After(d, fault::StallResponses{p, false});
    stalled_[p] = Tp(now_ + d);
    return true;
  }

  bool Delay(int p) {
    if (!TargetUp()) return false;
    const Duration d = rng_.OneIn(3) ? Duration(0) : Between(5, 400);
    return Now(fault::DelayResponses{p, d}), true;
  }

  bool Drop(int p) {
    if (!TargetUp()) return false;
    return Now(fault::DropConnections{p}), true;
  }

  // The parked writes land after their connection closes, which the storm makes happen shortly
  // (a target-side drop, so the host cannot have noticed the loss earlier than the target did).
  bool LateWrites(int p) {
    if (!TargetUp() || !Free(link_stalled_, p)) return false;
    const uint32_t count = static_cast<uint32_t>(rng_.Between(1, 3));
    const Duration delay = Between(100, 1500);
    const Duration drop_after = Between(100, 600);
    if (target_down_until_ > Tp(now_ + drop_after)) return false;
    Now(fault::LateWrites{p, count, delay});
    After(drop_after, fault::LateWrites{p, 0, Duration(0)});
    After(drop_after, fault::DropConnections{p});
    return true;
  }

  bool Refuse(int p) {
    if (!Free(refusing_, p)) return false;
    const Duration d = Between(500, 5000);
    Now(fault::LinkRefuse{p, true});
    if (rng_.OneIn(2)) After(Duration(0), fault::LinkCut{p});  // part of the same event
    After(d, fault::LinkRefuse{p, false});
    refusing_[p] = Tp(now_ + d);
    return true;
  }

  bool LinkStall(int p) {
    if (!Free(link_stalled_, p)) return false;
    const Duration d = Between(200, 2 * Us(shape_.io_timeout));
    Now(fault::LinkStall{p, true});
    After(d, fault::LinkStall{p, false});
    link_stalled_[p] = Tp(now_ + d);
    return true;
  }

  bool LinkLatency(int p) {
    const Duration d = rng_.OneIn(3) ? shape_.link_latency : Between(5, 2000);
    return Now(fault::LinkLatency{p, d}), true;
  }

  bool Kill() {
    if (!TargetUp()) return false;
    const Duration d = Between(300, 6000);
    Now(fault::TargetKill{});
    After(d, fault::TargetRestart{});
    target_down_until_ = Tp(now_ + d);
    // A stall does not survive the target.
    for (TimePoint& t : stalled_) t = std::min(t, Tp(now_));
    return true;
  }

  const FaultMix mix_;
  const StormShape shape_;
  reactor::SimRandom rng_;
  Duration now_{0};
  Schedule out_;
  std::vector<TimePoint> port_down_, stalled_, refusing_, link_stalled_, ns_absent_;
  std::vector<std::vector<bool>> detached_;  // [ns][port]
  TimePoint target_down_until_{};
  bool chunked_ = true;
  uint32_t identity_ = 0;  // the last NsRemapped's
};

}  // namespace

std::string Describe(const TimedFault& entry) {
  std::string out = Describe(entry.fault);
  if (!entry.note.empty()) out += " (" + entry.note + ")";
  return out;
}

FaultMix RemapStormMix() {
  return FaultMix{.ana = 20,
                  .ns_detach = 20,
                  .ns_attach = 20,
                  .ns_remap = 5,
                  .ns_grow = 8,
                  .fail_next = 12,
                  .stall = 5,
                  .delay = 5,
                  .drop = 10};
}

FaultMix TcpStormMix() {
  return FaultMix{.port_toggle = 8,
                  .ana = 21,
                  .ns_detach = 3,
                  .ns_attach = 3,
                  .ns_remove = 8,
                  .ns_remap = 4,
                  .ns_grow = 4,
                  .fail_next = 13,
                  .stall = 6,
                  .delay = 4,
                  .drop = 6,
                  .late_writes = 4,
                  .link_cut = 5,
                  .link_refuse = 4,
                  .link_stall = 4,
                  .link_latency = 6,
                  .link_chunking = 2,
                  .target_kill = 5,
                  .tcp_statuses = true};
}

Schedule MakeStormSchedule(uint64_t seed, const FaultMix& mix, const StormShape& shape) {
  NVMP_ASSERT(shape.ports >= 1 && shape.namespaces >= 1 && shape.events >= 0);
  return Generator(seed, mix, shape).Draw();
}

}  // namespace nvmpath::sim
