// nvmpath::Endpoint and PathPolicy (include/nvmpath/client.h): text forms and parsing.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

#include "mpath/policy.h"
#include "nvmpath/client.h"

namespace nvmpath {

std::string Endpoint::ToString() const { return fmt::format("{}:{}", address, port); }

Result<Endpoint> Endpoint::Parse(std::string_view text) {
  Endpoint e;
  std::string_view addr = text;
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos) {
    addr = text.substr(0, colon);
    std::string_view port = text.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return InvalidArgument(
          fmt::format("endpoint \"{}\": port \"{}\" is not a number in 1..65535", text, port));
    }
    e.port = static_cast<uint16_t>(value);
  }
  in_addr parsed{};
  e.address = std::string(addr);
  if (addr.empty() || inet_pton(AF_INET, e.address.c_str(), &parsed) != 1) {
    return InvalidArgument(fmt::format(
        "endpoint \"{}\": \"{}\" is not an IPv4 address (expected ADDR or ADDR:PORT, e.g. "
        "127.0.0.1:4420)",
        text, addr));
  }
  return e;
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
