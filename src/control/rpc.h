// JSON-RPC 2.0 for the target's control socket: the method table and the request → response
// rules, independent of any socket (rpc_server.h carries lines over a Unix socket, rpc_client.h
// sends them, target_methods.h fills the table with target::Target's control methods).
//
// Framing is one JSON value per line in each direction. A request that cannot be served gets a
// JSON-RPC error object whose message says what is wrong, never a dropped connection:
//   -32700 parse error        the line is not JSON (with line and column)
//   -32600 invalid request    not a request object ("method" missing, bad "id", line too long)
//   -32601 method not found   names the known methods
//   -32602 invalid params     names the parameter (a handler returned kInvalidArgument)
//   -32000 server error       the handler failed otherwise; error.data.status names the Code
// Batches (a JSON array of requests) and notifications (no "id": no response) follow the spec.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "nvmpath/status.h"

namespace nvmpath::control {

namespace rpc_error {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerError = -32000;
}  // namespace rpc_error

// {"jsonrpc":"2.0","error":{"code":..,"message":..[,"data":{"status":..}]},"id":..}
nlohmann::json RpcErrorResponse(int code, std::string message, const nlohmann::json& id,
                                const Status* cause = nullptr);

// Method name → handler.
// Thread: Register before serving; HandleLine is const and may run on any one thread at a time
// (handlers themselves run wherever the executor puts them).
class RpcDispatcher {
 public:
  // A handler validates its params (kInvalidArgument "<param>: ..." becomes -32602) and does the
  // work. It returns the JSON-RPC result.
  using Handler = std::function<Result<nlohmann::json>(const nlohmann::json& params)>;
  // Runs one handler invocation somewhere (the target's control reactor) and returns what it
  // returned, or its own error (e.g. kTimedOut) when it could not. Empty: run inline.
  using Call = std::function<Result<nlohmann::json>()>;
  using Executor = std::function<Result<nlohmann::json>(Call call)>;

  // REQUIRES: `method` is not registered yet.
  void Register(std::string method, Handler handler);
  std::vector<std::string> Methods() const;
  bool Has(std::string_view method) const { return handlers_.find(method) != handlers_.end(); }

  // One request line (without its newline) to one response line (without its newline); empty
  // when nothing is to be sent back (only notifications). Never throws.
  std::string HandleLine(std::string_view line, const Executor& executor = {}) const;

 private:
  // The response to one request object, or null for a notification.
  nlohmann::json HandleRequest(const nlohmann::json& request, const Executor& executor) const;

  std::map<std::string, Handler, std::less<>> handlers_;
};

}  // namespace nvmpath::control
