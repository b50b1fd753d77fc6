// The connection options every host subcommand of `nvmpath` shares (list-subsys, io, bench):
// which subsystem, through which paths, and the controller and multipath settings — turned into
// a ClientOptions with errors that name the flag and the value.
//
// Durations follow nvme-cli: a plain number is seconds ("--ctrl-loss-tmo 600"); a suffix picks
// the unit ("--reconnect-delay 500ms", "2s", "1m"). -1 means "forever" for --ctrl-loss-tmo and
// "off" for --fast-io-fail-tmo.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvmpath/client.h"

namespace nvmpath::cli {

struct ConnectionArgs {
  std::vector<std::string> paths;  // --path, one per path
  std::string discovery;           // --discovery
  bool persistent = false;         // --persistent: follow the discovery log while running
  std::string nqn;
  std::string hostnqn;
  std::string hostid;
  std::optional<uint32_t> nsid;  // --ns; none: the first namespace
  std::string policy = "numa";
  unsigned reactors = 1;
  bool hdr_digest = false;
  bool data_digest = false;
  unsigned queue_size = 128;
  std::string head_qos;  // "iops=N,bw=SIZE/s,depth=N" (empty: unlimited)
  std::string path_qos;
  // Durations as given (empty: ClientOptions' default).
  std::string keep_alive_tmo;
  std::string reconnect_delay;
  std::string ctrl_loss_tmo;
  std::string fast_io_fail_tmo;
  std::string connect_timeout;
  std::string io_timeout;
  std::string no_path_timeout;
  std::string fence_delay;
  bool json = false;     // --json: machine-readable output
  bool verbose = false;  // --verbose: the host's warnings (reconnects, path changes) on stderr
};

// Registers the shared options (and --json) on `cmd`, storing into `args`.
void AddConnectionOptions(CLI::App* cmd, ConnectionArgs* args);

// "600" (seconds), "500ms", "2s", "1m"; "-1" when `allow_negative`. Errors name `flag` and the
// text.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text, std::string_view flag,
                                                bool allow_negative);

// Checks every option and builds the ClientOptions. Errors name the flag and the value
// ("--path 'x:99999': ...", "--policy 'bogus': unknown policy ... (expected numa, ...)").
Result<ClientOptions> ToClientOptions(const ConnectionArgs& args);

// ToClientOptions + Client::Connect. Unless --verbose or $NVMPATH_LOG, the host logs errors only,
// so a failure is the one line the caller prints.
Result<std::unique_ptr<Client>> ConnectClient(const ConnectionArgs& args);

// The Device of --ns, or the first namespace's. Errors name the NSID and the ones that exist.
Result<Device*> OpenDevice(Client& client, const ConnectionArgs& args);

// Prints "nvmpath <command>: <message>" as one line on stderr.
void PrintError(std::string_view command, const Status& status);

}  // namespace nvmpath::cli
