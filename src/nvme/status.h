// The NVMe completion status field, decoded once, and the one function that decides what happens
// to a command that completed with it (shared/DESIGN.md "Paths, ANA, failover"; Linux
// nvme_decide_disposition).
//
// Layout of the 15-bit status field (CQE DW3 bits 31:17, i.e. the u16 at CQE offset 14 shifted
// right by one to drop the phase bit): SC 7:0, SCT 10:8, CRD 12:11, MORE 13, DNR 14.
#pragma once

#include <cstdint>
#include <string>

#include "nvmpath/status.h"

namespace nvmpath::nvme {

enum class Sct : uint8_t {
  kGeneric = 0,
  kCommandSpecific = 1,
  kMediaError = 2,
  kPath = 3,
  kVendor = 7,
};

// Status codes as (SCT << 8 | SC), the way they are written in the specification's tables.
namespace sc {
inline constexpr uint16_t kSuccess = 0x000;
inline constexpr uint16_t kInvalidOpcode = 0x001;
inline constexpr uint16_t kInvalidField = 0x002;
inline constexpr uint16_t kCidConflict = 0x003;
inline constexpr uint16_t kDataTransferError = 0x004;
inline constexpr uint16_t kAbortedPowerLoss = 0x005;
inline constexpr uint16_t kInternalError = 0x006;
inline constexpr uint16_t kAbortRequested = 0x007;
inline constexpr uint16_t kAbortedSqDeletion = 0x008;
inline constexpr uint16_t kInvalidNamespace = 0x00B;
inline constexpr uint16_t kCommandSequenceError = 0x00C;
inline constexpr uint16_t kInvalidSglDescriptor = 0x00D;
inline constexpr uint16_t kDataSglLengthInvalid = 0x00F;
inline constexpr uint16_t kSglDescriptorTypeInvalid = 0x011;
inline constexpr uint16_t kSglOffsetInvalid = 0x016;
inline constexpr uint16_t kHostIdInconsistent = 0x018;
inline constexpr uint16_t kKeepAliveExpired = 0x019;
inline constexpr uint16_t kKeepAliveInvalid = 0x01A;
inline constexpr uint16_t kNamespaceWriteProtected = 0x020;
inline constexpr uint16_t kCommandInterrupted = 0x021;
inline constexpr uint16_t kTransientTransportError = 0x022;
inline constexpr uint16_t kLbaOutOfRange = 0x080;
inline constexpr uint16_t kCapacityExceeded = 0x081;
inline constexpr uint16_t kNamespaceNotReady = 0x082;
inline constexpr uint16_t kReservationConflict = 0x083;
// Command specific (SCT 1).
inline constexpr uint16_t kInvalidQueueId = 0x101;
inline constexpr uint16_t kInvalidQueueSize = 0x102;
inline constexpr uint16_t kAerLimitExceeded = 0x105;
inline constexpr uint16_t kInvalidLogPage = 0x109;
inline constexpr uint16_t kFeatureNotSaveable = 0x10D;
inline constexpr uint16_t kConnectIncompatibleFormat = 0x180;
inline constexpr uint16_t kConnectControllerBusy = 0x181;
inline constexpr uint16_t kConnectInvalidParameters = 0x182;
inline constexpr uint16_t kConnectRestartDiscovery = 0x183;
inline constexpr uint16_t kConnectInvalidHost = 0x184;
inline constexpr uint16_t kAuthRequired = 0x191;
// Media and data integrity (SCT 2).
inline constexpr uint16_t kWriteFault = 0x280;
inline constexpr uint16_t kUnrecoveredReadError = 0x281;
inline constexpr uint16_t kGuardCheckError = 0x282;
inline constexpr uint16_t kAppTagCheckError = 0x283;
inline constexpr uint16_t kRefTagCheckError = 0x284;
inline constexpr uint16_t kCompareFailure = 0x285;
inline constexpr uint16_t kAccessDenied = 0x286;
// Path related (SCT 3).
inline constexpr uint16_t kInternalPathError = 0x300;
inline constexpr uint16_t kAnaPersistentLoss = 0x301;
inline constexpr uint16_t kAnaInaccessible = 0x302;
inline constexpr uint16_t kAnaTransition = 0x303;
inline constexpr uint16_t kControllerPathError = 0x360;
inline constexpr uint16_t kHostPathError = 0x370;
inline constexpr uint16_t kAbortedByHost = 0x371;
}  // namespace sc

class NvmeStatus {
 public:
  constexpr NvmeStatus() = default;
  // From (SCT << 8 | SC) plus flags.
  static constexpr NvmeStatus Of(uint16_t code, bool dnr = false, uint8_t crd = 0) {
    return NvmeStatus(static_cast<uint16_t>((code & 0x7FF) | ((crd & 3u) << 11) |
                                            (dnr ? 1u << 14 : 0u)));
  }
  // From the 15-bit status field.
  static constexpr NvmeStatus FromField(uint16_t field) { return NvmeStatus(field & 0x7FFF); }
  // From the u16 at CQE offset 14 (bit 0 is the phase tag).
  static constexpr NvmeStatus FromCqeWord(uint16_t word) { return FromField(word >> 1); }

