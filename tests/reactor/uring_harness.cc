#include <gtest/gtest.h>

#include "reactor/uring.h"
#include "reactor_harness.h"

namespace nvmpath::reactor::testing {
namespace {

// Drives one Uring on the test thread, in real time.
class UringHarness final : public Harness {
 public:
  explicit UringHarness(std::unique_ptr<Uring> u) : uring_(std::move(u)) {}
  std::string name() const override { return "uring"; }
  Reactor* reactor() override { return uring_.get(); }
  bool RunUntil(const std::function<bool()>& done, Duration limit) override {
    const TimePoint end = uring_->now() + limit;
    while (!done()) {
      const TimePoint t = uring_->now();
      if (t >= end) return false;
      uring_->RunOnce(std::min<Duration>(end - t, std::chrono::milliseconds(5)));
    }
    return true;
  }
  void RunFor(Duration d) override {
    const TimePoint end = uring_->now() + d;
    for (TimePoint t = uring_->now(); t < end; t = uring_->now()) uring_->RunOnce(end - t);
  }
  Duration default_limit() const override { return std::chrono::seconds(5); }
  uint64_t sends_issued() const override { return uring_->sends_issued(); }

 private:
  std::unique_ptr<Uring> uring_;
};

}  // namespace

std::unique_ptr<Harness> MakeUringHarness() {
  auto u = Uring::Create(0);
  if (!u.ok()) {
    ADD_FAILURE() << "io_uring unavailable: " << u.status().ToString();
    return nullptr;
  }
  return std::make_unique<UringHarness>(std::move(*u));
}

}  // namespace nvmpath::reactor::testing
