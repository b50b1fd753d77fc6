// client::DiscoveryFollower — persistent discovery (ClientOptions::persistent_discovery), what
// nvme-stas does for Linux: a controller of the discovery subsystem stays connected (keep-alive,
// reconnecting forever), and each Discovery Log Change notice — or a return to live, since
// notices may have been missed while it was down — makes it read the log again; the subsystem's
// paths then follow the log: a path listed and not connected is added, a path the follower
// manages that left the log is drained and removed. Paths the application gave itself
// (ClientOptions::paths) are never removed.
//
// Threads: the discovery controller lives on the client's home I/O thread, where the log is read.
// Adding and removing paths blocks (Client::AddPath / RemovePath), so the result of each read
// goes to the follower's own thread, which applies the newest one; reads that arrive while it
// works are folded into the next round.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/io_threads.h"
#include "host/controller.h"
#include "nvmpath/client.h"

namespace nvmpath::client {

class DiscoveryFollower final : private host::ControllerObserver {
 public:
  struct Options {
    host::ControllerOptions controller;  // of the discovery controller
    std::string subnqn;                  // the NVM subsystem whose paths follow the log
    Endpoint discovery;
    std::vector<Endpoint> fixed;         // given by the application: never removed
    std::vector<Endpoint> managed;       // found in the log at connect: removed when they leave
    std::chrono::milliseconds drain_timeout{10000};
  };
  // REQUIRES: `client` and `io` outlive the follower (Stop before the client closes).
  DiscoveryFollower(Client* client, IoThreads* io, Options options);
  ~DiscoveryFollower() override;
  DiscoveryFollower(const DiscoveryFollower&) = delete;
  DiscoveryFollower& operator=(const DiscoveryFollower&) = delete;

  // Connects the discovery controller and starts following. Not on an I/O thread.
  void Start();
  // Stops following, then deletes the discovery controller. Idempotent; not on an I/O thread.
  void Stop();

  // Log reads applied so far (for tests waiting on a change).
  uint64_t rounds() const;

 private:
  // home
  void OnStateChanged(host::Controller* ctrl) override;
  void OnAsyncEvent(host::Controller* ctrl, const host::AsyncEvent& event) override;
  void ReadLog();
  // the follower's thread
  void Run();
  void Apply(const std::vector<Endpoint>& listed);

  Client* const client_;
  IoThreads* const io_;
  const Options options_;
  std::unique_ptr<host::Controller> ctrl_;  // home
  bool reading_ = false;                    // home
  bool read_again_ = false;                 // home

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::vector<Endpoint>> pending_;  // guarded by mu_: the newest listing
  bool stopping_ = false;                         // guarded by mu_
  uint64_t rounds_ = 0;                           // guarded by mu_
  std::set<std::string> managed_;                 // the follower's thread
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace nvmpath::client
