// sim::Fault — the one vocabulary every scenario describes its faults in: the remap storm, the
// TCP storm, `nvmpath demo` and the end-to-end fault tests. A fault names what breaks (or heals)
// on the target, a link or a path, by index: `port` is the target port (the host's path) 0..N-1,
// `ns` the namespace (the host's head) 0..M-1. What a fault does is up to the model under it, a
// sim::Fabric (fabric.h): the real target over the simulated network plays it with the target's
// control methods and SimNetwork, in-process MemPaths with their fault controls. A fault a model
// cannot play is refused there with a status that names it, never silently dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "base/time.h"
#include "mpath/policy.h"
#include "nvme/ana_log.h"
#include "nvme/status.h"

namespace nvmpath::sim {

namespace fault {

// The port stops listening and drops its connections (false), or listens again (true).
struct PortEnabled {
  int port = 0;
  bool enabled = false;
};
// The ANA state of namespace `ns`'s group behind `port` (an ANA change notice to the host).
struct Ana {
  int port = 0;
  int ns = 0;
  nvme::AnaState state = nvme::AnaState::kOptimized;
};
// The namespace is detached behind one port only (a remap in progress) or attached again.
struct NsAttached {
  int port = 0;
  int ns = 0;
  bool attached = false;
};
// The namespace leaves the subsystem (every port) or comes back. `fresh`: it comes back empty,
// its data lost (tests only, to show verify catching it).
struct NsPresent {
  int ns = 0;
  bool present = false;
  bool fresh = false;
};
// The namespace comes back with its data and new identifiers (NGUID, EUI-64 and UUID, numbered
// `identity` ≥ 1), as blktests nvme/058 remaps namespaces; if present, it is removed first. A
// host must take it as a new namespace under the same NSID, never merge it into the old head.
struct NsRemapped {
  int ns = 0;
  uint32_t identity = 1;
};
// The namespace grows by `blocks`.
struct NsGrow {
  int ns = 0;
  uint64_t blocks = 1;
};
// The next `count` I/O commands to `ns` through `port` (of `opcode` only, if set) complete with
// `status` without executing.
struct FailNext {
  int port = 0;
  int ns = 0;
  nvme::NvmeStatus status;
  uint32_t count = 1;
  std::optional<uint8_t> opcode;
};
// The port holds its responses (true) or lets them go (false).
struct StallResponses {
  int port = 0;
  bool stalled = true;
};
// Every response through the port is delayed (0: not delayed).
struct DelayResponses {
  int port = 0;
  Duration delay{0};
};
// The port drops every connection (controllers lost); the host reconnects on its own.
struct DropConnections {
  int port = 0;
};
// The next `count` writes through the port are parked and execute `delay` after their connection
// closes (stale writes). The storm drops the connections with a DropConnections later.
struct LateWrites {
  int port = 0;
  uint32_t count = 1;
  Duration delay{0};
};
// The host's link to the port: every stream cut; connects refused; black-holed; latency. Where a
// model has links of its own that several ports share (veth links in network namespaces), `port`
// names the link.
struct LinkCut {
  int port = 0;
};
struct LinkRefuse {
  int port = 0;
  bool refuse = true;
};
struct LinkStall {
  int port = 0;
  bool stalled = true;
};
struct LinkLatency {
  int port = 0;
  Duration latency{0};
};
// The link loses its carrier (down) or gets it back: nothing passes and connects fail, until up.
struct LinkDown {
  int port = 0;
  bool down = true;
};
// The link's bandwidth is capped at `bits_per_s` (0: no cap).
struct LinkRate {
  int port = 0;
  uint64_t bits_per_s = 0;
};
// Received bytes are delivered in random chunks (true) or whole (false), on every link.
struct LinkChunking {
  bool chunked = true;
};
// The target is killed (nothing in flight answered, no timer of it runs again) / started again
// from the ports, namespaces and ANA states played so far.
struct TargetKill {};
struct TargetRestart {};
// Behind the target's back, `blocks` blocks of the namespace from `lba` go back to zeroes, as if
// acknowledged writes never reached the media (tests only, to show verify catching it).
struct LoseData {
  int ns = 0;
  uint64_t lba = 0;
  uint32_t blocks = 1;
};

// Not the target's nor a link's: the host's I/O policy for namespace `ns`'s head changes, as an
// operator changes it on a running host while I/O runs (Linux: the subsystem's iopolicy file). A schedule
// then measures the same broken links under two policies (host_faults.h plays it on every fabric).
struct HostPolicy {
  int ns = 0;
  mpath::Policy policy = mpath::Policy::kNuma;
};

// Nothing breaks: a step that only carries expectations (expectation.h), for a schedule that
// must measure before its first fault or between two. Every model plays it as nothing.
struct Checkpoint {};

}  // namespace fault

using Fault =
    std::variant<fault::PortEnabled, fault::Ana, fault::NsAttached, fault::NsPresent,
                 fault::NsRemapped, fault::NsGrow, fault::FailNext, fault::StallResponses,
                 fault::DelayResponses, fault::DropConnections, fault::LateWrites, fault::LinkCut,
                 fault::LinkRefuse, fault::LinkStall, fault::LinkLatency, fault::LinkDown,
                 fault::LinkRate, fault::LinkChunking, fault::TargetKill, fault::TargetRestart,
                 fault::LoseData, fault::HostPolicy, fault::Checkpoint>;

// One line for timelines: "port 2: namespace 1 ANA inaccessible" (ports and namespaces counted
// from 1, as the target numbers them).
std::string Describe(const Fault& fault);

}  // namespace nvmpath::sim
