// Time as the reactors see it: a monotonic nanosecond count since the reactor's epoch. A
// reactor::Sim's clock is virtual, so nothing in src/ reads the OS clock except reactor::Uring.
#pragma once

#include <chrono>
#include <cstdint>

namespace nvmpath {

using Duration = std::chrono::nanoseconds;
// A point on a reactor's monotonic clock.
using TimePoint = std::chrono::nanoseconds;

using namespace std::chrono_literals;

inline constexpr double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline constexpr double ToMicros(Duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

}  // namespace nvmpath
