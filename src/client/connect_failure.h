// client::DescribeConnectFailure — why a path could not be connected, in the words Connect's
// error uses ("127.0.0.1:4420: connection refused; 127.0.0.1:4421: Connect rejected: ...").
//
// The controller reports a failed association as a Status whose message carries the details
// (the socket error, or the Connect command's NVMe status); this turns the common cases into
// short reasons and a code the caller can act on.
#pragma once

#include <string>
#include <string_view>

#include "nvmpath/status.h"

namespace nvmpath::client {

struct ConnectFailure {
  Code code = Code::kUnavailable;
  std::string reason;
};

// ECONNREFUSED → kUnavailable "connection refused"; a Connect command that failed →
// kNotFound "Connect rejected: subsystem <subnqn> not found or host <hostnqn> not allowed
// (<NVMe status>)" for Connect Invalid Parameters, else kUnavailable "Connect rejected: <NVMe
// status>"; a timeout keeps kTimedOut and its message; anything else keeps code and message.
ConnectFailure DescribeConnectFailure(const Status& why, std::string_view subnqn,
                                      std::string_view hostnqn);

}  // namespace nvmpath::client
