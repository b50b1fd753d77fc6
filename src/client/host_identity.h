// client::HostIdentity — the host NQN and host ID a client connects with, and UUID text.
//
// Defaults (ClientOptions): an empty hostid is a random version-4 UUID per client; an empty
// hostnqn is "nqn.2014-08.org.nvmexpress:uuid:<hostid>", the form nvme-cli generates.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "nvmpath/client.h"
#include "nvmpath/status.h"

namespace nvmpath::client {

using Uuid = std::array<uint8_t, 16>;

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex digits, either case). Errors name the text.
Result<Uuid> ParseUuid(std::string_view text);
// Lower-case canonical form.
std::string FormatUuid(const Uuid& uuid);
// A random version-4, variant-1 UUID.
Uuid RandomUuid();

// NQNs are at most 223 bytes (NVMe Base 4.5); the Connect data holds 256.
inline constexpr size_t kNqnMaxBytes = 223;

struct HostIdentity {
  std::string hostnqn;
  Uuid hostid{};
};

// The identity for `options`. Errors (kInvalidArgument): a malformed hostid, an NQN too long.
Result<HostIdentity> ResolveHostIdentity(const ClientOptions& options);

}  // namespace nvmpath::client
