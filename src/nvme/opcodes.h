// NVMe command opcodes: admin, NVM I/O, and the Fabrics command type (FCTYPE) carried at SQE
// byte 4 of opcode 0x7F. Values from the NVMe Base and NVMe over Fabrics specifications.
#pragma once

#include <cstdint>

namespace nvmpath::nvme {

enum class AdminOpcode : uint8_t {
  kDeleteIoSq = 0x00,
  kCreateIoSq = 0x01,
  kGetLogPage = 0x02,
  kDeleteIoCq = 0x04,
  kCreateIoCq = 0x05,
  kIdentify = 0x06,
  kAbort = 0x08,
  kSetFeatures = 0x09,
  kGetFeatures = 0x0A,
  kAsyncEventRequest = 0x0C,
  kKeepAlive = 0x18,
  kFabrics = 0x7F,
};

enum class IoOpcode : uint8_t {
  kFlush = 0x00,
  kWrite = 0x01,
  kRead = 0x02,
  kWriteZeroes = 0x08,
  kDatasetManagement = 0x09,
  kFabrics = 0x7F,  // Fabrics commands (Connect) are sent on I/O queues too
};

inline constexpr uint8_t kFabricsOpcode = 0x7F;

enum class FabricsType : uint8_t {
  kPropertySet = 0x00,
  kConnect = 0x01,
  kPropertyGet = 0x04,
  kAuthSend = 0x05,
  kAuthReceive = 0x06,
  kDisconnect = 0x08,
};

// Identify CNS values (CDW10 bits 7:0).
enum class Cns : uint8_t {
  kNamespace = 0x00,
  kController = 0x01,
  kActiveNamespaces = 0x02,
  kNsDescriptors = 0x03,
  kCsIndependentNamespace = 0x08,
};

// Log page identifiers (Get Log Page CDW10 bits 7:0).
enum class LogId : uint8_t {
  kErrorInfo = 0x01,
  kSmartHealth = 0x02,
  kChangedNamespaces = 0x04,
  kAna = 0x0C,
  kDiscovery = 0x70,
};

// Feature identifiers (Set/Get Features CDW10 bits 7:0).
enum class FeatureId : uint8_t {
  kArbitration = 0x01,
  kNumberOfQueues = 0x07,
  kAsyncEventConfig = 0x0B,
  kKeepAliveTimer = 0x0F,
  kHostBehavior = 0x16,
};

// Names for logs and error messages; "Unknown" for values nvmpath does not know.
const char* AdminOpcodeName(uint8_t opcode);
const char* IoOpcodeName(uint8_t opcode);
const char* FabricsTypeName(uint8_t fctype);

}  // namespace nvmpath::nvme
