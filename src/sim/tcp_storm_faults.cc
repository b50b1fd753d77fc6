// The faults the TCP storm plays (what each does to the target, the simulated network or the
// files, and when it is undone); the storm picks one per event (tcp_storm.cc).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <vector>

#include "nvme/opcodes.h"
#include "sim/tcp_storm_scenario.h"

namespace nvmpath::sim::tcp_storm_internal {

using namespace std::chrono_literals;

void TcpStorm::TogglePort(int p) {
  PortModel& port = ports_[p];
  if (!port.enabled) return;  // its re-enable is already scheduled
  port.enabled = false;
  Log(PortName(p) + " disabled");
  if (target_) Expect(target_->SetPortEnabled(PortId(p), false), "SetPortEnabled");
  Later(std::chrono::microseconds(rng_.Between(500, 6000)), [this, p] {
    ports_[p].enabled = true;
    Log(PortName(p) + " enabled");
    if (target_) Expect(target_->SetPortEnabled(PortId(p), true), "SetPortEnabled");
  });
}

void TcpStorm::FlipAna(int p, int h) {
  static constexpr AnaState kStates[] = {AnaState::kOptimized, AnaState::kNonOptimized,
                                         AnaState::kInaccessible, AnaState::kChange};
  AnaState s = kStates[rng_.Below(std::size(kStates))];
  ana_[p][h] = s;
  Log(fmt::format("{} group {} ANA {}", PortName(p), Group(h), nvme::AnaStateName(s)));
  if (target_) Expect(target_->SetAnaState(PortId(p), Group(h), s), "SetAnaState");
}

void TcpStorm::RemoveNs(int h) {
  if (!ns_[h].present) return;
  ns_[h].present = false;
  Log(fmt::format("namespace {} removed from the subsystem", Nsid(h)));
  if (target_) Expect(target_->RemoveNamespace(kSubnqn, Nsid(h)), "RemoveNamespace");
  Later(std::chrono::microseconds(rng_.Between(300, 5000)), [this, h] { ReAddNs(h); });
}

void TcpStorm::ReAddNs(int h) {
  if (ns_[h].present) return;
  ns_[h].present = true;
  Log(fmt::format("namespace {} added again ({} blocks)", Nsid(h),
                  ns_[h].size_bytes / o_.block_size));
  if (target_) Expect(target_->AddNamespace(kSubnqn, NsConfig(h)), "AddNamespace");
}

// A file backend takes its file's size, so a resize is: grow the file, and (if the namespace is
// there) remove and re-add it in the same step. The host never sees it missing: its rescan after
// the AEN finds the namespace with a new size.
void TcpStorm::Resize(int h) {
  NsModel& ns = ns_[h];
  ns.size_bytes += rng_.Between(1, 16) * o_.block_size;
  Log(fmt::format("namespace {} resized to {} blocks", Nsid(h), ns.size_bytes / o_.block_size));
  if (::truncate(ns.file.c_str(), static_cast<off_t>(ns.size_bytes)) != 0) {
    Violation(fmt::format("truncate {}: errno {}", ns.file, errno));
    return;
  }
  if (ns.present && target_) {
    Expect(target_->RemoveNamespace(kSubnqn, Nsid(h)), "RemoveNamespace");
    Expect(target_->AddNamespace(kSubnqn, NsConfig(h)), "AddNamespace");
  }
}

void TcpStorm::InjectError(int p, int h) {
  // Path errors and ANA statuses fail over; Invalid Namespace fails over and has the controller
  // rescan; the rest are retried on the same path (at most once here, under the retry limit).
  static constexpr uint16_t kFailover[] = {
      nvme::sc::kInternalPathError, nvme::sc::kControllerPathError, nvme::sc::kHostPathError,
      nvme::sc::kAbortedByHost,     nvme::sc::kAnaInaccessible,     nvme::sc::kAnaTransition,
      nvme::sc::kAnaPersistentLoss, nvme::sc::kInvalidNamespace,    nvme::sc::kNamespaceNotReady};
  static constexpr uint16_t kRetry[] = {
      nvme::sc::kInternalError, nvme::sc::kTransientTransportError, nvme::sc::kCommandInterrupted};
  if (!target_) return;
  target::FailNextSpec spec;
  const bool retry = rng_.OneIn(3);
  const uint16_t code =
      retry ? kRetry[rng_.Below(std::size(kRetry))] : kFailover[rng_.Below(std::size(kFailover))];
  spec.status = nvme::NvmeStatus::Of(code);
  spec.count = retry ? 1 : static_cast<uint32_t>(rng_.Between(1, 3));
  spec.port_id = PortId(p);
  spec.nsid = Nsid(h);
  switch (rng_.Below(3)) {
    case 0:
      spec.opcode = static_cast<uint8_t>(nvme::IoOpcode::kWrite);
      break;
    case 1:
      spec.opcode = static_cast<uint8_t>(nvme::IoOpcode::kRead);
      break;
    default:
      break;
  }
  Log(fmt::format("{} fails the next {} {}commands to namespace {} with {}", PortName(p),
                  spec.count,
                  !spec.opcode        ? ""
                  : *spec.opcode == 1 ? "write "
                                      : "read ",
                  Nsid(h), spec.status.ToString()));
  Expect(target_->FailNext(spec), "FailNext");
}

void TcpStorm::StallResponses(int p) {
  PortModel& port = ports_[p];
  if (!target_ || port.stalled) return;
  port.stalled = true;
  // Sometimes shorter than the I/O timeout (responses just arrive late), sometimes past it (the
  // controller resets and its I/O fails over).
  Duration d = std::chrono::microseconds(rng_.Between(200, 2 * Us(kIoTimeout)));
  Log(fmt::format("{} stalls its responses for {}us", PortName(p), Us(d)));
  Expect(target_->SetStalled(PortId(p), true), "SetStalled");
  target::Target* t = target_.get();
  Later(d, [this, p, t] {
    if (target_.get() != t || !ports_[p].stalled) return;  // restarted meanwhile: gone
    ports_[p].stalled = false;
    Log(PortName(p) + " resumes its responses");
    Expect(target_->SetStalled(PortId(p), false), "SetStalled");
  });
}

void TcpStorm::DelayResponses(int p) {
  if (!target_) return;
  Duration d = rng_.OneIn(3) ? Duration(0) : std::chrono::microseconds(rng_.Between(10, 500));
  Log(fmt::format("{} delays its responses by {}us", PortName(p), Us(d)));
  Expect(target_->SetResponseDelay(PortId(p), d), "SetResponseDelay");
}

void TcpStorm::DropConnections(int p) {
  if (!target_) return;
  Log(PortName(p) + " drops its connections");
  Expect(target_->DropConnections(PortId(p)), "DropConnections");
}

// The next writes through the port are parked and land `delay` after their connection closes,
// which the storm makes happen shortly (a target-side drop, so the host cannot have noticed the
// loss earlier than the target did). The host's write fence (the target's CQT) must hold the
// failed-over copies until then.
void TcpStorm::LateWrites(int p) {
  if (!target_ || ports_[p].net_stalled) return;
  const uint32_t count = static_cast<uint32_t>(rng_.Between(1, 3));
  const Duration delay = std::chrono::microseconds(rng_.Between(100, Us(kLateWriteMax)));
  const Duration drop_after = std::chrono::microseconds(rng_.Between(100, 600));
  Log(fmt::format("{}: the next {} writes land {}us after their connection closes", PortName(p),
                  count, Us(delay)));
  Expect(target_->SetLateWrites(PortId(p), count, delay), "SetLateWrites");
  target::Target* t = target_.get();
  Later(drop_after, [this, p, t] {
    if (target_.get() != t) return;
    Expect(target_->SetLateWrites(PortId(p), 0, Duration(0)), "SetLateWrites");
    Log(PortName(p) + " drops its connections (late writes pending)");
    Expect(target_->DropConnections(PortId(p)), "DropConnections");
  });
}

void TcpStorm::CutLink(int p) {
  size_t n = net().Cut(kAddress, TcpPort(p));
  Log(fmt::format("link to {} cut ({} streams)", PortName(p), n));
}

void TcpStorm::RefuseLink(int p) {
  if (ports_[p].net_refuse) return;
  ports_[p].net_refuse = true;
  Log(fmt::format("link to {} refuses connects", PortName(p)));
  net().SetRefuse(kAddress, TcpPort(p), true);
  if (rng_.OneIn(2)) {
    size_t n = net().Cut(kAddress, TcpPort(p));
    Log(fmt::format("link to {} cut ({} streams)", PortName(p), n));
  }
  Later(std::chrono::microseconds(rng_.Between(500, 5000)), [this, p] {
    ports_[p].net_refuse = false;
    Log(fmt::format("link to {} accepts connects", PortName(p)));
    net().SetRefuse(kAddress, TcpPort(p), false);
  });
}

void TcpStorm::StallLink(int p) {
  if (ports_[p].net_stalled) return;
  ports_[p].net_stalled = true;
  Duration d = std::chrono::microseconds(rng_.Between(200, 2 * Us(kIoTimeout)));
  Log(fmt::format("link to {} black-holed for {}us", PortName(p), Us(d)));
  net().Stall(kAddress, TcpPort(p), true);
  Later(d, [this, p] {
    ports_[p].net_stalled = false;
    Log(fmt::format("link to {} flows again", PortName(p)));
    net().Stall(kAddress, TcpPort(p), false);
  });
}

void TcpStorm::SlowLink(int p) {
  Duration d = rng_.OneIn(3) ? o_.link_latency : std::chrono::microseconds(rng_.Between(5, 2000));
  Log(fmt::format("link to {} latency {}us", PortName(p), Us(d)));
  net().SetLatency(kAddress, TcpPort(p), d);
}

void TcpStorm::ToggleChunking() {
  chunking_ = !chunking_;
  Log(fmt::format("received bytes {}", chunking_ ? "chunked at random" : "delivered whole"));
  net().SetChunking(chunking_);
}

// SIGKILL as the simulator plays it: every listener and connection closes at once, nothing
// in flight is answered, no timer of the old target runs again. Data already written to the
// files stays.
void TcpStorm::KillTarget() {
  if (!target_) return;
  Log("target killed");
  target_dying_ = true;
  for (PortModel& port : ports_) port.stalled = false;
  std::shared_ptr<target::Target> dying(target_.release());
  dying->Stop([this, dying]() mutable {
    // Not inside the target's own callback: destroy from a fresh task.
    t_->Post([this, dying = std::move(dying)]() mutable {
      dying.reset();
      target_dying_ = false;
    });
  });
  restart_pending_ = true;
  Later(std::chrono::microseconds(rng_.Between(300, 6000)), [this] { RestartTarget(); });
}

void TcpStorm::RestartTarget() {
  if (!restart_pending_) return;
  if (target_dying_) {  // the old one is still closing: try again shortly
    Later(100us, [this] { RestartTarget(); });
    return;
  }
  restart_pending_ = false;
  ++restarts_;
  Log("target restarted");
  StartTarget();
}

// TEST_target_loses_data: a few blocks of the first namespace's file go back to zeroes behind the
// target's back, as if acknowledged writes never reached the media.
void TcpStorm::LoseData() {
  const uint64_t lba = rng_.Below(o_.blocks - 4);
  std::vector<uint8_t> zeroes(4 * o_.block_size, 0);
  int fd = ::open(ns_[0].file.c_str(), O_WRONLY);
  if (fd < 0) return;
  ssize_t n = ::pwrite(fd, zeroes.data(), zeroes.size(), static_cast<off_t>(lba * o_.block_size));
  ::close(fd);
  (void)n;
  Log(fmt::format("TEST: namespace 1 loses blocks {}..{}", lba, lba + 3));
}

}  // namespace nvmpath::sim::tcp_storm_internal
