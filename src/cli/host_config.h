// The config file of `nvmpath host`: which subsystems the long-running host connects to (one
// ClientOptions each), and where it exports their heads (NBD listen addresses, a FUSE mount).
//
// The parser is strict, like the target's (target/control/config_json.cc): an unknown field (with
// a did-you-mean), a field given twice, a wrong type or a value out of range is an error, and
// every error is one kInvalidArgument line "<field path>: <what>", e.g.
//   subsystems[1].paths[0]: endpoint "127.0.0.1:99999": port "99999" is not a number in 1..65535
//   subsystems[0].polcy: unknown field (did you mean "policy"?)
// The format is described for users in docs/host-config.md.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "nvmpath/client.h"
#include "nvmpath/status.h"

namespace nvmpath::cli {

struct HostConfig {
  // Subsystem S of the host: head names are "nvmpath<S>n<NSID>" with S the index here.
  std::vector<ClientOptions> subsystems;
  std::vector<std::string> nbd;  // NBD listen addresses as given: "unix:/path" or "ADDR:PORT"
  std::string fuse;              // FUSE mount directory, "" = none
  unsigned io_threads = 1;       // shared by every subsystem (ClientOptions::io_threads set to it)
};

// Strict JSON text -> HostConfig. Every error is kInvalidArgument "<field path>: <what>".
Result<HostConfig> ParseHostConfig(std::string_view text);

// Reads the file and parses it; every error names the file ("host config /x.json: ...").
Result<HostConfig> LoadHostConfig(const std::string& path);

// One subsystem object of the config (also the params of the control socket's `connect`), with
// the host-wide defaults left empty. Errors name the field under `path`.
Result<ClientOptions> ParseSubsystemJson(const nlohmann::json& j, std::string_view path);
// A duration field: whole seconds, or a string as the duration flags take ("500ms", "10s", "1m";
// "-1" when `allow_negative`); `positive`: 0 is refused too.
Result<std::chrono::milliseconds> ReadDurationJson(const nlohmann::json& v, std::string_view path,
                                                   bool allow_negative, bool positive);

// Validates an NBD listen address: "unix:PATH" (a Unix socket path, absolute or relative, at most
// 107 bytes) or "ADDR:PORT" (a numeric IPv4 address and a port 1..65535). Used by the config
// parser and by the --nbd flag. Errors (kInvalidArgument) name the text:
// `NBD address "x:0": port "0" is not a number in 1..65535`.
Status CheckNbdAddress(std::string_view text);

}  // namespace nvmpath::cli
