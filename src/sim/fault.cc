#include "sim/fault.h"

#include <fmt/format.h>

namespace nvmpath::sim {
namespace {

uint64_t Us(Duration d) { return static_cast<uint64_t>(ToMicros(d)); }

struct Describer {
  std::string operator()(const fault::PortEnabled& f) const {
    return fmt::format("port {} {}", f.port + 1, f.enabled ? "enabled" : "disabled");
  }
  std::string operator()(const fault::Ana& f) const {
    return fmt::format("port {}: namespace {} ANA {}", f.port + 1, f.ns + 1,
                       nvme::AnaStateName(f.state));
  }
  std::string operator()(const fault::NsAttached& f) const {
    return fmt::format("namespace {} {} behind port {}", f.ns + 1,
                       f.attached ? "attached again" : "detached", f.port + 1);
  }
  std::string operator()(const fault::NsPresent& f) const {
    if (!f.present) return fmt::format("namespace {} removed from the subsystem", f.ns + 1);
    return fmt::format("namespace {} added back{}", f.ns + 1, f.fresh ? ", EMPTY (test: data lost)" : "");
  }
  std::string operator()(const fault::NsRemapped& f) const {
    return fmt::format("namespace {} remapped: back with new identifiers #{}", f.ns + 1,
                       f.identity);
  }
  std::string operator()(const fault::NsGrow& f) const {
    return fmt::format("namespace {} grows by {} blocks", f.ns + 1, f.blocks);
  }
  std::string operator()(const fault::FailNext& f) const {
    const char* op = !f.opcode ? "" : *f.opcode == 1 ? "write " : *f.opcode == 2 ? "read " : "";
    return fmt::format("port {} fails the next {} {}commands to namespace {} with {}", f.port + 1,
                       f.count, op, f.ns + 1, f.status.ToString());
  }
  std::string operator()(const fault::StallResponses& f) const {
    return fmt::format("port {} {} its responses", f.port + 1, f.stalled ? "stalls" : "resumes");
  }
  std::string operator()(const fault::DelayResponses& f) const {
    return fmt::format("port {} delays its responses by {}us", f.port + 1, Us(f.delay));
  }
  std::string operator()(const fault::DropConnections& f) const {
    return fmt::format("port {} drops its connections", f.port + 1);
  }
  std::string operator()(const fault::LateWrites& f) const {
    return fmt::format("port {}: the next {} writes land {}us after their connection closes",
                       f.port + 1, f.count, Us(f.delay));
  }
  std::string operator()(const fault::LinkCut& f) const {
    return fmt::format("link to port {} cut", f.port + 1);
  }
  std::string operator()(const fault::LinkRefuse& f) const {
    return fmt::format("link to port {} {} connects", f.port + 1, f.refuse ? "refuses" : "accepts");
  }
  std::string operator()(const fault::LinkStall& f) const {
    return fmt::format("link to port {} {}", f.port + 1, f.stalled ? "black-holed" : "flows again");
  }
  std::string operator()(const fault::LinkLatency& f) const {
    return fmt::format("link to port {} latency {}us", f.port + 1, Us(f.latency));
  }
  std::string operator()(const fault::LinkDown& f) const {
    return fmt::format("link to port {} {}", f.port + 1, f.down ? "down" : "up");
  }
  std::string operator()(const fault::LinkRate& f) const {
    if (f.bits_per_s == 0) return fmt::format("link to port {} not rate-limited", f.port + 1);
    return fmt::format("link to port {} limited to {} kbit/s", f.port + 1, f.bits_per_s / 1000);
  }
  std::string operator()(const fault::LinkChunking& f) const {
    return fmt::format("received bytes {}", f.chunked ? "chunked at random" : "delivered whole");
  }
  std::string operator()(const fault::TargetKill&) const { return "target killed"; }
  std::string operator()(const fault::TargetRestart&) const { return "target restarted"; }
  std::string operator()(const fault::Checkpoint&) const { return "checkpoint"; }
  std::string operator()(const fault::HostPolicy& f) const {
    return fmt::format("host: namespace {} I/O policy {}", f.ns + 1, mpath::PolicyName(f.policy));
  }
  std::string operator()(const fault::LoseData& f) const {
    return fmt::format("TEST: namespace {} loses blocks {}..{}", f.ns + 1, f.lba,
                       f.lba + f.blocks - 1);
  }
};

}  // namespace

std::string Describe(const Fault& fault) { return std::visit(Describer{}, fault); }

}  // namespace nvmpath::sim