  constexpr uint16_t field() const { return raw_; }
  constexpr uint16_t ToCqeWord(bool phase = false) const {
    return static_cast<uint16_t>((raw_ << 1) | (phase ? 1 : 0));
  }
  constexpr uint8_t sc() const { return raw_ & 0xFF; }
  constexpr Sct sct() const { return static_cast<Sct>((raw_ >> 8) & 7); }
  constexpr uint16_t code() const { return raw_ & 0x7FF; }  // SCT << 8 | SC
  constexpr uint8_t crd() const { return (raw_ >> 11) & 3; }
  constexpr bool more() const { return raw_ & (1u << 13); }
  constexpr bool dnr() const { return raw_ & (1u << 14); }
  constexpr bool ok() const { return code() == sc::kSuccess; }

  constexpr bool IsPathError() const { return sct() == Sct::kPath; }
  constexpr bool IsAnaError() const {
    return code() == sc::kAnaPersistentLoss || code() == sc::kAnaInaccessible ||
           code() == sc::kAnaTransition;
  }
  // The namespace is not (or not yet) there on this controller: a property of the path.
  constexpr bool IsNamespaceGone() const {
    return code() == sc::kInvalidNamespace || code() == sc::kNamespaceNotReady;
  }

  // "ANA Inaccessible (SCT 3h SC 02h)" plus " DNR" when set.
  std::string ToString() const;
  // The errno Linux gives an application for this status (nvme_error_status).
  int ToErrno() const;
  // The application-facing error for this status, or OK.
  Status ToStatus() const;

  friend constexpr bool operator==(NvmeStatus a, NvmeStatus b) { return a.raw_ == b.raw_; }

 private:
  constexpr explicit NvmeStatus(uint16_t raw) : raw_(raw) {}
  uint16_t raw_ = 0;
};

// The name of a status code (SCT << 8 | SC), or nullptr if nvmpath does not know it.
const char* StatusCodeName(uint16_t code);

enum class Disposition : uint8_t {
  kComplete,       // success: complete to the application
  kRetrySamePath,  // transient on this path: retry here after the CRD delay
  kFailover,       // the path failed the command: give it back to the head for another path
  kFail,           // the command failed: complete to the application with the error
};

// What a path must do besides the disposition.
enum class PathAction : uint8_t {
  kNone,
  kAnaPending,     // ANA status: stop using the path until the ANA log is re-read
  kNamespaceGone,  // the namespace is missing on this controller: not ready until rescanned
};

struct Decision {
  Disposition disposition = Disposition::kComplete;
  PathAction path_action = PathAction::kNone;
};

inline constexpr uint32_t kMaxRetries = 5;

// Decides the fate of a command that completed with `status` after `retries` retries on the same
// path. `multipath` is true for I/O issued through a head (a failover target may exist).
//
// Order (Linux nvme_decide_disposition, with one deliberate difference):
//   success → complete; namespace gone on a multipath I/O → failover (see below);
//   DNR or retries used up → fail; path error (SCT 3, incl. host aborts) on a multipath I/O →
//   failover; anything else → retry on the same path.
// Difference: Invalid Namespace and Namespace Not Ready on I/O through a head mean that *this
// controller* no longer (or not yet) has the namespace — a remapping in progress (blktests
// nvme/058) — while the head's namespace still exists. Linux fails such I/O with an error (DNR);
// nvmpath fails it over and marks the path not ready, so a namespace remapped on one port never
// surfaces as an application error while another path serves it.
Decision Decide(NvmeStatus status, uint32_t retries, bool multipath);

}  // namespace nvmpath::nvme
