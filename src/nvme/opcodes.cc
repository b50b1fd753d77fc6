#include "nvme/opcodes.h"

namespace nvmpath::nvme {

const char* AdminOpcodeName(uint8_t opcode) {
  switch (static_cast<AdminOpcode>(opcode)) {
    case AdminOpcode::kDeleteIoSq: return "Delete I/O Submission Queue";
    case AdminOpcode::kCreateIoSq: return "Create I/O Submission Queue";
    case AdminOpcode::kGetLogPage: return "Get Log Page";
    case AdminOpcode::kDeleteIoCq: return "Delete I/O Completion Queue";
    case AdminOpcode::kCreateIoCq: return "Create I/O Completion Queue";
    case AdminOpcode::kIdentify: return "Identify";
    case AdminOpcode::kAbort: return "Abort";
    case AdminOpcode::kSetFeatures: return "Set Features";
    case AdminOpcode::kGetFeatures: return "Get Features";
    case AdminOpcode::kAsyncEventRequest: return "Asynchronous Event Request";
    case AdminOpcode::kKeepAlive: return "Keep Alive";
    case AdminOpcode::kFabrics: return "Fabrics";
  }
  return "Unknown";
}

const char* IoOpcodeName(uint8_t opcode) {
  switch (static_cast<IoOpcode>(opcode)) {
    case IoOpcode::kFlush: return "Flush";
    case IoOpcode::kWrite: return "Write";
    case IoOpcode::kRead: return "Read";
    case IoOpcode::kWriteZeroes: return "Write Zeroes";
    case IoOpcode::kDatasetManagement: return "Dataset Management";
    case IoOpcode::kFabrics: return "Fabrics";
  }
  return "Unknown";
}

const char* FabricsTypeName(uint8_t fctype) {
  switch (static_cast<FabricsType>(fctype)) {
    case FabricsType::kPropertySet: return "Property Set";
    case FabricsType::kConnect: return "Connect";
    case FabricsType::kPropertyGet: return "Property Get";
    case FabricsType::kAuthSend: return "Authentication Send";
    case FabricsType::kAuthReceive: return "Authentication Receive";
    case FabricsType::kDisconnect: return "Disconnect";
  }
  return "Unknown";
}

}  // namespace nvmpath::nvme
