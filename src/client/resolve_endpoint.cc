#include "client/resolve_endpoint.h"

#include <fmt/format.h>

#include "reactor/host_names.h"

namespace nvmpath::client {

Result<mpath::PathAddress> ResolvePathAddress(const Endpoint& endpoint) {
  auto addresses = reactor::ResolveHostName(endpoint.address);
  if (!addresses.ok() || addresses->empty()) {
    const std::string why = addresses.ok() ? "no address" : addresses.status().message();
    return InvalidArgument(fmt::format("path {}: {}", endpoint.ToString(), why));
  }
  return mpath::PathAddress{addresses->front(), endpoint.port};
}

}  // namespace nvmpath::client
