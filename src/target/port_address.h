// How people write a port's address: an IPv4 address (127.0.0.1), an IPv6 address with or
// without brackets (::1, [::1]), or a host name (localhost); with a TCP port, "HOST:PORT" where an
// IPv6 address must be in brackets ([::1]:4420). Pure text checks: looking a name up is
// reactor::ResolveHostName's, when the port starts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nvmpath/status.h"

namespace nvmpath::target {

struct HostPort {
  std::string host;  // brackets removed
  uint16_t port = 0;
};

// The address without brackets, checked to be a numeric IPv4/IPv6 address or a host name.
// Errors: kInvalidArgument naming the text ("'a b' is not an IPv4 or IPv6 address or a host name").
Result<std::string> NormalizeHost(std::string_view host);

// "HOST:PORT" (port 0..65535; 0: any free port). Errors: kInvalidArgument saying what is
// missing or wrong ("'::1:4420': an IPv6 address goes in brackets, as [::1]:4420").
Result<HostPort> ParseHostPort(std::string_view text);

// True for a numeric IPv6 address (the discovery log's ADRFAM).
bool IsIpv6Address(std::string_view numeric);

}  // namespace nvmpath::target
