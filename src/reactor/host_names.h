// Host name lookup for listening addresses: the numeric addresses a name stands for.
//
// Why here: the reactor layer is where the protocol code's OS access lives (getaddrinfo reads
// /etc/hosts and may ask DNS). It is a plain synchronous function, not a Reactor method: it serves the control path
// (a target port starting, like bind), never the data path, and it is the same under Uring and
// Sim — simulated runs give numeric addresses, which pass through without a lookup.
#pragma once

#include <string>
#include <vector>

#include "nvmpath/status.h"

namespace nvmpath::reactor {

// `name` itself when it is a numeric IPv4 or IPv6 address; otherwise the distinct numeric
// addresses getaddrinfo gives for it (TCP), in its order. Blocks for the lookup.
// Errors: kNotFound "host name 'x' does not resolve: <gai_strerror>".
Result<std::vector<std::string>> ResolveHostName(const std::string& name);

}  // namespace nvmpath::reactor
