// TargetRunner: a whole running target — reactor::Uring threads, the target::Target on them, and
// the JSON-RPC control socket steering it. `nvmpath target` is this plus signal handling; the
// end-to-end tests run exactly the same thing.
//
// Start order: reactors (each on its own thread) → Target::Create and Start on reactors[0] (the
// control reactor, where every Target method must run) → RPC server whose handlers are posted to
// reactors[0]. Shutdown runs it backwards: no new control requests, Target::Stop, the Target
// destroyed on reactors[0], then the reactor threads joined.
//
// Thread: Start, Shutdown and the destructor from one owning thread (not a reactor thread).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/time.h"
#include "nvmpath/status.h"
#include "reactor/uring.h"
#include "target/config.h"
#include "control/rpc.h"
#include "control/rpc_server.h"
#include "target/target.h"

namespace nvmpath::target::control {

struct TargetRunnerOptions {
  unsigned reactors = 1;
  // Overrides config.control_socket when not empty; with neither, no control socket is opened.
  std::string control_socket;
  // How long a control request may wait for reactors[0].
  Duration rpc_timeout = std::chrono::seconds(10);
};

class TargetRunner {
 public:
  struct Port {
    uint16_t id = 0;
    std::string address;      // the numeric address bound, or as configured when not listening
    uint16_t bound_port = 0;  // 0: disabled, not listening
  };

  // Errors: kInvalidArgument (reactors out of 1..64, or what Target::Create rejects); the
  // reactor's error when io_uring is unavailable; Target::Start's error ("port 2 (...): address
  // in use"); nvmpath::control::RpcServer::Start's error. Nothing is left running after an error.
  static Result<std::unique_ptr<TargetRunner>> Start(TargetConfig config,
                                                     TargetRunnerOptions options);
  ~TargetRunner();
  TargetRunner(const TargetRunner&) = delete;
  TargetRunner& operator=(const TargetRunner&) = delete;

  // Stops everything (idempotent). Returns how it went: kTimedOut if the target did not report
  // its stop within 10 s (it is destroyed anyway).
  Status Shutdown();

  // Ports as bound at start (port 0 in the config shows the port the OS chose).
  const std::vector<Port>& ports() const { return ports_; }
  // The control socket path, or empty.
  const std::string& control_socket() const { return control_socket_; }
  // Runs `fn` on reactors[0] and returns its result (tests use it to read DescribeState).
  // Errors: kTimedOut after 10 s.
  Result<nlohmann::json> RunOnControlReactor(std::function<Result<nlohmann::json>()> fn);

 private:
  TargetRunner() = default;

  std::vector<std::unique_ptr<reactor::Uring>> reactors_;
  std::unique_ptr<Target> target_;
  nvmpath::control::RpcDispatcher dispatcher_;
  std::unique_ptr<nvmpath::control::RpcServer> server_;
  std::vector<Port> ports_;
  std::string control_socket_;
  bool running_ = false;
};

}  // namespace nvmpath::target::control
