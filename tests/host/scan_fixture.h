// A controller + NamespaceScanner against the project's target on reactor::Sim, with a listener
// that records what the scanner does instead of grouping paths into heads — shared by
// path_ns_test.cc and ns_scan_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>

#include "host/controller.h"
#include "host/ns_scan.h"
#include "reactor/sim.h"
#include "target/target.h"

namespace nvmpath::host::testing {

using namespace std::chrono_literals;

inline constexpr char kScanSubnqn[] = "nqn.2024-01.io.nvmpath:scan-test";
inline constexpr char kScanHostnqn[] = "nqn.2024-01.io.nvmpath:scan-host";

// Records the scanner's calls; removal completes at once (no head to drain) unless held.
struct RecordingListener : NamespaceScanner::Listener, blk::PathObserver {
  std::map<uint32_t, NamespaceInfo> added;
  std::vector<uint32_t> removed;
  std::vector<Status> errors;
  int scans_done = 0;
  int ana_logs_done = 0;
  std::function<void()> on_ana_log_done;  // runs inside each OnAnaLogDone
  int notifications = 0;
  Status refuse;  // returned by OnPathAdded when not OK

  Status OnPathAdded(NamespaceScanner*, PathNs* path, const NamespaceInfo& info) override {
    if (!refuse.ok()) return refuse;
    added[info.nsid] = info;
    path->SetObserver(this);
    return Status::Ok();
  }
  void OnPathRemoved(NamespaceScanner*, PathNs* path, std::function<void()> done) override {
    removed.push_back(path->nsid());
    path->SetObserver(nullptr);
    done();
  }
  void OnScanDone(NamespaceScanner*, const Status&) override { ++scans_done; }
  void OnAnaLogDone(NamespaceScanner*, const Status&) override {
    ++ana_logs_done;
    if (on_ana_log_done) on_ana_log_done();
  }
  void OnError(NamespaceScanner*, const Status& e) override { errors.push_back(e); }
  void OnPathStateChanged(blk::Path*) override { ++notifications; }
};

class ScanFixture : public ::testing::Test {
 protected:
  ScanFixture() : world_(5) {
    h0_ = world_.AddReactor();
    t_ = world_.AddReactor();
  }
  ~ScanFixture() override {
    if (ctrl_) {
      bool deleted = false;
      bool removed = false;
      ctrl_->Delete([&] { deleted = true; });
      scanner_->RemoveAll([&] { removed = true; });
      EXPECT_TRUE(world_.RunUntil([&] { return deleted && removed; }, 5s));
      world_.RunFor(1ms);
      scanner_.reset();
      ctrl_.reset();
    }
    bool stopped = false;
    target_->Stop([&] { stopped = true; });
    world_.RunUntil([&] { return stopped; }, 5s);
  }

  static target::TargetConfig Config() {
    target::TargetConfig c;
    c.ports = {{.id = 1, .address = "127.0.0.1", .port = 4420}};
    target::SubsystemConfig s;
    s.nqn = kScanSubnqn;
    s.namespaces = {{.nsid = 1, .size_bytes = 1 << 20, .block_size = 512, .ana_group = 1},
                    {.nsid = 3, .size_bytes = 2 << 20, .block_size = 4096, .ana_group = 2}};
    c.subsystems.push_back(s);
    c.ana = {{.port_id = 1, .group = 2, .state = nvme::AnaState::kNonOptimized}};
    return c;
  }

  void Start(target::TargetConfig config = Config()) {
    auto t = target::Target::Create(config, {t_});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    ASSERT_TRUE(target_->Start().ok());
    ControllerOptions o;
    o.name = "c1";
    o.address = "127.0.0.1";
    o.port = 4420;
    o.subnqn = kScanSubnqn;
    o.hostnqn = kScanHostnqn;
    o.reconnect_delay = 200ms;
    o.ctrl_loss_tmo = 2s;
    ctrl_ = std::make_unique<Controller>(o, std::vector<reactor::Reactor*>{h0_}, 0);
    scanner_ = std::make_unique<NamespaceScanner>(ctrl_.get(), &listener_,
                                                  std::vector<reactor::Reactor*>{h0_}, 0);
    std::optional<Status> st;
    ctrl_->Start([&](Status s) { st = s; });
    ASSERT_TRUE(world_.RunUntil([&] { return st.has_value(); }, 10s));
    ASSERT_TRUE(st->ok()) << st->ToString();
    ASSERT_TRUE(world_.RunUntil([&] { return listener_.scans_done > 0 && Settled(); }, 2s));
  }

  bool Settled() const {
    for (uint32_t nsid : scanner_->nsids()) {
      if (scanner_->path(nsid)->state().ana_pending) return false;
    }
    return !scanner_->scanning();
  }

  void OnTarget(std::function<void()> fn) {
    bool done = false;
    t_->Post([&] {
      fn();
      done = true;
    });
    ASSERT_TRUE(world_.RunUntil([&] { return done; }, 1s));
  }

  reactor::SimWorld world_;
  reactor::Sim* h0_;
  reactor::Sim* t_;
  std::unique_ptr<target::Target> target_;
  std::unique_ptr<Controller> ctrl_;
  RecordingListener listener_;
  std::unique_ptr<NamespaceScanner> scanner_;
};

}  // namespace nvmpath::host::testing
