#include "sim/bounded_run.h"

namespace nvmpath::sim {

bool RunBounded(reactor::SimWorld& world, const std::function<bool()>& done, Duration limit,
                bool* spinning) {
  const uint64_t start = world.events_run();
  const bool ok = world.RunUntil(
      [&] {
        if (world.events_run() - start > kLivelockEvents) *spinning = true;
        return *spinning || done();
      },
      limit);
  return ok && !*spinning;
}

}  // namespace nvmpath::sim
