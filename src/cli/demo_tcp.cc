#include "cli/demo_tcp.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <optional>

#include "blk/path.h"
#include "cli/demo_report.h"
#include "host/path_ns.h"
#include "mpath/multipath_host.h"
#include "reactor/uring.h"
#include "sim/verify_workload.h"
#include "target/target.h"

namespace nvmpath::cli {
namespace {

using blk::CtrlState;
using nvme::AnaState;

constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:demo";
constexpr char kHostnqn[] = "nqn.2024-01.io.nvmpath:demo-host";
constexpr uint32_t kNsid = 1;
constexpr uint32_t kBlockSize = 512;
constexpr uint64_t kNsBytes = 16ull << 20;
constexpr uint64_t kWorkloadBlocks = 8192;  // the first 4 MiB
constexpr size_t kPaths = 2;
// A path whose submitted count has not moved for this long is reported as having no I/O.
constexpr Duration kIdleAfter = 100ms;
constexpr size_t kNotesMax = 12;  // per window; the rest are counted
// A loop turn waits at most 1 ms for work; one this long means the thread did not run.
constexpr Duration kSlowTurn = 200ms;

// A fault the target plays at `fraction` of the run.
struct Step {
  double fraction;
  std::string what;
  std::function<Status(target::Target&)> act;
};

// What one path index has sent over the whole run. The PathNs behind a path index is replaced
// when the namespace goes and comes back (its counters start at 0), so the counts of the ones
// gone are kept in `base`.
struct PathTrack {
  const host::PathNs* ns = nullptr;
  uint64_t seen = 0;  // the current PathNs's submitted count at the last look
  uint64_t base = 0;  // what the PathNs objects before it sent
  std::string state;
  TimePoint last_io{0};
  bool active = false;
  uint64_t total() const { return base + seen; }
};

// The measurements of the event being watched.
struct Window {
  TimePoint start{0};
  mpath::HeadCounters head_at_start;
  std::array<uint64_t, kPaths> ios_at_start{};
  std::vector<DemoNote> notes;
  size_t notes_dropped = 0;
  Duration longest_pause{0};
};

class TcpDemo {
 public:
  TcpDemo(const TcpDemoOptions& options, const DemoProgress& progress)
      : options_(options), progress_(progress) {}
  ~TcpDemo() { Teardown(); }

  TcpDemoResult Run();

 private:
  Status Setup();
  Status MakeBackingFile();
  target::NamespaceConfig Namespace(bool fresh_memory = false) const;
  // Stops the workload, the host and the target, in that order. If any of it hangs, the objects
  // are leaked rather than destroyed with I/O in flight (their destructors assert on that).
  void Teardown();

  // Runs the host loop (and the observation) until `done` or `limit`. Calls into the host, the
  // head and the workload are posted to the loop: the head finds its shard by
  // reactor::Current(), which is only set inside a loop callback.
  bool RunHostUntil(const std::function<bool()>& done, Duration limit);
  // Runs `fn` on the target's thread and waits for it, keeping the host loop running.
  Status OnTarget(std::function<Status(target::Target&)> fn);

  bool Usable(size_t i) const;
  std::string PathStateText(size_t i) const;
  TimePoint Now() const { return host_loop_->now(); }
  void Note(TimePoint at, std::string what);
  // One host loop turn, then Observe.
  void Turn();
  // After every host loop turn: path states, per-path I/O, completions.
  void Observe();
  void OpenWindow(std::string what, Status status);
  void CloseWindow();
  std::vector<Step> Schedule();

  TcpDemoOptions options_;
  DemoProgress progress_;
  TcpDemoResult result_;

