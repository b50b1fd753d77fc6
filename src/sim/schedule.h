// sim::Schedule — a scenario's faults in time order, and the seeded generator the storms use.
//
// A schedule is data: every entry is a sim::Fault and the time it plays, counted from the start of
// the workload. The storms' generator draws the whole schedule from the seed before the run, so a
// seed names its faults independently of how the model under them reacts, and the schedule can be
// printed, compared and replayed. A fault that lasts (a port disabled, a link black-holed, the
// target down) is two entries: the fault and its undo, drawn together. `primary` marks the entries
// the generator chose as events; their undo entries are not counted as events, and entries after
// the last event never play: the runner heals everything at that point.
//
// An entry may carry expectations (expectation.h): what the host must do after its fault, checked
// by the runner before the next entry. An entry plays at `at` or, if its predecessor's
// expectations took the model past that, as soon as they are settled — so a test written as
// "fault, wait for this, measure that, next fault" is a schedule whose later entries sit at 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/time.h"
#include "sim/expectation.h"
#include "sim/fault.h"

namespace nvmpath::sim {

struct TimedFault {
  Duration at{0};
  Fault fault;
  bool primary = true;
  std::string note;  // shown after the fault in timelines: why it matters here
  std::vector<Expectation> expect;  // checked in order once the fault has played
};

// Describe(fault), then the note in parentheses if there is one.
std::string Describe(const TimedFault& entry);

using Schedule = std::vector<TimedFault>;

// Which faults a storm draws, and how often (weights, in any unit; 0: never).
struct FaultMix {
  int port_toggle = 0;      // PortEnabled false, then true
  int ana = 0;              // Ana (a random state of optimized, non-optimized, inaccessible, change)
  int ns_detach = 0;        // NsAttached false behind one port (stays until an ns_attach)
  int ns_attach = 0;        // NsAttached true where detached
  int ns_remove = 0;        // NsPresent false, then true
  int ns_remap = 0;         // NsRemapped (back at once, new identifiers; reattached everywhere)
  int ns_grow = 0;          // NsGrow
  int fail_next = 0;        // FailNext, failover and retry statuses
  int stall = 0;            // StallResponses, then released
  int delay = 0;            // DelayResponses
  int drop = 0;             // DropConnections
  int late_writes = 0;      // LateWrites, then (their connection) DropConnections
  int link_cut = 0;         // LinkCut
  int link_refuse = 0;      // LinkRefuse, then accepted again (sometimes with a LinkCut)
  int link_stall = 0;       // LinkStall, then flowing again
  int link_latency = 0;     // LinkLatency
  int link_chunking = 0;    // LinkChunking toggled
  int target_kill = 0;      // TargetKill, then TargetRestart
  // Statuses of FailNext: the remap storm's set (path, ANA, internal, transient, invalid ns, one
  // or two commands) or the TCP storm's (every failover status; retryable ones once; an opcode).
  bool tcp_statuses = false;
};

// The remap storm's mix (in-process paths) and the TCP storm's (real target and network).
FaultMix RemapStormMix();
FaultMix TcpStormMix();

struct StormShape {
  int ports = 3;
  int namespaces = 2;
  int events = 40;
  Duration mean_gap = std::chrono::microseconds(300);
  // Stalls (of responses and of links) last up to twice this: sometimes past the I/O timeout.
  Duration io_timeout = std::chrono::microseconds(250);
  Duration link_latency{0};  // what a LinkLatency goes back to, one time in three
  // Initially detached behind no port; ns_attach only plays where ns_detach played.
};

// Draws `shape.events` events from `mix`, with their undo entries, in time order.
Schedule MakeStormSchedule(uint64_t seed, const FaultMix& mix, const StormShape& shape);

}  // namespace nvmpath::sim
