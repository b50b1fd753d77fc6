#include "nvme/status.h"

#include <fmt/format.h>

#include <cerrno>

namespace nvmpath::nvme {

const char* StatusCodeName(uint16_t code) {
  switch (code) {
    case sc::kSuccess: return "Success";
    case sc::kInvalidOpcode: return "Invalid Command Opcode";
    case sc::kInvalidField: return "Invalid Field in Command";
    case sc::kCidConflict: return "Command ID Conflict";
    case sc::kDataTransferError: return "Data Transfer Error";
    case sc::kAbortedPowerLoss: return "Commands Aborted due to Power Loss Notification";
    case sc::kInternalError: return "Internal Error";
    case sc::kAbortRequested: return "Command Abort Requested";
    case sc::kAbortedSqDeletion: return "Command Aborted due to SQ Deletion";
    case sc::kInvalidNamespace: return "Invalid Namespace or Format";
    case sc::kCommandSequenceError: return "Command Sequence Error";
    case sc::kInvalidSglDescriptor: return "Invalid SGL Segment Descriptor";
    case sc::kDataSglLengthInvalid: return "Data SGL Length Invalid";
    case sc::kSglDescriptorTypeInvalid: return "SGL Descriptor Type Invalid";
    case sc::kSglOffsetInvalid: return "SGL Offset Invalid";
    case sc::kHostIdInconsistent: return "Host Identifier Inconsistent Format";
    case sc::kKeepAliveExpired: return "Keep Alive Timer Expired";
    case sc::kKeepAliveInvalid: return "Keep Alive Timeout Invalid";
    case sc::kNamespaceWriteProtected: return "Namespace is Write Protected";
    case sc::kCommandInterrupted: return "Command Interrupted";
    case sc::kTransientTransportError: return "Transient Transport Error";
    case sc::kLbaOutOfRange: return "LBA Out of Range";
    case sc::kCapacityExceeded: return "Capacity Exceeded";
    case sc::kNamespaceNotReady: return "Namespace Not Ready";
    case sc::kReservationConflict: return "Reservation Conflict";
    case sc::kInvalidQueueId: return "Invalid Queue Identifier";
    case sc::kInvalidQueueSize: return "Invalid Queue Size";
    case sc::kAerLimitExceeded: return "Asynchronous Event Request Limit Exceeded";
    case sc::kInvalidLogPage: return "Invalid Log Page";
    case sc::kFeatureNotSaveable: return "Feature Identifier Not Saveable";
    case sc::kConnectIncompatibleFormat: return "Connect Incompatible Format";
    case sc::kConnectControllerBusy: return "Connect Controller Busy";
    case sc::kConnectInvalidParameters: return "Connect Invalid Parameters";
    case sc::kConnectRestartDiscovery: return "Connect Restart Discovery";
    case sc::kConnectInvalidHost: return "Connect Invalid Host";
    case sc::kAuthRequired: return "Authentication Required";
    case sc::kWriteFault: return "Write Fault";
    case sc::kUnrecoveredReadError: return "Unrecovered Read Error";
    case sc::kGuardCheckError: return "End-to-end Guard Check Error";
    case sc::kAppTagCheckError: return "End-to-end Application Tag Check Error";
    case sc::kRefTagCheckError: return "End-to-end Reference Tag Check Error";
    case sc::kCompareFailure: return "Compare Failure";
    case sc::kAccessDenied: return "Access Denied";
    case sc::kInternalPathError: return "Internal Path Error";
    case sc::kAnaPersistentLoss: return "Asymmetric Access Persistent Loss";
    case sc::kAnaInaccessible: return "Asymmetric Access Inaccessible";
    case sc::kAnaTransition: return "Asymmetric Access Transition";
    case sc::kControllerPathError: return "Controller Pathing Error";
    case sc::kHostPathError: return "Host Pathing Error";
    case sc::kAbortedByHost: return "Command Aborted By Host";
    default: return nullptr;
  }
}

std::string NvmeStatus::ToString() const {
  const char* name = StatusCodeName(code());
  std::string s = fmt::format("{} (SCT {:x}h SC {:02x}h)", name ? name : "Unknown Status",
                              static_cast<unsigned>(sct()), static_cast<unsigned>(sc()));
  if (dnr()) s += " DNR";
  return s;
}

int NvmeStatus::ToErrno() const {
  switch (code()) {
    case sc::kSuccess: return 0;
    case sc::kHostPathError: return ENOLINK;
    case sc::kLbaOutOfRange:
    case sc::kNamespaceNotReady:
    case sc::kCommandInterrupted: return EREMOTEIO;
    case sc::kInvalidOpcode:
    case sc::kInvalidField:
    case sc::kInvalidNamespace: return EOPNOTSUPP;
    case sc::kWriteFault:
    case sc::kUnrecoveredReadError:
    case sc::kCompareFailure:
    case sc::kAccessDenied:
    case sc::kNamespaceWriteProtected: return ENODATA;
    case sc::kGuardCheckError:
    case sc::kAppTagCheckError:
    case sc::kRefTagCheckError: return EILSEQ;
    case sc::kReservationConflict: return EBADE;
    case sc::kCapacityExceeded: return ENOSPC;
    default: return EIO;
  }
}

Status NvmeStatus::ToStatus() const {
  if (ok()) return Status::Ok();
  Code c = Code::kIoError;
  switch (code()) {
    case sc::kLbaOutOfRange:
    case sc::kCapacityExceeded: c = Code::kOutOfRange; break;
    case sc::kInvalidOpcode:
    case sc::kInvalidField: c = Code::kUnsupported; break;
    case sc::kAccessDenied:
    case sc::kNamespaceWriteProtected: c = Code::kPermissionDenied; break;
    default: break;
  }
  if (IsPathError()) c = Code::kNoPath;
  return Status(c, ToString());
}

Decision Decide(NvmeStatus status, uint32_t retries, bool multipath) {
  if (status.ok()) return {Disposition::kComplete, PathAction::kNone};
  if (multipath && status.IsNamespaceGone()) {
    return {Disposition::kFailover, PathAction::kNamespaceGone};
  }
  PathAction action = status.IsAnaError() ? PathAction::kAnaPending : PathAction::kNone;
  if (status.dnr() || retries >= kMaxRetries) return {Disposition::kFail, action};
  if (multipath && status.IsPathError()) return {Disposition::kFailover, action};
  return {Disposition::kRetrySamePath, action};
}

}  // namespace nvmpath::nvme
