#include "client/discovery_follower.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/assert.h"
#include "base/log.h"
#include "client/discovery.h"
#include "client/waiter.h"

namespace nvmpath::client {

DiscoveryFollower::DiscoveryFollower(Client* client, IoThreads* io, Options options)
    : client_(client), io_(io), options_(std::move(options)) {
  for (const Endpoint& e : options_.managed) managed_.insert(e.ToString());
}

DiscoveryFollower::~DiscoveryFollower() { Stop(); }

void DiscoveryFollower::Start() {
  NVMP_ASSERT(!started_, "DiscoveryFollower started twice");
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  host::ControllerOptions c = options_.controller;
  // A discovery controller that cannot be reached keeps being retried: the log is wanted for as
  // long as the client runs.
  c.retry_initial_connect = true;
  c.ctrl_loss_tmo = Duration(-1);
  io_->RunAndWait(0, [this, c] {
    ctrl_ = std::make_unique<host::Controller>(c, std::vector<reactor::Reactor*>{io_->reactor(0)},
                                               0);
    ctrl_->SetObserver(this);
    ctrl_->Start([](Status st) {
      if (!st.ok()) NVMP_LOG_WARN("persistent discovery: {} (retrying)", st.message());
    });
  });
}

void DiscoveryFollower::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Waiter deleted;
  io_->reactor(0)->Post([&] {
    ctrl_->SetObserver(nullptr);
    ctrl_->Delete([&] { deleted.Signal(); });
  });
  deleted.Wait();
  io_->RunAndWait(0, [this] { ctrl_.reset(); });
  // Destroying the controller posted its queues' teardown to home: let it run there.
  io_->Barrier();
}

uint64_t DiscoveryFollower::rounds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rounds_;
}

// ---- home ----

void DiscoveryFollower::OnStateChanged(host::Controller* ctrl) {
  if (ctrl->live()) ReadLog();
}

void DiscoveryFollower::OnAsyncEvent(host::Controller* ctrl, const host::AsyncEvent& event) {
  (void)ctrl;
  if (event.discovery_log_change()) ReadLog();
}

void DiscoveryFollower::ReadLog() {
  if (reading_) {
    read_again_ = true;
    return;
  }
  reading_ = true;
  read_again_ = false;
  ctrl_->GetDiscoveryLog([this](Result<nvme::DiscoveryLog> log) {
    reading_ = false;
    if (!log.ok()) {
      NVMP_LOG_WARN("persistent discovery {}: reading the log: {}", options_.discovery.ToString(),
                    log.status().message());
    } else {
      std::vector<DiscoveryEntry> entries;
      for (const auto& e : log->entries) entries.push_back(ToDiscoveryEntry(e));
      auto found = PathsFromDiscovery(entries, options_.subnqn, options_.discovery);
      // A log that no longer lists the subsystem at all lists none of its paths.
      std::vector<Endpoint> listed = found.ok() ? found->paths : std::vector<Endpoint>{};
      {
        std::lock_guard<std::mutex> lock(mu_);
        pending_ = std::move(listed);
      }
      cv_.notify_all();
    }
    if (read_again_ && ctrl_->live()) ReadLog();
  });
}

// ---- the follower's thread ----

void DiscoveryFollower::Run() {
  for (;;) {
    std::vector<Endpoint> listed;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || pending_.has_value(); });
      if (stopping_) return;
      listed = std::move(*pending_);
      pending_.reset();
    }
    Apply(listed);
    std::lock_guard<std::mutex> lock(mu_);
    ++rounds_;
  }
}

void DiscoveryFollower::Apply(const std::vector<Endpoint>& listed) {
  auto is_fixed = [&](const std::string& name) {
    return std::any_of(options_.fixed.begin(), options_.fixed.end(),
                       [&](const Endpoint& e) { return e.ToString() == name; });
  };
  std::set<std::string> now;
  for (const Endpoint& e : client_->paths()) now.insert(e.ToString());
  for (const Endpoint& e : listed) {
    const std::string name = e.ToString();
    if (!is_fixed(name)) managed_.insert(name);
    if (now.count(name) > 0) continue;
    Status st = client_->AddPath(e);
    if (st.ok()) {
      NVMP_LOG_INFO("persistent discovery: {} listed {}: path added", options_.subnqn, name);
    } else if (st.code() != Code::kAlreadyExists) {
      NVMP_LOG_WARN("persistent discovery: {} listed {}: {}", options_.subnqn, name, st.message());
    }
  }
  std::set<std::string> keep;
  for (const Endpoint& e : listed) keep.insert(e.ToString());
  for (const std::string& name : std::set<std::string>(managed_)) {
    if (keep.count(name) > 0 || now.count(name) == 0) continue;
    auto e = Endpoint::Parse(name);
    NVMP_ASSERT(e.ok(), "a managed path's name does not parse back");
    Status st = client_->RemovePath(*e, options_.drain_timeout);
    if (st.ok() || st.code() == Code::kNotFound) {
      managed_.erase(name);
      NVMP_LOG_INFO("persistent discovery: {} left the log of {}: path removed", name,
                    options_.subnqn);
    } else {
      NVMP_LOG_WARN("persistent discovery: removing {}: {}", name, st.message());
    }
  }
}

}  // namespace nvmpath::client
