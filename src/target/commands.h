// Command handlers of the target, one file per command family (fabrics.cc, admin_commands.cc,
// io_commands.cc, discovery.cc). Each runs on reactors[0], receives the request after its data
// (if any) arrived, and completes it exactly once through Completer — now or later.
#pragma once

#include <memory>
#include <vector>

#include "target/connection.h"
#include "target/core.h"
#include "target/request.h"

namespace nvmpath::target {

// Completes a request on its connection if the connection still exists.
class Completer {
 public:
  Completer(std::weak_ptr<Connection> conn, std::shared_ptr<Request> req)
      : conn_(std::move(conn)), req_(std::move(req)) {}
  void operator()(CmdResult result) const {
    if (auto c = conn_.lock()) c->Respond(req_, std::move(result));
  }

 private:
  std::weak_ptr<Connection> conn_;
  std::shared_ptr<Request> req_;
};

// Fabrics commands (Connect, Property Get/Set, Disconnect) on any queue.
void ExecuteFabrics(Core& core, Connection& conn, std::shared_ptr<Request> req);
// Admin commands on a bound admin queue.
void ExecuteAdmin(Core& core, Connection& conn, Controller& ctrl, std::shared_ptr<Request> req);
// NVM I/O commands on a bound I/O queue.
void ExecuteIo(Core& core, Connection& conn, Controller& ctrl, std::shared_ptr<Request> req);

// The discovery log (LID 70h) as the host `hostnqn` connected through `port_id` sees it.
std::vector<uint8_t> BuildDiscoveryLog(Core& core, uint16_t port_id, std::string_view hostnqn);

// The admin queue takes at least 32 entries (the Fabrics minimum for ASQSZ, and what Linux and
// SPDK ask for) even when queue_size_max, which bounds I/O queues, is smaller.
inline constexpr uint16_t kAdminQueueEntriesMin = 32;
uint16_t AdminQueueEntriesMax(const TargetConfig& config);

// Transfers larger than this are refused before any R2T when the subsystem sets no MDTS.
inline constexpr uint32_t kMaxTransferNoMdts = 32u << 20;
// The largest data transfer a command on a controller of `subsystem` may have.
uint32_t MaxTransferBytes(const Subsystem& subsystem);

}  // namespace nvmpath::target
