#include "tcp/pdu.h"

#include <string>

#include "tcp/pdu_error.h"

namespace nvmpath::tcp {

const char* PduTypeName(PduType type) {
  switch (type) {
    case PduType::kIcReq: return "ICReq";
    case PduType::kIcResp: return "ICResp";
    case PduType::kH2CTermReq: return "H2CTermReq";
    case PduType::kC2HTermReq: return "C2HTermReq";
    case PduType::kCapsuleCmd: return "CapsuleCmd";
    case PduType::kCapsuleResp: return "CapsuleResp";
    case PduType::kH2CData: return "H2CData";
    case PduType::kC2HData: return "C2HData";
    case PduType::kR2T: return "R2T";
  }
  return "unknown";
}

const char* PduTypeName(uint8_t type) { return PduTypeName(static_cast<PduType>(type)); }

const char* FesName(Fes fes) {
  switch (fes) {
    case Fes::kNone: return "none";
    case Fes::kInvalidHeaderField: return "Invalid PDU Header Field";
    case Fes::kPduSequenceError: return "PDU Sequence Error";
    case Fes::kHeaderDigestError: return "Header Digest Error";
    case Fes::kDataOutOfRange: return "Data Transfer Out of Range";
    case Fes::kDataLimitExceeded: return "Data Transfer Limit Exceeded";
    case Fes::kUnsupportedParameter: return "Unsupported Parameter";
  }
  return "reserved";
}

const char* DecodeErrorName(DecodeError e) {
  switch (e) {
    case DecodeError::kUnknownType: return "unknown type";
    case DecodeError::kWrongDirection: return "wrong direction";
    case DecodeError::kSequence: return "sequence";
    case DecodeError::kBadHlen: return "bad HLEN";
    case DecodeError::kBadPdo: return "bad PDO";
    case DecodeError::kPlenTooSmall: return "PLEN too small";
    case DecodeError::kPlenTooLarge: return "PLEN too large";
    case DecodeError::kDataTooLarge: return "data too large";
    case DecodeError::kUnexpectedHeaderDigest: return "unexpected header digest";
    case DecodeError::kMissingHeaderDigest: return "missing header digest";
    case DecodeError::kUnexpectedDataDigest: return "unexpected data digest";
    case DecodeError::kMissingDataDigest: return "missing data digest";
    case DecodeError::kDigestOnControlPdu: return "digest on control PDU";
    case DecodeError::kHeaderDigestMismatch: return "header digest mismatch";
    case DecodeError::kDataDigestMismatch: return "data digest mismatch";
    case DecodeError::kBadPfv: return "bad PFV";
    case DecodeError::kBadIcField: return "bad IC field";
    case DecodeError::kBadFlags: return "bad flags";
    case DecodeError::kBadDatal: return "bad DATAL";
    case DecodeError::kDataOutOfRange: return "data out of range";
    case DecodeError::kTermReqTooLong: return "TermReq too long";
    case DecodeError::kRejectedByOwner: return "rejected";
  }
  return "unknown";
}

Status PduError::ToStatus() const {
  return ProtocolError(message + " (FES " + std::to_string(static_cast<unsigned>(fes)) + ", FEI " +
                       std::to_string(fei) + ")");
}

std::optional<PduError> CheckDataRange(uint32_t offset, uint32_t length, uint64_t transfer_len) {
  if (length == 0 || uint64_t{offset} + length > transfer_len) {
    return PduError{DecodeError::kDataOutOfRange, Fes::kDataOutOfRange, kDataOffsetDatao,
                    "data offset " + std::to_string(offset) + " length " + std::to_string(length) +
                        " is outside the command's " + std::to_string(transfer_len) +
                        "-byte transfer"};
  }
  return std::nullopt;
}

}  // namespace nvmpath::tcp
