#include "sim/runner.h"

#include <fmt/format.h>

#include <memory>

#include "sim/verify_workload.h"

namespace nvmpath::sim {
namespace {

class Runner {
 public:
  Runner(Fabric& fabric, const Schedule& schedule, const ScenarioOptions& options)
      : f_(fabric), schedule_(schedule), o_(options) {}

  ScenarioReport Run();

 private:
  void Line(const std::string& what) {
    if (o_.on_line) o_.on_line(fmt::format("t={:.3f}ms {}", ToMicros(f_.now() - t0_) / 1000, what));
  }
  void Violation(const std::string& what) {
    report_.violations.push_back(what);
    Line("VIOLATION: " + what);
  }
  // The checker records as Bios complete; after each event, name what broke since the last one,
  // so the timeline shows which fault it followed.
  void CheckAfterEvent();
  void StartWorkloads();
  // Runs `fn(workload, done)` for every workload on its reactor; true once all called done.
  bool OnEveryWorkload(const std::function<void(VerifyWorkload&, std::function<void()>)>& fn);
  // The step's expectations, in order; each one not met is a violation naming the step.
  void CheckExpectations(size_t step, const TimedFault& e);
  // False when the model spun without its clock reaching the next fault (a livelock).
  bool Play();
  ScenarioReport Hang(const std::string& phase);
  ScenarioReport Finish();

