// RpcServer: the target's JSON-RPC control socket, a Unix stream socket carrying one request per
// line (rpc.h says what a line may hold).
//
// Why a thread and not a reactor: reactor::Reactor has TCP only, and control is rare and off the
// data path. So the server is one small thread with poll(2) over non-blocking sockets; each
// request is handed to the dispatcher's executor, which for a target posts the handler to
// reactors[0] and waits for its answer (ReactorExecutor). Requests are served one at a time, in
// arrival order, so two clients' changes never interleave inside a method.
//
// Bounds: at most `max_clients` connections (one more is told why and closed), request lines of
// at most `max_line_bytes` (a longer one gets a -32600 error and is skipped up to its newline;
// the connection stays usable), at most `max_output_bytes` of unread responses per client (a
// client that stops reading is disconnected). A client that disconnects mid-line loses only its
// own partial line.
//
// Thread: Start/Stop/the destructor from one owning thread; the server thread runs the loop.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "base/time.h"
#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "control/rpc.h"

namespace nvmpath::control {

struct RpcServerOptions {
  std::string socket_path;
  size_t max_line_bytes = size_t{1} << 20;
  size_t max_clients = 16;
  size_t max_output_bytes = size_t{16} << 20;
  // Where handlers run; empty: on the server thread.
  RpcDispatcher::Executor executor;
};

class RpcServer {
 public:
  // Binds `options.socket_path` (replacing a stale socket file nobody listens on) and starts the
  // server thread. `dispatcher` must outlive the server.
  // Errors: kInvalidArgument (path empty or longer than a Unix socket path may be);
  // kAlreadyExists ("... is in use by a running server", or the path is not a socket);
  // ErrnoStatus of socket/bind/listen/eventfd.
  static Result<std::unique_ptr<RpcServer>> Start(const RpcDispatcher& dispatcher,
                                                  RpcServerOptions options);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Closes every connection, joins the thread and removes the socket file. Idempotent.
  void Stop();

  const std::string& socket_path() const { return options_.socket_path; }
  // Statistics (thread-safe), for tests and the state dump.
  uint64_t requests_served() const { return requests_served_.load(); }
  uint64_t clients_rejected() const { return clients_rejected_.load(); }

 private:
  RpcServer(const RpcDispatcher& dispatcher, RpcServerOptions options);
  void Loop();

  const RpcDispatcher& dispatcher_;
  RpcServerOptions options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes poll(2)
  std::thread thread_;
  std::atomic<uint64_t> requests_served_{0};
  std::atomic<uint64_t> clients_rejected_{0};
};

// An executor that runs each handler on `reactor` (Post) and waits for it at most `timeout`.
// A call that does not finish in time fails with kTimedOut ("the target did not answer within
// 10 s"); it may still run later, on its own copies of its arguments.
RpcDispatcher::Executor ReactorExecutor(reactor::Reactor& reactor, Duration timeout);

}  // namespace nvmpath::control
