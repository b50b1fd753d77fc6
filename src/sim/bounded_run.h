// sim::RunBounded — runs a simulated world until `done`, bounded by virtual time and by events:
// a livelock spins in zero virtual time, so a limit on the clock alone would never end it. The
// simulated fabrics' clock (fabric.h RunUntil).
#pragma once

#include <cstdint>
#include <functional>

#include "base/time.h"
#include "reactor/sim.h"

namespace nvmpath::sim {

// Events one call may run before it calls the run a livelock.
inline constexpr uint64_t kLivelockEvents = 20'000'000;

// Returns whether `done` became true; false on the time limit, or (setting *spinning) when
// kLivelockEvents ran first. A set *spinning stays set: the world is not run again.
bool RunBounded(reactor::SimWorld& world, const std::function<bool()>& done, Duration limit,
                bool* spinning);

}  // namespace nvmpath::sim
