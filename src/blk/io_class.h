// The fixed classes the host's statistics count I/O and errors by (mpath/counters.h; the client
// API's DeviceCounters; `host-ctl stats`; the metrics' labels): a small, closed set, so each
// per-reactor counter block is a fixed array and every reader sees the same names.
#pragma once

#include <cstdint>

#include "blk/bio.h"
#include "nvme/status.h"

namespace nvmpath::blk {

enum class OpClass : uint8_t {
  kRead,
  kWrite,
  kOther,  // flush, write zeroes, deallocate
};
inline constexpr int kOpClassCount = 3;

constexpr OpClass OpClassOf(Op op) {
  return op == Op::kRead ? OpClass::kRead : op == Op::kWrite ? OpClass::kWrite : OpClass::kOther;
}
// "read", "write", "other".
const char* OpClassName(OpClass c);

enum class ErrorClass : uint8_t {
  // NVMe status of a completed command, by Status Code Type.
  kGeneric,          // SCT 0 (e.g. LBA out of range, namespace not ready)
  kCommandSpecific,  // SCT 1
  kMedia,            // SCT 2: media and data integrity
  kAna,              // SCT 3, ANA inaccessible / persistent loss / transition
  kPath,             // SCT 3, other path errors the controller reported (internal, controller)
  // SCT 3 codes 70h/71h, set by this host: the command's queue failed before it completed —
  // connection lost, keep-alive lost, a command timed out (the queue is torn down then), or the
  // controller refused the transfer.
  kHostAborted,
  kVendor,  // SCT 4..7
  // Head only: no NVMe status.
  kNoPath,    // no path could serve the I/O (Status kNoPath)
  kRejected,  // refused before any path saw it: a range past the end, head QoS with nowait
};
inline constexpr int kErrorClassCount = 9;

ErrorClass ErrorClassOf(nvme::NvmeStatus status);
// "generic", "command_specific", "media", "ana", "path", "host_aborted", "vendor", "no_path",
// "rejected".
const char* ErrorClassName(ErrorClass c);

}  // namespace nvmpath::blk
