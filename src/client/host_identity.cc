#include "client/host_identity.h"

#include <fmt/format.h>

#include <random>

namespace nvmpath::client {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Uuid> ParseUuid(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument(fmt::format(
        "\"{}\" is not a UUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits)", text));
  };
  if (text.size() != 36) return bad();
  Uuid out{};
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return bad();
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    out[byte++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::string FormatUuid(const Uuid& u) {
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
      u[15]);
}

Uuid RandomUuid() {
  std::random_device rd;
  Uuid u{};
  for (size_t i = 0; i < u.size(); i += 4) {
    const uint32_t v = rd();
    for (size_t k = 0; k < 4; ++k) u[i + k] = static_cast<uint8_t>(v >> (8 * k));
  }
  u[6] = static_cast<uint8_t>((u[6] & 0x0F) | 0x40);  // version 4
  u[8] = static_cast<uint8_t>((u[8] & 0x3F) | 0x80);  // variant 1
  return u;
}

Result<HostIdentity> ResolveHostIdentity(const ClientOptions& options) {
  HostIdentity id;
  if (options.hostid.empty()) {
    id.hostid = RandomUuid();
  } else {
    auto parsed = ParseUuid(options.hostid);
    if (!parsed.ok()) return parsed.status().WithContext("hostid");
    id.hostid = *parsed;
  }
  id.hostnqn = options.hostnqn.empty() ? "nqn.2014-08.org.nvmexpress:uuid:" + FormatUuid(id.hostid)
                                       : options.hostnqn;
  if (id.hostnqn.size() > kNqnMaxBytes) {
    return InvalidArgument(fmt::format("hostnqn \"{}\" is {} bytes; an NQN has at most {}",
                                       id.hostnqn, id.hostnqn.size(), kNqnMaxBytes));
  }
  return id;
}

}  // namespace nvmpath::client
