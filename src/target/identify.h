// Builders of the Identify data the target returns (identify.cc). Thread: reactors[0].
#pragma once

#include <cstdint>
#include <vector>

#include "target/subsystem.h"

namespace nvmpath::target {

// CNS 00h for an active namespace (4096 B).
std::vector<uint8_t> BuildIdentifyNamespace(const Namespace& ns);
// CNS 02h: NSIDs active through `port_id` greater than `after`, ascending, 0-terminated (4096 B).
std::vector<uint8_t> BuildActiveNsList(const Subsystem& subsys, uint16_t port_id, uint32_t after);
// CNS 03h: EUI-64, NGUID, UUID and CSI descriptors (4096 B).
std::vector<uint8_t> BuildNsDescriptors(const Namespace& ns);

}  // namespace nvmpath::target
