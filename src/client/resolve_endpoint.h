// client::ResolvePathAddress — the numeric address a path's controller connects to.
//
// An Endpoint may name a host ("array-a:4420"); controllers connect to numeric addresses, so a
// name is looked up once, when its path is made (Connect, AddPath), and the first address it
// gives is used — as nvme-cli resolves traddr before it writes it to the kernel.
#pragma once

#include "mpath/multipath_host.h"
#include "nvmpath/client.h"

namespace nvmpath::client {

// Blocks for a name's lookup. Errors: kInvalidArgument "path array-a:4420: host name 'array-a'
// does not resolve: ...".
Result<mpath::PathAddress> ResolvePathAddress(const Endpoint& endpoint);

// A path's address as the API shows it (numeric, as resolved).
inline Endpoint ToEndpoint(const mpath::PathAddress& a) { return Endpoint{a.address, a.port}; }

}  // namespace nvmpath::client
