// nvmpath::Endpoint and PathPolicy (include/nvmpath/client.h): text forms and parsing.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "mpath/policy.h"
#include "nvmpath/client.h"

namespace nvmpath {

std::string Endpoint::ToString() const {
  if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

namespace {

bool IsIpv4(const std::string& a) {
  in_addr v4{};
  return inet_pton(AF_INET, a.c_str(), &v4) == 1;
}

bool IsIpv6(const std::string& a) {
  in6_addr v6{};
  return inet_pton(AF_INET6, a.c_str(), &v6) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and hyphens, 1..63 bytes each,
// not starting or ending with a hyphen; 253 bytes at most.
// A name of digits and dots only is a malformed IPv4 address, not a name ("1.2.3" would be
// read as 1.2.0.3 by inet_aton's rules).
bool IsHostName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (name.find_first_not_of("0123456789.") == std::string_view::npos) return false;
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return false;
      label = 0;
      continue;
    }
    const char c = name[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    ++label;
  }
  return true;
}

Result<uint16_t> ParsePort(std::string_view text, std::string_view port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return InvalidArgument(
        fmt::format("endpoint \"{}\": port \"{}\" is not a number in 1..65535", text, port));
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

Result<Endpoint> Endpoint::Parse(std::string_view text) {
  Endpoint e;
  std::string_view addr = text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument(fmt::format("endpoint \"{}\": '[' without ']'", text));
    }
    addr = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return InvalidArgument(
            fmt::format("endpoint \"{}\": expected \":PORT\" after ']', got \"{}\"", text, rest));
      }
      auto port = ParsePort(text, rest.substr(1));
      if (!port.ok()) return port.status();
      e.port = *port;
    }
    e.address = std::string(addr);
    if (!IsIpv6(e.address)) {
      return InvalidArgument(
          fmt::format("endpoint \"{}\": \"{}\" is not an IPv6 address", text, addr));
    }
    return e;
  }
  const size_t colons = static_cast<size_t>(std::count(text.begin(), text.end(), ':'));
  if (colons == 1) {
    const size_t colon = text.find(':');
    addr = text.substr(0, colon);
    auto port = ParsePort(text, text.substr(colon + 1));
    if (!port.ok()) return port.status();
    e.port = *port;
  }
  e.address = std::string(addr);
  if (colons > 1) {
    if (IsIpv6(e.address)) return e;
    return InvalidArgument(fmt::format(
        "endpoint \"{}\": not an IPv6 address (write an IPv6 address with a port as "
        "[ADDR]:PORT, e.g. [::1]:4420)",
        text));
  }
  if (IsIpv4(e.address) || IsHostName(addr)) return e;
  return InvalidArgument(fmt::format(
      "endpoint \"{}\": \"{}\" is not an IPv4 address, an IPv6 address or a host name "
      "(expected ADDR or ADDR:PORT, e.g. 127.0.0.1:4420, [::1]:4420, array-a:4420)",
      text, addr));
}

const char* PathPolicyName(PathPolicy policy) {
  return mpath::PolicyName(static_cast<mpath::Policy>(policy));
}

Result<PathPolicy> ParsePathPolicy(std::string_view name) {
  auto p = mpath::ParsePolicy(name);
  if (!p.ok()) return p.status();
  return static_cast<PathPolicy>(*p);
}

static_assert(static_cast<int>(PathPolicy::kNuma) == static_cast<int>(mpath::Policy::kNuma) &&
              static_cast<int>(PathPolicy::kRoundRobin) ==
                  static_cast<int>(mpath::Policy::kRoundRobin) &&
              static_cast<int>(PathPolicy::kQueueDepth) ==
                  static_cast<int>(mpath::Policy::kQueueDepth));

}  // namespace nvmpath