  std::string file_;
  std::unique_ptr<reactor::Uring> target_loop_;
  std::unique_ptr<reactor::Uring> host_loop_;
  std::unique_ptr<target::Target> target_;
  bool target_thread_ = false;
  std::unique_ptr<mpath::MultipathHost> host_;
  bool host_started_ = false;
  mpath::Head* head_ = nullptr;
  std::unique_ptr<sim::VerifyWorkload> workload_;
  bool workload_running_ = false;

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

target::NamespaceConfig TcpDemo::Namespace(bool fresh_memory) const {
  target::NamespaceConfig ns{
      .nsid = kNsid, .size_bytes = kNsBytes, .block_size = kBlockSize, .ana_group = 1};
  if (!fresh_memory) {
    ns.backend = target::BackendKind::kFile;
    ns.path = file_;
  }
  return ns;
}

Status TcpDemo::Setup() {
  // The namespace lives in a file so that it keeps its data when removed and added back.
  NVMP_RETURN_IF_ERROR(MakeBackingFile());
  auto tl = reactor::Uring::Create(0);
  if (!tl.ok()) return tl.status().WithContext("io_uring for the target");
  target_loop_ = std::move(*tl);
  auto hl = reactor::Uring::Create(0);
  if (!hl.ok()) return hl.status().WithContext("io_uring for the host");
  host_loop_ = std::move(*hl);

  // Ports 0: the kernel picks two free loopback ports; a re-enabled port comes back on the same.
  target::TargetConfig c;
  c.ports = {{.id = 1, .address = "127.0.0.1", .port = 0},
             {.id = 2, .address = "127.0.0.1", .port = 0}};
  target::SubsystemConfig s;
  s.nqn = kSubnqn;
  s.namespaces = {Namespace()};
  c.subsystems.push_back(s);
  auto t = target::Target::Create(c, {target_loop_.get()});
  if (!t.ok()) return t.status().WithContext("target config");
  target_ = std::move(*t);
  // Start and BoundPort run before the target's thread exists (Uring: "or before the loop").
  NVMP_RETURN_IF_ERROR(target_->Start().WithContext("starting the target"));
  std::array<uint16_t, kPaths> ports = {target_->BoundPort(1), target_->BoundPort(2)};
  target_loop_->StartThread();
  target_thread_ = true;

  mpath::MultipathHostOptions o;
  o.subnqn = kSubnqn;
  o.hostnqn = kHostnqn;
  o.hostid[15] = 1;
  for (size_t i = 0; i < kPaths; ++i) {
    o.paths.push_back({"127.0.0.1", ports[i]});
    result_.paths[i] = fmt::format("127.0.0.1:{}", ports[i]);
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
  if (!RunHostUntil([&] { return started.has_value(); }, 15s)) {
    return Status(Code::kTimedOut, "the host did not connect within 15 s");
  }
  NVMP_RETURN_IF_ERROR(started->WithContext("connecting the host"));
  if (!RunHostUntil([&] { return host_->head(kNsid) != nullptr; }, 5s)) {
    return Status(Code::kTimedOut, "the host found no namespace 1 within 5 s");
  }
  head_ = host_->head(kNsid);
  if (!RunHostUntil([&] { return Usable(0) && Usable(1); }, 10s)) {
    return Status(Code::kTimedOut, fmt::format("both paths were not usable within 10 s: {}",
                                               head_->DescribePathStates()));
  }
  return Status::Ok();
}

void TcpDemo::Teardown() {
  bool hung = false;
  if (workload_running_) {
    bool drained = false;
    host_loop_->Post([&] { workload_->Stop([&] { drained = true; }); });
    hung |= !RunHostUntil([&] { return drained; }, 30s);
    workload_running_ = false;
  }
  if (host_started_ && !hung) {
    bool down = false;
    host_loop_->Post([&] { host_->Shutdown([&] { down = true; }); });
    hung |= !RunHostUntil([&] { return down; }, 30s);
    host_started_ = false;
  }
  if (hung) {
    // Destroying a head or a workload with I/O in flight would assert; the process ends soon.
    if (result_.setup.ok()) result_.setup = Internal("the host did not shut down within 30 s");
    (void)workload_.release();
    (void)host_.release();
    (void)host_loop_.release();
  } else {
    // Let the last posted tasks run, the heads' messages among them.
    if (host_loop_) host_loop_->RunOnce(10ms);
    if (host_) RunHostUntil([&] { return host_->head_messages_in_flight() == 0; }, 5s);
    workload_.reset();
    host_.reset();
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

bool TcpDemo::RunHostUntil(const std::function<bool()>& done, Duration limit) {
  const TimePoint end = Now() + limit;
  while (!done()) {
    if (Now() >= end) return false;
    Turn();
  }
  return true;
}

void TcpDemo::Turn() {
  const TimePoint before = Now();
  host_loop_->RunOnce(1ms);
  const Duration took = Now() - before;
  if (took > kSlowTurn) {
    // Timers fire late after such a turn (I/O timeouts, keep-alive): say so, or the reaction
    // that follows would look like the host's own doing.
    ++result_.slow_turns;
    Note(before,
         fmt::format("the host's loop turn took {} (thread not running: machine busy?)", Ms(took)));
  }
  Observe();
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
  if (!RunHostUntil([&] { return call->done.load(std::memory_order_acquire); }, 5s)) {
    return Status(Code::kTimedOut, "the target did not answer within 5 s");
  }
  return call->status;
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

void TcpDemo::Observe() {
  if (!head_) return;
  const TimePoint now = Now();
  for (size_t i = 0; i < kPaths; ++i) {
    PathTrack& t = tracks_[i];
    const host::PathNs* p = host_->scanner(i)->path(kNsid);
    // TEST_Counters sums the path's per-reactor counters: safe here, between two turns of the
    // only reactor the host runs on.
    const uint64_t submitted = p ? p->TEST_Counters().submitted : 0;
    if (p != t.ns || submitted < t.seen) {
      t.base += t.seen;
      t.seen = 0;
      t.ns = p;
    }
    if (submitted > t.seen) {
      if (!t.active) Note(now, fmt::format("I/O flows on path {}", i + 1));
      t.active = true;
      t.last_io = now;
      t.seen = submitted;
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
  // The head's counters, read directly: the host's only reactor is between two turns.
  const mpath::HeadCounters hc = head_->TEST_Stats().head;
  const uint64_t done = hc.completed + hc.errors;
  if (window_ && workload_running_) {
    // The time since the last completion (or since the event), ended by one now or not.
    const TimePoint from = std::max(last_done_, window_->start);
    window_->longest_pause = std::max(window_->longest_pause, now - from);
  }
  if (done > done_seen_) {
    done_seen_ = done;
    last_done_ = now;
  }
}

void TcpDemo::OpenWindow(std::string what, Status status) {
  const TimePoint now = Now();
  pending_ = DemoEvent{};
  pending_.at = now - t0_;
  pending_.what = std::move(what);
  pending_.status = std::move(status);
  Window w;
  w.start = now;
  w.head_at_start = head_->TEST_Stats().head;
  for (size_t i = 0; i < kPaths; ++i) w.ios_at_start[i] = tracks_[i].total();
  window_ = std::move(w);
}

void TcpDemo::CloseWindow() {
  if (!window_) return;
  Window& w = *window_;
  const TimePoint now = Now();
  const mpath::HeadCounters hc = head_->TEST_Stats().head;
  DemoEvent& e = pending_;
  e.window = now - w.start;
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
  for (size_t i = 0; i < kPaths; ++i) e.path_ios[i] = tracks_[i].total() - w.ios_at_start[i];
  e.longest_pause = w.longest_pause;
  window_.reset();
  result_.events.push_back(e);
  if (progress_) progress_(FormatEvent(result_, result_.events.back()));
}

std::vector<Step> TcpDemo::Schedule() {
  const bool lose = options_.TEST_lose_data_on_readd;
  return {
      {0.10, "port 1 disabled", [](target::Target& t) { return t.SetPortEnabled(1, false); }},
      {0.20, "port 1 enabled", [](target::Target& t) { return t.SetPortEnabled(1, true); }},
      {0.30, "ANA: port 1 inaccessible",
       [](target::Target& t) { return t.SetAnaState(1, 1, AnaState::kInaccessible); }},
      {0.375, "ANA: port 1 optimized, port 2 non-optimized",
       [](target::Target& t) {
         NVMP_RETURN_IF_ERROR(t.SetAnaState(1, 1, AnaState::kOptimized));
         return t.SetAnaState(2, 1, AnaState::kNonOptimized);
       }},
      {0.45, "ANA: port 2 optimized",
       [](target::Target& t) { return t.SetAnaState(2, 1, AnaState::kOptimized); }},
      {0.50, "namespace 1 detached behind port 2 (port 1 still serves it)",
       [](target::Target& t) { return t.SetNamespaceAttached(kSubnqn, kNsid, 2, false); }},
      {0.55, "namespace 1 attached behind port 2 again",
       [](target::Target& t) { return t.SetNamespaceAttached(kSubnqn, kNsid, 2, true); }},
      {0.60, "namespace 1 removed from the subsystem (gone behind both ports)",
       [](target::Target& t) { return t.RemoveNamespace(kSubnqn, kNsid); }},
      {0.64,
       lose ? "namespace 1 added back, EMPTY (test: data lost)"
            : "namespace 1 added back (same file, data kept)",
       [this, lose](target::Target& t) { return t.AddNamespace(kSubnqn, Namespace(lose)); }},
      {0.70, fmt::format("namespace 1 grown to {} MiB (the target extends the file)",
                         2 * kNsBytes >> 20),
       [](target::Target& t) { return t.ResizeNamespace(kSubnqn, kNsid, 2 * kNsBytes); }},
      {0.78, "connections on port 2 dropped",
       [](target::Target& t) { return t.DropConnections(2); }},
      {0.88, "connections on both ports dropped",
       [](target::Target& t) {
         NVMP_RETURN_IF_ERROR(t.DropConnections(1));
         return t.DropConnections(2);
       }},
  };
}

TcpDemoResult TcpDemo::Run() {
  result_.setup = Setup();
  if (!result_.setup.ok()) {
    Teardown();
    return result_;
  }
  for (size_t i = 0; i < kPaths; ++i) tracks_[i].state = PathStateText(i);
  capacity_seen_ = head_->capacity_blocks();

  sim::VerifyWorkloadOptions w;
  w.blocks = kWorkloadBlocks;
  w.block_size = kBlockSize;
  w.max_blocks_per_io = 8;
  w.queue_depth = 16;
  w.error_backoff = 1ms;
  workload_ = std::make_unique<sim::VerifyWorkload>(*head_, *host_loop_, w, nullptr, nullptr);
  t0_ = Now();
  last_done_ = t0_;
  done_seen_ = head_->TEST_Stats().head.completed + head_->TEST_Stats().head.errors;
  host_loop_->Post([this] { workload_->Start(); });
  workload_running_ = true;
  OpenWindow(fmt::format("verify workload started (queue depth {}, up to {} KiB per I/O, "
                         "{} MiB checked)",
                         w.queue_depth, w.max_blocks_per_io * kBlockSize / 1024,
                         kWorkloadBlocks * kBlockSize >> 20),
             Status::Ok());

  const std::vector<Step> steps = Schedule();
  const TimePoint end = t0_ + options_.run;
  size_t next = 0;
  while (Now() < end) {
    if (next < steps.size() &&
        Now() >= t0_ + std::chrono::duration_cast<Duration>(options_.run * steps[next].fraction)) {
      CloseWindow();
      const Step& step = steps[next++];
      OpenWindow(step.what, Status::Ok());
      Status st = OnTarget(step.act);
      pending_.status = st;
      if (!st.ok()) {
        result_.failures.push_back(
            fmt::format("the target refused \"{}\": {}", step.what, st.ToString()));
      }
      continue;
    }
    Turn();
  }
  CloseWindow();
  result_.run = Now() - t0_;

  // Stop issuing, wait for what is in flight, then read back every block once.
  bool drained = false;
  host_loop_->Post([&] { workload_->Stop([&] { drained = true; }); });
  if (!RunHostUntil([&] { return drained; }, 30s)) {
    result_.failures.push_back("the workload's I/O did not drain within 30 s: " +
                               head_->DescribePathStates());
  } else {
    workload_running_ = false;
    const uint64_t before = workload_->stats().blocks_verified;
    bool verified = false;
    host_loop_->Post([&] { workload_->VerifyAll([&] { verified = true; }); });
    if (!RunHostUntil([&] { return verified; }, 60s)) {
      workload_running_ = true;  // still reading: Teardown waits for it
      result_.failures.push_back("the final read-back did not finish within 60 s");
    }
    result_.readback_blocks = workload_->stats().blocks_verified - before;
  }
  for (size_t i = 0; i < kPaths; ++i) {
    if (!RunHostUntil([&] { return Usable(i); }, 10s)) {
      result_.failures.push_back(fmt::format("path {} ({}) did not come back: {}", i + 1,
                                             result_.paths[i], PathStateText(i)));
    }
  }

  const sim::VerifyStats& vs = workload_->stats();
  const mpath::HeadCounters hc = head_->TEST_Stats().head;
  result_.ios = vs.ios;
  result_.app_errors = vs.errors;
  result_.head_errors = hc.errors;
  result_.failovers = hc.failovers;
  result_.requeues = hc.requeues;
  result_.retries = hc.retries;
  for (size_t i = 0; i < kPaths; ++i) result_.path_ios[i] = tracks_[i].total();
  result_.blocks_verified = vs.blocks_verified;
  result_.mismatches = vs.mismatches;
  if (vs.ios == 0) result_.failures.push_back("no I/O completed");
  if (vs.errors > 0) {
    result_.failures.push_back(fmt::format("{} I/Os failed in the application", vs.errors));
  }
  if (vs.mismatches > 0) {
    result_.failures.push_back(fmt::format("{} blocks read back wrong data", vs.mismatches));
  }

  Teardown();
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
