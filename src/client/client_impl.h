// client::ClientImpl — a Client (include/nvmpath/client.h): I/O threads, the multipath host
// over them, and a Device per head the application opened.
//
// Threads: IoThreads (io_threads.h) runs the reactors; thread 0 is home, where the multipath
// host lives and every control operation runs. An application thread's control call (Open,
// Describe, counters...) posts to home and waits, holding control_mu_, so it never races with
// Close; on an I/O thread it runs directly on home (or hops to it) without the lock — Close never
// runs on an I/O thread, and home changes host_ only inside its own tasks.
//
// Close, in order, each step ended by a completion (nothing polls): new I/O is refused
// (kCancelled); the host shuts down (controllers deleted, so in-flight I/O fails over and then
// fails with kNoPath once no path is left; heads shut down, so queued I/O fails too); the client
// waits until every posted submission ran and no request is in flight on any thread (woken by
// the last one's end); each Device keeps its final counters; once no head has a message of its
// own in flight (MultipathHost::WhenHeadsQuiet) the host is destroyed on home; the teardown its
// destruction posted runs; the threads stop.
//
// Geometry: the client is the host's observer (MultipathHostObserver): a head's new capacity or
// block size, or a controller's new transfer limit, reaches the Devices' atomics in the same
// home event in which the head or controller learned it.
//
// Invariants: host_ and devices_ are touched only on home (or after the threads stopped); a
// Device's head outlives every I/O the device submitted (Close drains before destroying).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "client/device.h"
#include "client/discovery_follower.h"
#include "client/host_identity.h"
#include "client/io_threads.h"
#include "mpath/multipath_host.h"
#include "nvmpath/client.h"

namespace nvmpath::client {

class ClientImpl final : public Client, private mpath::MultipathHostObserver {
 public:
  // Client::Connect. Errors: kInvalidArgument (options; on a reactor thread), the discovery
  // step's, or — no path live — every path's failure (connect_failure.h), with the first
  // path's code.
  static Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  // The same on I/O threads the caller made and shares with other clients (a host serving
  // several subsystems: one set of threads, so an export's connection submits to any head
  // without a hop). options.io_threads is ignored. Close then leaves the threads running; their
  // owner stops them once every client sharing them is closed.
  static Result<std::unique_ptr<ClientImpl>> ConnectOn(const ClientOptions& options,
                                                       std::shared_ptr<IoThreads> threads);
  ~ClientImpl() override;

  Result<Device*> Open(uint32_t nsid) override;
  Result<Device*> OpenFirst() override;
  std::vector<uint32_t> nsids() const override;
  SubsystemInfo Describe() const override;
  unsigned io_threads() const override { return io_->size(); }
  void RunOnIoThread(unsigned thread, std::function<void()> fn) override;
  std::optional<unsigned> CurrentIoThread() const override { return io_->Current(); }
  void Close() override;

  Status AddPath(const Endpoint& path) override;
  Status RemovePath(const Endpoint& path, std::chrono::milliseconds drain_timeout) override;
  Status ResetPath(const Endpoint& path) override;
  void Rescan() override;
  void SetPolicy(PathPolicy policy) override;
  Status SetTimeouts(const TimeoutChange& change) override;
  std::vector<Endpoint> paths() const override;
  const std::string& subnqn() const { return options_.subnqn; }
  const std::string& hostnqn() const { return identity_.hostnqn; }
  const HostIdentity& identity() const { return identity_; }
  const ClientOptions& options() const { return options_; }
  // The multipath host's own counters (paths added, removed, ...). Not on an I/O thread.
  mpath::MultipathHostCounters host_counters() const;
  // The policy now (SetPolicy changes it). Not on an I/O thread.
  PathPolicy policy() const;

  // ---- for DeviceImpl ----
  // Runs `fn` on home with the host, or with nullptr once the client is closed; waits for it.
  void WithHost(const std::function<void(mpath::MultipathHost*)>& fn) const;
  // The same, but waits until `fn` calls `finished` (on home). REQUIRES: not on an I/O thread.
  void WithHostAsync(
      const std::function<void(mpath::MultipathHost*, std::function<void()> finished)>& fn) const;
  // Close began: this client's devices refuse new I/O (kCancelled).
  bool closing() const { return closing_.load(std::memory_order_acquire); }
  // REQUIRES: on home, host alive, a head for `nsid`.
  DeviceInfo DescribeDevice(uint32_t nsid) const;

 private:
  ClientImpl(ClientOptions options, HostIdentity identity, std::vector<Endpoint> paths,
             std::shared_ptr<IoThreads> threads);
  static Result<std::unique_ptr<ClientImpl>> Make(const ClientOptions& options,
                                                  std::shared_ptr<IoThreads> threads);

  // Threads, host, Start; waits for Start. Errors: see Connect.
  Status Start();
  // Home: every path's failure in one message.
  Status StartFailure(const Status& overall) const;
  // Home: a Device for every head that has none yet (after a path brought new namespaces).
  void MakeDevices();
  // Home: the Device of `head`, made on first use.
  DeviceImpl* DeviceFor(uint32_t nsid, mpath::Head* head);
  // Home: a device's geometry from its head and the controllers' transfer limits.
  void Refresh(DeviceImpl* d);
  uint32_t MaxIoBlocks(uint32_t block_size) const;

  // MultipathHostObserver (home)
  void OnHeadGeometryChanged(uint32_t nsid) override;
  void OnTransferLimitChanged() override;

  const ClientOptions options_;  // subnqn resolved (discovery)
  const HostIdentity identity_;
  const std::vector<Endpoint> paths_;  // as connected first; host_ has the paths now
  std::shared_ptr<IoThreads> io_;
  const bool owns_threads_;  // made by Start, stopped by Close

  // home
  std::unique_ptr<mpath::MultipathHost> host_;
  std::map<uint32_t, std::unique_ptr<DeviceImpl>> devices_;

  // Persistent discovery, stopped first by Close (its thread calls AddPath / RemovePath).
  std::unique_ptr<DiscoveryFollower> follower_;
  std::vector<Endpoint> discovered_;  // the paths the discovery log gave at connect

  std::atomic<bool> closing_{false};
  mutable std::mutex control_mu_;
  bool closed_ = false;  // guarded by control_mu_
};

}  // namespace nvmpath::client
