// RpcCall: one JSON-RPC request to a target's control socket (rpc_server.h), for
// `nvmpath target-ctl` and tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/time.h"
#include "nvmpath/status.h"

namespace nvmpath::control {

// Sends {"jsonrpc":"2.0","method":method,"params":params,"id":1} and returns the response's
// result.
// Errors: kUnavailable "cannot connect to P: <strerror> (is `<server>` running?)";
// kTimedOut when no response comes within `timeout`; kProtocol for a response that is not a
// JSON-RPC response; the server's error otherwise, with its message: kInvalidArgument for
// -32700/-32600/-32601/-32602, else the Code named by error.data.status (kInternal if none).
Result<nlohmann::json> RpcCall(const std::string& socket_path, const std::string& method,
                               const nlohmann::json& params,
                               Duration timeout = std::chrono::seconds(30),
                               std::string_view server = "nvmpath target");

}  // namespace nvmpath::control
