// Discovery (issue 4 item 3): read a discovery controller's log, and turn its entries into the
// paths of one NVM subsystem.
//
// The log is read through a host::Controller of the discovery subsystem on a reactor of its own,
// driven on the calling thread for the duration of the call: Client::Discover and the discovery
// step of Client::Connect both run before any I/O thread exists.
#pragma once

#include <string>
#include <vector>

#include "client/host_identity.h"
#include "host/controller.h"
#include "nvme/discovery_log.h"
#include "nvmpath/client.h"

namespace nvmpath::client {

inline constexpr char kDiscoveryNqn[] = "nqn.2014-08.org.nvmexpress.discovery";

// The options of a controller of `discovery`'s discovery subsystem (a host name resolved),
// from the client's timeouts and digests. Errors: a host name that does not resolve.
Result<host::ControllerOptions> DiscoveryControllerOptions(const Endpoint& discovery,
                                                          const ClientOptions& options,
                                                          const HostIdentity& identity);

// Connects to `discovery`, reads its whole log, disconnects. Errors name the endpoint:
// "discovery 127.0.0.1:8009: connection refused", a rejected Connect, a timeout
// (options.connect_timeout for the association, io_timeout for the log), a malformed log.
// REQUIRES: not on a reactor thread.
Result<nvme::DiscoveryLog> ReadDiscoveryLog(const Endpoint& discovery, const ClientOptions& options,
                                            const HostIdentity& identity);

// One log entry in the API's terms.
DiscoveryEntry ToDiscoveryEntry(const nvme::DiscoveryLogEntry& entry);

struct DiscoveredPaths {
  std::string subnqn;
  std::vector<Endpoint> paths;
};

// The TCP paths (IPv4 or IPv6 addresses, or names) of `subnqn` among `entries` (NVM subsystem
// entries only). With `subnqn` empty, the log must list exactly one NVM subsystem. Errors
// (kNotFound / kInvalidArgument) name the discovery endpoint and the subsystems the log lists.
Result<DiscoveredPaths> PathsFromDiscovery(const std::vector<DiscoveryEntry>& entries,
                                           const std::string& subnqn, const Endpoint& discovery);

}  // namespace nvmpath::client
