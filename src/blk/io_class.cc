#include "blk/io_class.h"

namespace nvmpath::blk {

const char* OpClassName(OpClass c) {
  switch (c) {
    case OpClass::kRead: return "read";
    case OpClass::kWrite: return "write";
    case OpClass::kOther: return "other";
  }
  return "?";
}

ErrorClass ErrorClassOf(nvme::NvmeStatus status) {
  switch (status.sct()) {
    case nvme::Sct::kGeneric: return ErrorClass::kGeneric;
    case nvme::Sct::kCommandSpecific: return ErrorClass::kCommandSpecific;
    case nvme::Sct::kMediaError: return ErrorClass::kMedia;
    case nvme::Sct::kPath:
      if (status.IsAnaError()) return ErrorClass::kAna;
      if (status.code() == nvme::sc::kHostPathError || status.code() == nvme::sc::kAbortedByHost) {
        return ErrorClass::kHostAborted;
      }
      return ErrorClass::kPath;
    default: return ErrorClass::kVendor;
  }
}

const char* ErrorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kGeneric: return "generic";
    case ErrorClass::kCommandSpecific: return "command_specific";
    case ErrorClass::kMedia: return "media";
    case ErrorClass::kAna: return "ana";
    case ErrorClass::kPath: return "path";
    case ErrorClass::kHostAborted: return "host_aborted";
    case ErrorClass::kVendor: return "vendor";
    case ErrorClass::kNoPath: return "no_path";
    case ErrorClass::kRejected: return "rejected";
  }
  return "?";
}

}  // namespace nvmpath::blk
