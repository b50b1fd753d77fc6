#include "cli/demo_tcp.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "blk/path.h"
#include "cli/demo_report.h"
#include "host/path_ns.h"
#include "mpath/multipath_host.h"
#include "reactor/uring.h"
#include "sim/fabric.h"
#include "sim/host_faults.h"
#include "sim/runner.h"
#include "sim/target_faults.h"
#include "target/target.h"

namespace nvmpath::cli {
namespace {

using blk::CtrlState;
using nvme::AnaState;
namespace fault = sim::fault;

constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:demo";
constexpr char kHostnqn[] = "nqn.2024-01.io.nvmpath:demo-host";
constexpr uint32_t kNsid = 1;
constexpr uint32_t kBlockSize = 512;
constexpr uint64_t kNsBytes = 16ull << 20;
constexpr uint64_t kWorkloadBlocks = 8192;  // the first 4 MiB
constexpr uint32_t kQueueDepth = 16;
constexpr uint32_t kMaxBlocksPerIo = 8;
constexpr size_t kPaths = 2;
// A path whose sent count has not moved for this long is reported as having no I/O.
constexpr Duration kIdleAfter = 100ms;
constexpr size_t kNotesMax = 12;  // per window; the rest are counted
// A loop turn waits at most 1 ms for work; one this long means the thread did not run.
constexpr Duration kSlowTurn = 200ms;

// What one path index has sent over the whole run, from the head's per-path counters (read with
// Head::CollectStats). A path's counters start again at 0 when it leaves the head and comes back
// (the namespace goes and returns), so the counts of the ones gone are kept in `base`.
struct PathTrack {
  uint64_t seen = 0;  // the path's sent count at the last look
  uint64_t base = 0;  // what it sent before it last left the head
  // The path just came back into the head's listing: the first sample may still carry its slot's
  // counts from before (the shard was read before the slot's reset), so it is skipped.
  uint64_t rejoined_in = 0;  // the sample (stats serial) it came back in; 0: none
  bool listed = true;
  std::string state;
  TimePoint last_io{0};
  bool active = false;
  uint64_t total() const { return base + seen; }
};

// The measurements of the event being watched.
struct Window {
  TimePoint start{0};
  mpath::HeadCounters head_at_start;
  StatsHistogram gap_at_start;
  std::array<uint64_t, kPaths> ios_at_start{};
  std::vector<DemoNote> notes;
  size_t notes_dropped = 0;
  Duration longest_pause{0};
};

// The demo's fabric: the embedded target on its own io_uring thread and the multipath host on a
// second ring driven by the calling thread, in real time. Faults play on the target through
// sim::ApplyToTarget, as in the TCP storm; the scenario runner drives it (sim/runner.h). After
// every host loop turn it samples what the host does, for the timeline.
class TcpDemo final : public sim::Fabric {
 public:
  TcpDemo(const TcpDemoOptions& options, const DemoProgress& progress)
      : options_(options), progress_(progress) {}
  ~TcpDemo() override { Teardown(); }

  TcpDemoResult Run();

  // sim::Fabric
  TimePoint now() const override { return host_loop_->now(); }
  bool RunUntil(const std::function<bool()>& done, Duration limit) override;
  Status Start() override;
  std::vector<mpath::Head*> heads() const override { return {head_}; }
  std::vector<reactor::Reactor*> host_reactors() const override { return {host_loop_.get()}; }
  Status Apply(const sim::Fault& fault) override;
  Status Heal() override;
  bool AllPathsBack() const override { return Usable(0) && Usable(1); }
  std::string DescribePaths() const override { return head_->DescribePathStates(); }
  void AddTotals(sim::ScenarioReport& report) override;
  Status Stop() override;

 private:
  Status Setup();
  Status MakeBackingFile();
  // Stops the host and the target, in that order. If the host hangs, it is leaked rather than
  // destroyed with I/O in flight (its destructors assert on that).
  void Teardown();
  // Runs `fn` on the target's thread and waits for it, keeping the host loop running.
  Status OnTarget(std::function<Status(target::Target&)> fn);

