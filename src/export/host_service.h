// exports::HostService — `nvmpath host`: the multipath host of one or more subsystems on one
// set of I/O threads, and the exports that let unmodified programs use its heads.
//
// Start: the I/O threads, then one Client per subsystem on them (subsystem S names its heads
// "nvmpath<S>n<NSID>"), then the exports. Every subsystem must connect (at least one live path
// each) or Start fails naming it; once running, a path that is lost is retried and, past
// ctrl_loss_tmo, made again when its address answers (ClientOptions::recreate_lost_paths).
//
// Stop, in order: the exports stop taking requests and answer what they have in flight (NBD
// sessions close, the FUSE file system is unmounted); every head is flushed (bounded by
// stop_flush_timeout: a head with no path left is named, not waited for forever); the clients
// disconnect; the threads stop. Heads live as long as their Client, so no head goes away while
// an export can still reach it.
//
// While running (host-ctl, persistent discovery): Connect adds a subsystem, or paths to one
// already connected; Disconnect drains and removes paths. A subsystem stays once connected, even
// with no path left — its heads keep their names and stay exported, queueing or failing I/O by
// its options — so nothing an export holds ever goes away before Stop.
//
// Thread: Start, Stop and the destructor on an application thread (never an I/O thread); the
// run-time calls on any application thread (they block; the control socket serves them one at a
// time), never concurrently with Stop.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/client_impl.h"
#include "client/io_threads.h"
#include "export/fuse_export.h"
#include "export/head_table.h"
#include "export/nbd_server.h"

namespace nvmpath::exports {

struct HostServiceOptions {
  std::vector<ClientOptions> subsystems;
  unsigned io_threads = 1;
  std::vector<std::string> nbd;  // "unix:PATH" or "ADDR:PORT"
  std::string fuse;              // mount directory, "" for none
  // Stop waits this long for the heads' flush; a head with no path left may never flush (its
  // writes are then as safe as the target's volatile cache keeps them) and is named instead.
  std::chrono::milliseconds stop_flush_timeout{10000};
};

class HostService {
 public:
  static Result<std::unique_ptr<HostService>> Start(HostServiceOptions options);
  ~HostService();
  HostService(const HostService&) = delete;
  HostService& operator=(const HostService&) = delete;

  const HeadTable& heads() const { return *heads_; }
  // Valid until Stop. Thread-safe (a subsystem may be added meanwhile).
  client::ClientImpl* client(unsigned subsystem) const;
  size_t subsystem_count() const;
  unsigned io_threads() const { return options_.io_threads; }

  // ---- run-time changes ----
  struct ConnectResult {
    unsigned subsystem = 0;          // S of the heads "nvmpath<S>n<NSID>"
    bool new_subsystem = false;
    std::vector<Endpoint> added;     // paths added now
    std::vector<std::string> errors; // a path that could not be added, and why
  };
  // A subsystem not connected yet (by NQN, or the one discovery finds) is connected with
  // `options` (io_threads: the host's) and exported; for one already connected, every path of
  // `options` (and of its discovery log) it does not have yet is added. Errors: as
  // Client::Connect for a new subsystem; for an existing one, kAlreadyExists when every path is
  // already there, or the first failure when no path could be added.
  Result<ConnectResult> Connect(ClientOptions options);
  // Removes every path of subsystem `nqn` (its heads stay: see above). Errors: kNotFound naming
  // the subsystems.
  Status DisconnectSubsystem(const std::string& nqn, std::chrono::milliseconds drain_timeout);
  // Removes one path from whichever subsystem has it. Errors: kNotFound naming the paths.
  Status DisconnectPath(const Endpoint& path, std::chrono::milliseconds drain_timeout);
  // The subsystem whose NQN is `nqn`, or nullopt.
  std::optional<unsigned> FindSubsystem(const std::string& nqn) const;
  // Bound TCP ports of the NBD addresses, in their order (0 for Unix sockets).
  std::vector<uint16_t> nbd_ports() const;
  const NbdServer* nbd() const { return nbd_.get(); }

  // As described above; idempotent. The result names every head whose flush failed.
  Status Stop();

 private:
  HostService() = default;
  // Flushes every head, bounded by stop_flush_timeout; what failed or did not finish, worded.
  std::string FlushAll();

  HostServiceOptions options_;
  std::shared_ptr<client::IoThreads> threads_;
  mutable std::mutex clients_mu_;  // clients_ grows while others read it
  std::vector<std::unique_ptr<client::ClientImpl>> clients_;
  std::unique_ptr<HeadTable> heads_;
  std::unique_ptr<NbdServer> nbd_;
  std::unique_ptr<FuseExport> fuse_;
  bool stopped_ = false;
};

}  // namespace nvmpath::exports
