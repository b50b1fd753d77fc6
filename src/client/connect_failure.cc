#include "client/connect_failure.h"

#include <fmt/format.h>

namespace nvmpath::client {

ConnectFailure DescribeConnectFailure(const Status& why, std::string_view subnqn,
                                      std::string_view hostnqn) {
  const std::string& m = why.message();
  if (m.find("Connection refused") != std::string::npos) {
    return {Code::kUnavailable, "connection refused"};
  }
  // host::QueuePair: "<queue> (<peer>): Connect (QID n) failed: <NVMe status>".
  const size_t connect = m.find("Connect (QID");
  if (connect != std::string::npos) {
    const size_t colon = m.find("failed: ", connect);
    const std::string status = colon == std::string::npos ? m.substr(connect) : m.substr(colon + 8);
    if (status.find("Connect Invalid Parameters") != std::string::npos) {
      return {Code::kNotFound,
              fmt::format("Connect rejected: subsystem {} not found or host {} not allowed ({})",
                          subnqn, hostnqn, status)};
    }
    return {Code::kUnavailable, fmt::format("Connect rejected: {}", status)};
  }
  if (why.code() == Code::kTimedOut) return {Code::kTimedOut, "timed out: " + m};
  return {why.code(), m};
}

}  // namespace nvmpath::client
