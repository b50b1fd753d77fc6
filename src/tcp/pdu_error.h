// What the PDU decoder reports when the peer breaks the protocol: a specific error kind (for
// tests and counters), the Fatal Error Status and Fatal Error Information the receiver puts in
// the Term Req it sends before closing the connection, and a message naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nvmpath/status.h"
#include "tcp/pdu.h"

namespace nvmpath::tcp {

enum class DecodeError : uint8_t {
  kUnknownType,             // PDU-TYPE not defined                      FES 1, FEI 0
  kWrongDirection,          // e.g. C2HData arriving at the controller   FES 1, FEI 0
  kSequence,                // IC PDU missing first or repeated later    FES 2
  kBadHlen,                 // HLEN not the fixed length of the type     FES 1, FEI 2
  kBadPdo,                  // PDO inside header/digest, not the padded offset, or past PLEN  FES 1, FEI 3
  kPlenTooSmall,            // PLEN shorter than header (+digests)       FES 1, FEI 4
  kPlenTooLarge,            // PLEN beyond what the type may carry       FES 1, FEI 4
  kDataTooLarge,            // data over MAXH2CDATA / in-capsule limit   FES 5
  kUnexpectedHeaderDigest,  // HDGSTF set but not negotiated             FES 1, FEI 1
  kMissingHeaderDigest,     // HDGSTF clear but negotiated               FES 1, FEI 1
  kUnexpectedDataDigest,    // DDGSTF set but not negotiated / no data   FES 1, FEI 1
  kMissingDataDigest,       // DDGSTF clear with data, but negotiated    FES 1, FEI 1
  kDigestOnControlPdu,      // ICReq/ICResp/TermReq with a digest flag   FES 1, FEI 1
  kHeaderDigestMismatch,    //                                           FES 3
  kDataDigestMismatch,      // no Term Req: fail the command (transient transport error) FES 0
  kBadPfv,                  // PFV != 0                                  FES 6, FEI 8
  kBadIcField,              // PDA > 31, MAXH2CDATA < 4096 or not a multiple of 4  FES 1, FEI of field
  kBadFlags,                // SUCCESS without LAST_PDU, SUCCESS on H2CData  FES 1, FEI 1
  kBadDatal,                // DATAL/R2TL 0 or not matching PLEN          FES 1, FEI 16
  kDataOutOfRange,          // DATAO+DATAL beyond the command's transfer FES 4
  kTermReqTooLong,          // Term Req PLEN > 152                       FES 1, FEI 4
  kRejectedByOwner,         // set through PduDecoder::Fail by the owner
};
const char* DecodeErrorName(DecodeError e);

struct PduError {
  DecodeError kind = DecodeError::kUnknownType;
  Fes fes = Fes::kInvalidHeaderField;
  uint32_t fei = 0;
  std::string message;

  // kProtocol status: "<message> (FES n, FEI m)".
  Status ToStatus() const;
  // The Term Req to send for this error (FES, FEI).
  TermReq ToTermReq() const { return {fes, fei}; }
};

// The range check for a data PDU or R2T: `offset` + `length` must lie within the command's
// transfer of `transfer_len` bytes, and `length` must not be 0. Returns kDataOutOfRange
// (FES 4) otherwise. Computed in 64 bits, so u32 wrap-around cannot hide an overrun.
std::optional<PduError> CheckDataRange(uint32_t offset, uint32_t length, uint64_t transfer_len);

}  // namespace nvmpath::tcp
