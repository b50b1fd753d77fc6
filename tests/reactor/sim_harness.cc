#include <gtest/gtest.h>

#include <cstdlib>

#include "reactor/sim.h"
#include "reactor/sim_network.h"
#include "reactor_harness.h"

namespace nvmpath::reactor::testing {
namespace {

class SimHarness final : public Harness {
 public:
  explicit SimHarness(uint64_t seed) : world_(seed), reactor_(world_.AddReactor()) {}
  std::string name() const override { return "sim"; }
  Reactor* reactor() override { return reactor_; }
  bool RunUntil(const std::function<bool()>& done, Duration limit) override {
    return world_.RunUntil(done, limit);
  }
  void RunFor(Duration d) override { world_.RunFor(d); }
  Duration default_limit() const override { return std::chrono::seconds(30); }
  uint64_t sends_issued() const override { return world_.network().sends_issued(); }

 private:
  mutable SimWorld world_;
  Sim* reactor_;
};

}  // namespace

std::unique_ptr<Harness> MakeSimHarness() {
  // The seed comes from NVMPATH_SIM_SEED (default 1) and is recorded so a failure replays.
  const char* env = std::getenv("NVMPATH_SIM_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 0) : 1;
  ::testing::Test::RecordProperty("sim_seed", std::to_string(seed));
  return std::make_unique<SimHarness>(seed);
}

}  // namespace nvmpath::reactor::testing