  bool Usable(size_t i) const;
  std::string PathStateText(size_t i) const;
  void Note(TimePoint at, std::string what);
  // One host loop turn, then Observe.
  void Turn();
  // After every host loop turn: path states, per-path I/O, completions.
  void Observe();
  // Asks the head for its counters unless a request is on its way; they land in stats_.
  void RefreshStats();
  bool CollectStatsNow();
  void OpenWindow(std::string what);
  void CloseWindow();
  sim::Schedule Schedule() const;

  TcpDemoOptions options_;
  DemoProgress progress_;
  TcpDemoResult result_;

  std::string file_;
  sim::TargetModel model_;
  std::unique_ptr<reactor::Uring> target_loop_;
  std::unique_ptr<reactor::Uring> host_loop_;
  std::unique_ptr<target::Target> target_;
  bool target_thread_ = false;
  std::unique_ptr<mpath::MultipathHost> host_;
  bool host_started_ = false;
  bool hung_ = false;  // the host did not shut down: it was leaked
  mpath::Head* head_ = nullptr;

  mpath::HeadStats stats_;
  uint64_t stats_serial_ = 1;  // counts the samples that arrived
  bool stats_pending_ = false;
  bool observing_ = false;
  TimePoint t0_{0};
  std::array<PathTrack, kPaths> tracks_;
  uint64_t capacity_seen_ = 0;
  uint64_t done_seen_ = 0;  // head completions (OK or not) at the last look
  TimePoint last_done_{0};
  std::optional<Window> window_;
  DemoEvent pending_;  // the event whose window is open
};

std::string Ms(Duration d) { return fmt::format("{:.0f} ms", ToSeconds(d) * 1000); }

Status TcpDemo::MakeBackingFile() {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string tmpl = (dir / "nvmpath-demo-XXXXXX").string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return ErrnoStatus("creating the namespace file " + tmpl, errno);
  file_ = tmpl;
  const int rc = ::ftruncate(fd, static_cast<off_t>(kNsBytes));
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("sizing the namespace file " + file_, err);
  return Status::Ok();
}

Status TcpDemo::Setup() {
  // The namespace lives in a file so that it keeps its data when removed and added back.
  NVMP_RETURN_IF_ERROR(MakeBackingFile());
  // Ports 0: the kernel picks two free loopback ports; a re-enabled port comes back on the same.
  model_ = sim::TargetModel::Make(kSubnqn, kPaths, 0, 1, kNsBytes, {file_});
  model_.block_size = kBlockSize;
  auto tl = reactor::Uring::Create(0);
  if (!tl.ok()) return tl.status().WithContext("io_uring for the target");
  target_loop_ = std::move(*tl);
  auto hl = reactor::Uring::Create(0);
  if (!hl.ok()) return hl.status().WithContext("io_uring for the host");
  host_loop_ = std::move(*hl);

  auto t = target::Target::Create(model_.Config(), {target_loop_.get()});
  if (!t.ok()) return t.status().WithContext("target config");
  target_ = std::move(*t);
  // Start and BoundPort run before the target's thread exists (Uring: "or before the loop").
  NVMP_RETURN_IF_ERROR(target_->Start().WithContext("starting the target"));
  for (size_t i = 0; i < kPaths; ++i) {
    model_.tcp_ports[i] = target_->BoundPort(sim::TargetModel::PortId(static_cast<int>(i)));
  }
  target_loop_->StartThread();
  target_thread_ = true;

  mpath::MultipathHostOptions o;
  o.subnqn = kSubnqn;
  o.hostnqn = kHostnqn;
  o.hostid[15] = 1;
  for (size_t i = 0; i < kPaths; ++i) {
    o.paths.push_back({model_.address, model_.tcp_ports[i]});
    result_.paths[i] = fmt::format("{}:{}", model_.address, model_.tcp_ports[i]);
  }
  o.controller.reconnect_delay = 100ms;
  o.controller.ctrl_loss_tmo = 60s;
  o.controller.io_timeout = 2s;
  o.controller.connect_timeout = 2s;
  o.controller.kato = 2s;
  o.head.policy = mpath::Policy::kRoundRobin;  // both paths carry I/O while both are optimized
  o.head.queue_if_no_path = !options_.TEST_fail_without_path;
  host_ = std::make_unique<mpath::MultipathHost>(
      o, std::vector<reactor::Reactor*>{host_loop_.get()}, 0);
  std::optional<Status> started;
  host_loop_->Post([&] { host_->Start([&](Status st) { started = st; }); });
  host_started_ = true;
  if (!RunUntil([&] { return started.has_value(); }, 15s)) {
    return Status(Code::kTimedOut, "the host did not connect within 15 s");
  }
  NVMP_RETURN_IF_ERROR(started->WithContext("connecting the host"));
  if (!RunUntil([&] { return host_->head(kNsid) != nullptr; }, 5s)) {
    return Status(Code::kTimedOut, "the host found no namespace 1 within 5 s");
  }
  head_ = host_->head(kNsid);
  if (!RunUntil([&] { return Usable(0) && Usable(1); }, 10s)) {
    return Status(Code::kTimedOut, fmt::format("both paths were not usable within 10 s: {}",
                                               head_->DescribePathStates()));
  }
  return Status::Ok();
}

Status TcpDemo::Start() {
  result_.setup = Setup();
  return result_.setup;
}

void TcpDemo::Teardown() {
  bool hung = false;
  if (host_started_) {
    bool down = false;
    host_loop_->Post([&] { host_->Shutdown([&] { down = true; }); });
    hung |= !RunUntil([&] { return down; }, 30s);
    host_started_ = false;
  }
  if (hung) {
    hung_ = true;
    // Destroying a head with I/O in flight would assert; the process ends soon.
    if (result_.setup.ok()) result_.setup = Internal("the host did not shut down within 30 s");
    (void)host_.release();
    (void)host_loop_.release();
  } else {
    // Let the last posted tasks run, the heads' messages (and counter requests) among them.
    if (host_loop_) host_loop_->RunOnce(10ms);
    if (host_) {
      RunUntil([&] { return host_->head_messages_in_flight() == 0 && !stats_pending_; }, 5s);
    }
    host_.reset();
    head_ = nullptr;
  }
  if (target_ && target_thread_) {
    std::atomic<bool> stopped{false};
    target_loop_->Post([&] { target_->Stop([&] { stopped.store(true); }); });
    for (int i = 0; i < 500 && !stopped.load(); ++i) ::usleep(10000);
    target_loop_->Stop();
    target_loop_->Join();
    target_thread_ = false;
  }
  target_.reset();
  if (!hung) host_loop_.reset();
  target_loop_.reset();
  if (!file_.empty()) {
    ::unlink(file_.c_str());
    file_.clear();
  }
}

Status TcpDemo::Stop() {
  Teardown();
  return hung_ ? Internal("the host did not shut down within 30 s") : Status::Ok();
}

bool TcpDemo::RunUntil(const std::function<bool()>& done, Duration limit) {
  const TimePoint end = now() + limit;
  while (!done()) {
    if (now() >= end) return false;
    Turn();
  }
  return true;
}

void TcpDemo::Turn() {
  const TimePoint before = now();
  host_loop_->RunOnce(1ms);
  const Duration took = now() - before;
  if (took > kSlowTurn) {
    // Timers fire late after such a turn (I/O timeouts, keep-alive): say so, or the reaction
    // that follows would look like the host's own doing.
    ++result_.slow_turns;
    Note(before,
         fmt::format("the host's loop turn took {} (thread not running: machine busy?)", Ms(took)));
  }
  if (observing_) Observe();
}

Status TcpDemo::OnTarget(std::function<Status(target::Target&)> fn) {
  // Shared: if the target never answers, the task may still run after this returns.
  struct Call {
    std::atomic<bool> done{false};
    Status status;
  };
  auto call = std::make_shared<Call>();
  target::Target* t = target_.get();
  target_loop_->Post([call, t, fn = std::move(fn)] {
    call->status = fn(*t);
    call->done.store(true, std::memory_order_release);
  });
  if (!RunUntil([&] { return call->done.load(std::memory_order_acquire); }, 5s)) {
    return Status(Code::kTimedOut, "the target did not answer within 5 s");
  }
  return call->status;
}

// The model is only touched on the target's thread while the caller waits.
Status TcpDemo::Apply(const sim::Fault& fault) {
  if (sim::IsHostFault(fault)) return sim::ApplyToHost(*this, *host_loop_, fault);
  return OnTarget([this, fault](target::Target& t) { return sim::ApplyToTarget(&t, model_, fault); });
}

Status TcpDemo::Heal() {
  return OnTarget([this](target::Target& t) {
    for (int h = 0; h < model_.namespaces(); ++h) {
      if (model_.ns[h].present) continue;
      NVMP_RETURN_IF_ERROR(sim::ApplyToTarget(&t, model_, fault::NsPresent{h, true}));
    }
    model_.Heal();
    return sim::HealTarget(t, model_);
  });
}

bool TcpDemo::Usable(size_t i) const {
  const host::PathNs* p = host_->scanner(i)->path(kNsid);
  if (!p) return false;
  const blk::PathState s = p->state();
  return s.ctrl == CtrlState::kLive && s.ready && !s.ana_pending && nvme::AnaStateIsLive(s.ana);
}

std::string TcpDemo::PathStateText(size_t i) const {
  const host::PathNs* p = host_->scanner(i)->path(kNsid);
  if (p) return blk::DescribePathState(p->state());
  const host::Controller* c = host_->controller(i);
  return c->live() ? "live, no namespace 1" : blk::CtrlStateName(c->state());
}

void TcpDemo::Note(TimePoint at, std::string what) {
  if (!window_) return;
  if (window_->notes.size() >= kNotesMax) {
    ++window_->notes_dropped;
    return;
  }
  window_->notes.push_back({std::max(at - window_->start, Duration(0)), std::move(what)});
}

void TcpDemo::RefreshStats() {
  if (stats_pending_) return;
  stats_pending_ = true;
  head_->CollectStats([this](mpath::HeadStats s) {
    stats_ = std::move(s);
    ++stats_serial_;
    stats_pending_ = false;
  });
}

bool TcpDemo::CollectStatsNow() {
  const bool was_observing = observing_;
  observing_ = false;
  RunUntil([&] { return !stats_pending_; }, 5s);
  RefreshStats();
  const bool ok = RunUntil([&] { return !stats_pending_; }, 5s);
  observing_ = was_observing;
  return ok;
}

void TcpDemo::Observe() {
  const TimePoint now = this->now();
  RefreshStats();
  for (size_t i = 0; i < kPaths; ++i) {
    PathTrack& t = tracks_[i];
    // The head names a path after its controller; a path that left the head is not listed.
    const std::string& name = host_->controller(i)->name();
    uint64_t sent = 0;
    bool listed = false;
    for (const mpath::PathStats& ps : stats_.paths) {
      if (ps.name == name) {
        sent = ps.counters.ios;
        listed = true;
      }
    }
    if (listed && !t.listed) t.rejoined_in = stats_serial_;
    t.listed = listed;
    if (t.rejoined_in == stats_serial_) sent = 0;
    if (!listed || sent < t.seen) {  // gone, or back with fresh counters
      t.base += t.seen;
      t.seen = 0;
    }
    if (sent > t.seen) {
      if (!t.active) Note(now, fmt::format("I/O flows on path {}", i + 1));
      t.active = true;
      t.last_io = now;
      t.seen = sent;
    } else if (t.active && now - t.last_io > kIdleAfter) {
      t.active = false;
      Note(t.last_io, fmt::format("I/O on path {} stops", i + 1));
    }
    std::string state = PathStateText(i);
    if (state != t.state) {
      Note(now, fmt::format("path {} {}: {}", i + 1, result_.paths[i], state));
      t.state = std::move(state);
    }
  }
  if (head_->capacity_blocks() != capacity_seen_) {
    if (capacity_seen_ != 0) {
      Note(now,
           fmt::format("head capacity {} -> {} blocks", capacity_seen_, head_->capacity_blocks()));
    }
    capacity_seen_ = head_->capacity_blocks();
  }
  const mpath::HeadCounters& hc = stats_.head;
  const uint64_t done = hc.completed + hc.errors;
  if (window_) {
    // The time since the last completion (or since the event), ended by one now or not.
    const TimePoint from = std::max(last_done_, window_->start);
    window_->longest_pause = std::max(window_->longest_pause, now - from);
  }
  if (done > done_seen_) {
    done_seen_ = done;
    last_done_ = now;
  }
}

void TcpDemo::OpenWindow(std::string what) {
  const TimePoint now = this->now();
  pending_ = DemoEvent{};
  pending_.at = now - t0_;
  pending_.what = std::move(what);
  Window w;
  w.start = now;
  w.head_at_start = stats_.head;
  w.gap_at_start = stats_.failover_gap;
  for (size_t i = 0; i < kPaths; ++i) w.ios_at_start[i] = tracks_[i].total();
  window_ = std::move(w);
}

void TcpDemo::CloseWindow() {
  if (!window_) return;
  Window& w = *window_;
  const mpath::HeadCounters& hc = stats_.head;
  DemoEvent& e = pending_;
  e.window = now() - w.start;
  e.notes = std::move(w.notes);
  // A path's "I/O stops" is dated to its last I/O, noticed kIdleAfter later: order by time.
  std::stable_sort(e.notes.begin(), e.notes.end(),
                   [](const DemoNote& a, const DemoNote& b) { return a.at < b.at; });
  if (w.notes_dropped > 0) {
    e.notes.push_back({e.window, fmt::format("... and {} more state changes", w.notes_dropped)});
  }
  e.completed = hc.completed - w.head_at_start.completed;
  e.errors = hc.errors - w.head_at_start.errors;
  e.failovers = hc.failovers - w.head_at_start.failovers;
  e.requeues = hc.requeues - w.head_at_start.requeues;
  e.retries = hc.retries - w.head_at_start.retries;
  e.failover_gap = stats_.failover_gap;
  e.failover_gap.Subtract(w.gap_at_start);
  for (size_t i = 0; i < kPaths; ++i) e.path_ios[i] = tracks_[i].total() - w.ios_at_start[i];
  e.longest_pause = w.longest_pause;
  window_.reset();
  result_.events.push_back(e);
  if (progress_) progress_(FormatEvent(result_, result_.events.back()));
}

// The faults, at fractions of the run; entries at the same time are one event.
sim::Schedule TcpDemo::Schedule() const {
  const bool lose = options_.TEST_lose_data_on_readd;
  auto at = [&](double fraction) {
    return std::chrono::duration_cast<Duration>(options_.run * fraction);
  };
  const uint64_t grow_blocks = kNsBytes / kBlockSize;  // to twice the size
  return {
      {at(0.10), fault::PortEnabled{0, false}, true, {}},
      {at(0.20), fault::PortEnabled{0, true}, true, {}},
      {at(0.30), fault::Ana{0, 0, AnaState::kInaccessible}, true, {}},
      {at(0.375), fault::Ana{0, 0, AnaState::kOptimized}, true, {}},
      {at(0.375), fault::Ana{1, 0, AnaState::kNonOptimized}, false, {}},
      {at(0.45), fault::Ana{1, 0, AnaState::kOptimized}, true, {}},
      {at(0.50), fault::NsAttached{1, 0, false}, true, "port 1 still serves it"},
      {at(0.55), fault::NsAttached{1, 0, true}, true, {}},
      {at(0.60), fault::NsPresent{0, false}, true, "gone behind both ports"},
      {at(0.64), fault::NsPresent{0, true, lose}, true, lose ? "" : "same file, data kept"},
      {at(0.70), fault::NsGrow{0, grow_blocks}, true,
       fmt::format("to {} MiB: the target extends the file", 2 * kNsBytes >> 20)},
      {at(0.78), fault::DropConnections{1}, true, {}},
      {at(0.88), fault::DropConnections{0}, true, "both ports"},
      {at(0.88), fault::DropConnections{1}, false, {}},
  };
}

void TcpDemo::AddTotals(sim::ScenarioReport& report) {
  if (!CollectStatsNow()) result_.failures.push_back("the head's counters did not arrive");
  report.failovers = stats_.head.failovers;
  report.requeues = stats_.head.requeues;
  report.retries = stats_.head.retries;
  result_.head_errors = stats_.head.errors;
  result_.failover_gap = stats_.failover_gap;
  for (size_t i = 0; i < kPaths; ++i) result_.path_ios[i] = tracks_[i].total();
  for (size_t i = 0; i < kPaths; ++i) {
    if (!Usable(i)) {
      result_.failures.push_back(fmt::format("path {} ({}) did not come back: {}", i + 1,
                                             result_.paths[i], PathStateText(i)));
    }
  }
}

TcpDemoResult TcpDemo::Run() {
  sim::ScenarioOptions so;
  so.seed = 1;
  so.blocks = kWorkloadBlocks;
  so.block_size = kBlockSize;
  so.queue_depth = kQueueDepth;
  so.max_blocks_per_io = kMaxBlocksPerIo;
  so.error_backoff = 1ms;
  so.run_for = options_.run;
  so.settle_limit = 60s;
  so.on_phase = [this](sim::Phase phase) {
    if (phase == sim::Phase::kStarted) {
      t0_ = now();
      last_done_ = t0_;
      for (size_t i = 0; i < kPaths; ++i) tracks_[i].state = PathStateText(i);
      capacity_seen_ = head_->capacity_blocks();
      CollectStatsNow();
      done_seen_ = stats_.head.completed + stats_.head.errors;
      observing_ = true;
      OpenWindow(fmt::format("verify workload started (queue depth {}, up to {} KiB per I/O, "
                             "{} MiB checked)",
                             kQueueDepth, kMaxBlocksPerIo * kBlockSize / 1024,
                             kWorkloadBlocks * kBlockSize >> 20));
    } else {
      CollectStatsNow();
      Observe();
      CloseWindow();
      result_.run = now() - t0_;
      observing_ = false;
    }
  };
  so.before_fault = [this](const sim::TimedFault& e) {
    if (!e.primary) {  // part of the event whose window is open
      if (window_) pending_.what += ", " + sim::Describe(e);
      return;
    }
    // Counters as of now, not of the last sample: the window ends and the next starts here.
    CollectStatsNow();
    Observe();
    CloseWindow();
    OpenWindow(sim::Describe(e));
  };
  so.after_fault = [this](const sim::TimedFault& e, const Status& st) {
    if (!e.primary && st.ok()) return;
    if (pending_.status.ok()) pending_.status = st;
    if (!st.ok()) {
      result_.failures.push_back(
          fmt::format("the target refused \"{}\": {}", sim::Describe(e), st.ToString()));
    }
  };
  const sim::ScenarioReport r = sim::RunScenario(*this, Schedule(), so);
  if (!result_.setup.ok()) return result_;
  result_.ios = r.ios;
  result_.app_errors = r.app_errors;
  result_.failovers = r.failovers;
  result_.requeues = r.requeues;
  result_.retries = r.retries;
  result_.blocks_verified = r.blocks_verified;
  result_.readback_blocks = r.readback_blocks;
  result_.mismatches = r.mismatches;
  // The runner's violations that are not already said above in the demo's words.
  for (const std::string& v : r.violations) {
    if (v.rfind("\"", 0) == 0 || v.rfind("verify: head", 0) == 0) continue;
    result_.failures.push_back(v);
  }
  if (r.ios == 0) result_.failures.push_back("no I/O completed");
  if (r.app_errors > 0) {
    result_.failures.push_back(fmt::format("{} I/Os failed in the application", r.app_errors));
  }
  if (r.mismatches > 0) {
    result_.failures.push_back(fmt::format("{} blocks read back wrong data", r.mismatches));
  }
  return result_;
}

}  // namespace

int TcpDemoResult::exit_code() const {
  if (!setup.ok()) return 2;
  return failures.empty() ? 0 : 1;
}

TcpDemoResult RunTcpDemo(const TcpDemoOptions& options, const DemoProgress& progress) {
  TcpDemo demo(options, progress);
  return demo.Run();
}

}  // namespace nvmpath::cli