  Fabric& f_;
  const Schedule& schedule_;
  const ScenarioOptions& o_;
  ScenarioReport report_;
  InvariantChecker checker_;
  uint64_t next_bio_id_ = 1;
  size_t violations_seen_ = 0;
  std::vector<reactor::Reactor*> reactors_;
  std::vector<std::unique_ptr<VerifyWorkload>> workloads_;  // [head * reactors + reactor]
  TimePoint t0_{0};
};

void Runner::StartWorkloads() {
  const std::vector<mpath::Head*> heads = f_.heads();
  const uint64_t per = o_.blocks / reactors_.size();
  for (size_t h = 0; h < heads.size(); ++h) {
    for (size_t r = 0; r < reactors_.size(); ++r) {
      VerifyWorkloadOptions wo;
      wo.head_id = static_cast<uint32_t>(h);
      wo.first_lba = per * r;
      wo.blocks = per;
      wo.block_size = o_.block_size;
      wo.queue_depth = o_.queue_depth;
      wo.max_blocks_per_io = o_.max_blocks_per_io;
      wo.error_backoff = o_.error_backoff;
      wo.seed = o_.seed * 1000 + h * 10 + r;
      workloads_.push_back(std::make_unique<VerifyWorkload>(*heads[h], *reactors_[r], wo,
                                                            &checker_, &next_bio_id_));
      VerifyWorkload* w = workloads_.back().get();
      reactors_[r]->Post([w] { w->Start(); });
    }
  }
}

bool Runner::OnEveryWorkload(
    const std::function<void(VerifyWorkload&, std::function<void()>)>& fn) {
  auto left = std::make_shared<size_t>(workloads_.size());
  for (size_t i = 0; i < workloads_.size(); ++i) {
    VerifyWorkload* w = workloads_[i].get();
    reactors_[i % reactors_.size()]->Post([w, left, fn] { fn(*w, [left] { --*left; }); });
  }
  return f_.RunUntil([&] { return *left == 0; }, o_.settle_limit);
}

void Runner::CheckAfterEvent() {
  f_.CheckAfterEvent(checker_);
  const auto& v = checker_.violations();
  for (; violations_seen_ < v.size(); ++violations_seen_) {
    Line(fmt::format("VIOLATION after event {}: {}", report_.events, v[violations_seen_]));
  }
}

void Runner::CheckExpectations(size_t step, const TimedFault& e) {
  for (const Expectation& x : e.expect) {
    const std::function<bool()> holds = x.arm();
    if (x.after > Duration(0)) {
      const TimePoint until = f_.now() + x.after;
      f_.RunUntil([&] { return f_.now() >= until; }, x.after);
    }
    const bool met = holds() || (x.within > Duration(0) && f_.RunUntil(holds, x.within));
    if (met) {
      Line(fmt::format("expected after step {}: {} — met", step + 1, x.what));
      continue;
    }
    Violation(fmt::format("after step {} (\"{}\"): expected {}, not met{}; paths: {}", step + 1,
                          Describe(e), x.what,
                          x.within > Duration(0)
                              ? fmt::format(" within {:.0f} ms", ToMicros(x.within) / 1000)
                              : std::string(),
                          f_.DescribePaths()));
  }
}

bool Runner::Play() {
  // Entries after the last event never play: the heal comes then and undoes everything.
  size_t end = schedule_.size();
  while (end > 0 && !schedule_[end - 1].primary) --end;
  for (size_t i = 0; i < end; ++i) {
    const TimedFault& e = schedule_[i];
    const TimePoint at = t0_ + e.at;
    if (f_.now() < at) {
      f_.RunUntil([&] { return f_.now() >= at; }, at - f_.now());
      if (f_.now() < at) return false;
    }
    if (o_.before_fault) o_.before_fault(e);
    Line(Describe(e));
    Status st = f_.Apply(e.fault);
    if (!st.ok()) Violation(fmt::format("\"{}\" did not play: {}", Describe(e), st.ToString()));
    if (o_.after_fault) o_.after_fault(e, st);
    if (e.primary) {
      ++report_.events;
      CheckAfterEvent();
    }
    CheckExpectations(i, e);
  }
  const TimePoint run_end = t0_ + o_.run_for;
  if (f_.now() < run_end) {
    f_.RunUntil([&] { return f_.now() >= run_end; }, run_end - f_.now());
    if (f_.now() < run_end) return false;
  }
  return true;
}

ScenarioReport Runner::Hang(const std::string& phase) {
  uint64_t in_flight = 0;
  for (auto& w : workloads_) in_flight += w->in_flight();
  checker_.OnDataError(fmt::format("scenario did not finish ({}): {} I/Os still in flight; {}",
                                   phase, in_flight, f_.DescribePaths()));
  for (const auto& v : checker_.violations()) report_.violations.push_back(v);
  report_.hung = true;
  // Nothing can be torn down with Bios in flight: keep the workloads reachable for the life of
  // the process (so leak checkers stay quiet), as the caller keeps the fabric.
  static auto* hung_workloads = new std::vector<std::unique_ptr<VerifyWorkload>>;
  for (auto& w : workloads_) hung_workloads->push_back(std::move(w));
  workloads_.clear();
  return report_;
}

ScenarioReport Runner::Run() {
  report_.seed = o_.seed;
  if (Status st = f_.Start(); !st.ok()) {
    report_.violations.push_back("set-up: " + st.ToString());
    if (!f_.Stop().ok()) report_.hung = true;
    return report_;
  }
  reactors_ = f_.host_reactors();
  report_.heads = static_cast<int>(f_.heads().size());
  t0_ = f_.now();
  StartWorkloads();
  if (o_.on_phase) o_.on_phase(Phase::kStarted);
  if (!Play()) return Hang("events: the model spun without time passing");

  if (o_.on_phase) o_.on_phase(Phase::kPlayed);
  Line("heal: every fault undone");
  if (Status st = f_.Heal(); !st.ok()) Violation("heal: " + st.ToString());
  // Stop first: with no new I/O, waiting for the paths costs little.
  if (!OnEveryWorkload([](VerifyWorkload& w, std::function<void()> done) { w.Stop(done); })) {
    return Hang("drain");
  }
  if (!f_.RunUntil([&] { return f_.AllPathsBack(); }, o_.settle_limit)) {
    Violation("paths did not come back after the heal: " + f_.DescribePaths());
  }
  uint64_t before = 0;
  for (auto& w : workloads_) before += w->stats().blocks_verified;
  if (!OnEveryWorkload([](VerifyWorkload& w, std::function<void()> done) { w.VerifyAll(done); })) {
    return Hang("verify");
  }
  for (auto& w : workloads_) report_.readback_blocks += w->stats().blocks_verified;
  report_.readback_blocks -= before;
  return Finish();
}

ScenarioReport Runner::Finish() {
  checker_.CheckQuiesced();
  CheckAfterEvent();
  report_.head_ios.assign(f_.heads().size(), 0);
  for (size_t i = 0; i < workloads_.size(); ++i) {
    report_.head_ios[i / reactors_.size()] += workloads_[i]->stats().ios;
  }
  for (auto& w : workloads_) {
    report_.ios += w->stats().ios;
    report_.blocks_verified += w->stats().blocks_verified;
    report_.mismatches += w->stats().mismatches;
  }
  report_.app_errors = checker_.app_errors();
  report_.run_us = static_cast<uint64_t>(ToMicros(f_.now() - t0_));
  f_.AddTotals(report_);
  for (const auto& v : checker_.violations()) report_.violations.push_back(v);
  workloads_.clear();
  if (Status st = f_.Stop(); !st.ok()) {
    report_.violations.push_back("stop: " + st.ToString());
    report_.hung = true;
  }
  return report_;
}

}  // namespace

ScenarioReport RunScenario(Fabric& fabric, const Schedule& schedule,
                           const ScenarioOptions& options) {
  Runner runner(fabric, schedule, options);
  return runner.Run();
}

}  // namespace nvmpath::sim
