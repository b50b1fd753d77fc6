// target::TargetConfig — what a target serves: ports, subsystems, namespaces, ANA groups, allowed
// hosts. Built from `nvmpath target --config FILE` (JSON, parsed in config_json.h) or in code by
// tests; changed at run time through target::Target's control methods.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"
#include "nvme/ana_log.h"

namespace nvmpath::target {

enum class BackendKind : uint8_t { kMemory, kFile, kNull };

struct NamespaceConfig {
  uint32_t nsid = 1;
  BackendKind backend = BackendKind::kMemory;
  uint64_t size_bytes = 64ull << 20;  // memory and null; a file backend takes the file's size
  std::string path;                   // file or block device
  uint32_t block_size = 512;
  uint32_t ana_group = 1;
  // Identifiers; generated from the subsystem NQN and NSID when absent, so they are stable.
  std::optional<std::array<uint8_t, 16>> uuid;
  std::optional<std::array<uint8_t, 16>> nguid;
  std::optional<std::array<uint8_t, 8>> eui64;
};

struct SubsystemConfig {
  std::string nqn;
  std::string serial = "nvmpath0001";
  std::string model = "nvmpath target";
  std::vector<std::string> allowed_hosts;  // host NQNs; empty: any host
  std::vector<NamespaceConfig> namespaces;
  uint32_t mdts_pages = 0;                 // MDTS as 2^n pages of 4 KiB; 0: no limit
};

struct PortConfig {
  uint16_t id = 1;                // the port ID in the discovery log; also names the port in RPCs
  std::string address = "127.0.0.1";
  uint16_t port = 4420;           // 0: any free port (tests)
  bool enabled = true;
};

// The ANA state of one group as seen through one port. Groups not listed are optimized.
struct AnaConfig {
  uint16_t port_id = 1;
  uint32_t group = 1;
  nvme::AnaState state = nvme::AnaState::kOptimized;
};

struct TargetConfig {
  std::vector<PortConfig> ports;
  std::vector<SubsystemConfig> subsystems;
  std::vector<AnaConfig> ana;
  std::string discovery_nqn = "nqn.2014-08.org.nvmexpress.discovery";
  uint32_t ana_groups_max = 32;       // ANAGRPMAX
  uint32_t io_queues_max = 8;         // granted by Set Features Number of Queues
  uint16_t queue_size_max = 128;      // MQES + 1
  uint32_t in_capsule_bytes = 8192;   // IOCCSZ * 16 - 64
  uint32_t max_h2c_data = 128 * 1024; // MAXH2CDATA
  Duration cqt = std::chrono::milliseconds(0);  // Command Quiesce Time reported (0: none)
  std::string control_socket;         // Unix socket path for the JSON-RPC control; empty: none
  // Reads end with a C2HData carrying SUCCESS (no CapsuleResp) when the host disabled SQ flow
  // control. Off by default: the Linux 6.1 target always sends a CapsuleResp.
  bool c2h_success = false;
};

}  // namespace nvmpath::target
