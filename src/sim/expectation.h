// sim::Expectation — what must follow one step of a schedule, checked by the runner (runner.h)
// right after that step's fault has played: "the path leaves the head within 2 s", "over the next
// 300 ms, 50 more I/Os go to port 2", "the head sees the new capacity", "a write to this
// namespace now fails with kNoPath". A schedule then says both what breaks and what the host must
// do about it, and a test that played faults by hand and asserted between them becomes data the
// runner plays on any fabric.
//
// An expectation is armed when its step has played and the expectations before it on that step
// have been met or failed: `arm` takes its baselines (the I/O count now, the capacity now) and
// returns the condition. The model then runs for `after` (a rate is measured over it), and the
// condition must hold within `within` more (0: at once). Not met: a violation naming the step and
// `what`, and the run goes on, so one report lists every expectation that failed.
//
// Threads: `arm` and the condition run on the thread that drives the fabric, between model steps,
// like every Fabric method; what they read must be safe to read there (the simulated fabrics run
// every reactor on that thread).
#pragma once

#include <functional>
#include <string>

#include "base/time.h"

namespace nvmpath::sim {

struct Expectation {
  std::string what;
  std::function<std::function<bool()>()> arm;
  Duration after{0};
  Duration within{0};
};

// The condition becomes true within `limit` ("the path leaves the head").
Expectation Eventually(std::string what, std::function<bool()> condition, Duration limit);
// After running `period`, the condition armed now holds ("50 more I/Os through port 2 over
// 300 ms": `arm` reads the count, the condition compares).
Expectation Over(std::string what, Duration period, std::function<std::function<bool()>()> arm);

}  // namespace nvmpath::sim
