// The project's target on a reactor::Uring thread of the test process, for Client API tests.
//
// Two ports on free 127.0.0.1 ports (found by binding port 0 once, then re-created on those
// numbers: a re-enabled port re-binds its configured number, so it must be a fixed one).
// Subsystem kSubnqn with namespaces 1 and 2 (4 MiB each, 512-byte blocks, ANA group 1); group 1
// is optimized through port 1 and non-optimized through port 2. Control methods run on the
// target's thread through Run().
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "base/assert.h"
#include "client/waiter.h"
#include "reactor/uring.h"
#include "target/target.h"

namespace nvmpath::client_test {

inline constexpr char kSubnqn[] = "nqn.2024-01.io.nvmpath:client-test";
inline constexpr uint64_t kNsBytes = 4 << 20;

class TargetOnThread {
 public:
  // `port2_enabled` false: port 2 exists (its number is reserved) but does not listen.
  // `mdts_pages`: the subsystem's MDTS as 2^n pages of 4 KiB (0: no limit), for tests whose
  // requests must be split into several device commands.
  explicit TargetOnThread(bool port2_enabled = true, uint32_t mdts_pages = 0)
      : mdts_pages_(mdts_pages) {
    auto u = reactor::Uring::Create(0);
    NVMP_ASSERT(u.ok());
    ring_ = std::move(u).value();
    ring_->StartThread();
    // Three free port numbers: two for the target, one nobody listens on.
    Run([&] {
      auto probe = target::Target::Create(Config(0, 0, 0, true, 0), {ring_.get()});
      NVMP_ASSERT(probe.ok());
      NVMP_ASSERT((*probe)->Start().ok());
      p1_ = (*probe)->BoundPort(1);
      p2_ = (*probe)->BoundPort(2);
      unused_ = (*probe)->BoundPort(3);
      probe_ = std::move(probe).value();
    });
    StopTarget(probe_);
    Run([&] {
      auto t = target::Target::Create(Config(p1_, p2_, 0, port2_enabled, mdts_pages_),
                                      {ring_.get()});
      NVMP_ASSERT(t.ok());
      Status st = (*t)->Start();
      NVMP_ASSERT(st.ok(), "target start failed");
      target_ = std::move(t).value();
    });
  }

  ~TargetOnThread() {
    StopTarget(target_);
    ring_->Stop();
    ring_->Join();
  }

  uint16_t port1() const { return p1_; }
  uint16_t port2() const { return p2_; }
  uint16_t unused_port() const { return unused_; }

  // Runs `fn` on the target's thread and waits.
  void Run(const std::function<void()>& fn) {
    client::Waiter w;
    ring_->Post([&] {
      fn();
      w.Signal();
    });
    w.Wait();
  }
  void Control(const std::function<Status(target::Target&)>& fn) {
    Status st;
    Run([&] { st = fn(*target_); });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

 private:
  static target::TargetConfig Config(uint16_t p1, uint16_t p2, uint16_t p3, bool p2_enabled,
                                     uint32_t mdts_pages) {
    target::TargetConfig c;
    c.ports = {{.id = 1, .address = "127.0.0.1", .port = p1},
               {.id = 2, .address = "127.0.0.1", .port = p2, .enabled = p2_enabled}};
    if (p1 == 0) c.ports.push_back({.id = 3, .address = "127.0.0.1", .port = p3});
    target::SubsystemConfig s;
    s.nqn = kSubnqn;
    s.mdts_pages = mdts_pages;
    s.namespaces = {{.nsid = 1, .size_bytes = kNsBytes, .block_size = 512, .ana_group = 1},
                    {.nsid = 2, .size_bytes = kNsBytes, .block_size = 512, .ana_group = 1}};
    c.subsystems.push_back(s);
    c.ana = {{.port_id = 2, .group = 1, .state = nvme::AnaState::kNonOptimized}};
    return c;
  }

  void StopTarget(std::unique_ptr<target::Target>& t) {
    if (!t) return;
    client::Waiter w;
    ring_->Post([&] { t->Stop([&] { w.Signal(); }); });
    w.Wait();
    Run([&] { t.reset(); });
  }

  std::unique_ptr<reactor::Uring> ring_;
  std::unique_ptr<target::Target> probe_;
  std::unique_ptr<target::Target> target_;
  const uint32_t mdts_pages_;
  uint16_t p1_ = 0, p2_ = 0, unused_ = 0;
};

}  // namespace nvmpath::client_test
