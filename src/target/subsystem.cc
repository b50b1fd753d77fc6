#include "target/subsystem.h"

#include <algorithm>
#include <bit>

namespace nvmpath::target {
namespace {

// FNV-1a over the NQN, NSID and a salt per identifier kind: stable, distinct per namespace.
uint64_t Fnv(std::string_view s, uint32_t nsid, uint8_t salt) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (char c : s) mix(static_cast<uint8_t>(c));
  for (int i = 0; i < 4; ++i) mix(static_cast<uint8_t>(nsid >> (8 * i)));
  mix(salt);
  return h;
}

template <size_t N>
std::array<uint8_t, N> Derive(std::string_view nqn, uint32_t nsid, uint8_t salt) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; i += 8) {
    const uint64_t h = Fnv(nqn, nsid, static_cast<uint8_t>(salt + i));
    for (size_t j = 0; j < 8 && i + j < N; ++j) out[i + j] = static_cast<uint8_t>(h >> (8 * j));
  }
  return out;
}

}  // namespace

Status ValidateNamespaceConfig(const NamespaceConfig& ns, uint32_t ana_groups_max,
                               std::string_view where) {
  const std::string w(where);
  if (ns.nsid == 0 || ns.nsid > kMaxNsid) {
    return InvalidArgument(w + ".nsid: " + std::to_string(ns.nsid) +
                           " is not a valid NSID (1.." + std::to_string(kMaxNsid) + ")");
  }
  if (ns.block_size < 512 || ns.block_size > 65536 || !std::has_single_bit(ns.block_size)) {
    return InvalidArgument(w + ".block_size: " + std::to_string(ns.block_size) +
                           " is not a power of two in 512..65536");
  }
  if (ns.backend == BackendKind::kFile) {
    if (ns.path.empty()) return InvalidArgument(w + ".path: a file backend needs a path");
  } else if (ns.size_bytes == 0 || ns.size_bytes % ns.block_size != 0) {
    return InvalidArgument(w + ".size_bytes: " + std::to_string(ns.size_bytes) +
                           " is not a non-zero multiple of the block size");
  }
  if (ns.ana_group == 0 || ns.ana_group > ana_groups_max) {
    return InvalidArgument(w + ".ana_group: " + std::to_string(ns.ana_group) + " is not in 1.." +
                           std::to_string(ana_groups_max));
  }
  return Status::Ok();
}

Result<std::shared_ptr<Namespace>> MakeNamespace(std::string_view subnqn,
                                                 const NamespaceConfig& config,
                                                 reactor::Reactor* r) {
  auto backend = MakeBackend(config, r);
  if (!backend.ok()) return backend.status();
  auto ns = std::make_shared<Namespace>();
  ns->config = config;
  ns->backend = std::move(*backend);
  ns->ids.uuid = config.uuid ? *config.uuid : Derive<16>(subnqn, config.nsid, 1);
  // RFC 4122 version 4 / variant bits, so tools print it as a well-formed UUID.
  if (!config.uuid) {
    (*ns->ids.uuid)[6] = static_cast<uint8_t>(((*ns->ids.uuid)[6] & 0x0F) | 0x40);
    (*ns->ids.uuid)[8] = static_cast<uint8_t>(((*ns->ids.uuid)[8] & 0x3F) | 0x80);
  }
  ns->ids.nguid = config.nguid ? *config.nguid : Derive<16>(subnqn, config.nsid, 33);
  ns->ids.eui64 = config.eui64 ? *config.eui64 : Derive<8>(subnqn, config.nsid, 65);
  ns->ids.csi = 0;  // NVM command set
  return ns;
}

bool Subsystem::HostAllowed(std::string_view hostnqn) const {
  if (discovery_ || config_.allowed_hosts.empty()) return true;
  return std::find(config_.allowed_hosts.begin(), config_.allowed_hosts.end(), hostnqn) !=
         config_.allowed_hosts.end();
}

std::shared_ptr<Namespace> Subsystem::Find(uint32_t nsid) const {
  auto it = namespaces_.find(nsid);
  return it == namespaces_.end() ? nullptr : it->second;
}

std::shared_ptr<Namespace> Subsystem::FindThrough(uint32_t nsid, uint16_t port_id) const {
  auto ns = Find(nsid);
  return ns && ns->AttachedThrough(port_id) ? ns : nullptr;
}

}  // namespace nvmpath::target
