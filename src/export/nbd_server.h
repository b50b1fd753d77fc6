// exports::NbdServer — the NBD export of a running host: listeners on Unix sockets and TCP
// addresses, and one NbdSession per client connection.
//
// Threads: the listeners live on the home I/O thread (0). An accepted connection is handed, as a
// bare socket, to the next I/O thread in turn, which owns its session from then on; a session's
// requests are submitted to the head on that thread, so the data path has no hop and no lock.
// The per-thread session sets are touched only on their thread.
//
// Stop: the listeners close, every session stops taking requests (those that still arrive are
// answered ESHUTDOWN), answers what it has in flight and closes; Stop returns when every session
// is gone.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/io_threads.h"
#include "export/head_table.h"
#include "export/nbd_session.h"

namespace nvmpath::exports {

struct NbdServerCounters {
  uint64_t connections = 0;  // accepted so far
  uint64_t sessions = 0;     // open now
};

class NbdServer {
 public:
  // Listens on every address ("unix:PATH" or "ADDR:PORT"). REQUIRES: not on an I/O thread;
  // heads and threads outlive the server. Errors name the address (bind, a path in use, ...).
  static Result<std::unique_ptr<NbdServer>> Start(const std::vector<std::string>& addresses,
                                                  const HeadTable* heads,
                                                  client::IoThreads* threads);
  ~NbdServer();
  NbdServer(const NbdServer&) = delete;
  NbdServer& operator=(const NbdServer&) = delete;

  // The bound TCP ports, in the order of the addresses (0 for a Unix socket).
  const std::vector<uint16_t>& ports() const { return ports_; }
  // Stops as described above; idempotent. REQUIRES: not on an I/O thread.
  void Stop();
  NbdServerCounters counters() const;

 private:
  NbdServer(const HeadTable* heads, client::IoThreads* threads);
  // Home thread: a connection arrived; hand it on.
  void Accepted(std::unique_ptr<reactor::Stream> stream);
  // Thread `t`: make the socket a session there.
  void Adopt(unsigned t, int fd);
  void Finished(unsigned t, NbdSession* s);
  void Released();

  const HeadTable* const heads_;
  client::IoThreads* const threads_;
  std::vector<std::unique_ptr<reactor::Listener>> listeners_;  // home thread
  std::vector<uint16_t> ports_;
  // Per thread, touched only there.
  std::vector<std::unordered_map<NbdSession*, std::unique_ptr<NbdSession>>> sessions_;
  std::atomic<bool> stopping_{false};
  std::atomic<unsigned> next_thread_{0};
  std::atomic<uint64_t> connections_{0};
  bool stopped_ = false;

  // Sessions and handed-over sockets not yet destroyed; Stop waits for 0.
  std::mutex live_mu_;
  std::condition_variable live_cv_;
  uint64_t live_ = 0;  // guarded by live_mu_
};

}  // namespace nvmpath::exports
