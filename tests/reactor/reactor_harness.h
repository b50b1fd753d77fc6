// A small harness that lets one test body run against every reactor implementation: "make a
// reactor" and "run its loop until a predicate holds or a limit passes". Sim runs on virtual
// time; Uring on real time with a limit of a few seconds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/time.h"
#include "reactor/reactor.h"

namespace nvmpath::reactor::testing {

class Harness {
 public:
  virtual ~Harness() = default;
  virtual std::string name() const = 0;
  virtual Reactor* reactor() = 0;
  // Runs the loop until done() is true (checked after every event or loop turn) or `limit`
  // passes on the reactor's clock. Returns whether done() became true.
  virtual bool RunUntil(const std::function<bool()>& done, Duration limit) = 0;
  bool RunUntil(const std::function<bool()>& done) { return RunUntil(done, default_limit()); }
  // Runs the loop for `d` on the reactor's clock.
  virtual void RunFor(Duration d) = 0;
  virtual Duration default_limit() const = 0;
  // The implementation's count of gathered sends put on the wire.
  virtual uint64_t sends_issued() const = 0;
};

using HarnessFactory = std::unique_ptr<Harness> (*)();

std::unique_ptr<Harness> MakeSimHarness();
std::unique_ptr<Harness> MakeUringHarness();

}  // namespace nvmpath::reactor::testing
