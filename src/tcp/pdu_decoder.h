// PduDecoder: turns the byte stream of one NVMe/TCP connection into PDUs, incrementally. Bytes
// may arrive in any chunking (one byte at a time works); each complete PDU is handed to a
// callback with its data as a view. Every malformed input becomes a PduError (tcp/pdu_error.h)
// carrying the FES/FEI for the Term Req; after an error the decoder is failed for good.
//
// Memory: the decoder buffers at most one PDU, and only after the 8-byte common header has
// been checked against the configured limits, so a peer cannot make it allocate more than
// MaxPduSize() bytes. A PDU that arrives whole inside one Feed() is not copied at all.
//
// Thread: owned by the connection's reactor; not thread-safe. The callback must not call Feed()
// (re-entry); it may call set_digests(), Fail() and the accessors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "nvmpath/status.h"
#include "tcp/pdu.h"
#include "tcp/pdu_error.h"

namespace nvmpath::tcp {

struct DecoderConfig {
  Role role = Role::kController;  // the receiving side: the controller decodes H2C PDUs
  bool hdgst = false;             // negotiated in ICReq/ICResp
  bool ddgst = false;
  // The alignment this side asked for in ICReq (HPDA, host) or ICResp (CPDA, controller):
  // data of incoming PDUs must start at DataOffset(hlen, hdgst, pda).
  uint8_t pda = 0;
  // Largest DATAL of one H2CData (controller: the MAXH2CDATA it advertised) or C2HData (host:
  // its largest transfer).
  uint32_t max_data_per_pdu = 128 * 1024;
  // Largest in-capsule data of a CapsuleCmd (controller only).
  uint32_t max_in_capsule_data = 8192;
  // The first PDU must be ICReq (controller) / ICResp (host), and no IC PDU may follow.
  bool expect_ic = true;
  // With false, a PDU whose data digest does not match is still delivered, with
  // data_digest_ok = false, and decoding goes on (the framing is intact): the owner fails the
  // command with Transient Transport Error, as the specification suggests.
  bool data_digest_error_fatal = true;
  // Optional bound check: the transfer length of the command `cccid`, or nullopt if unknown
  // (then no range check). Checked for H2CData, C2HData and R2T with CheckDataRange.
  std::function<std::optional<uint64_t>(uint16_t cccid)> transfer_length;
};

class PduDecoder {
 public:
  using Callback = std::function<void(const Pdu&)>;

  // REQUIRES: config.pda <= 31; data limits <= 64 MiB.
  explicit PduDecoder(DecoderConfig config);

  // Consumes all of `bytes`, calling `on_pdu` for each PDU completed by them. Returns OK, or the
  // kProtocol status of the first error (then error() holds the details and no later call
  // delivers anything).
  Status Feed(std::span<const uint8_t> bytes, const Callback& on_pdu);

  // Digests take effect from the next PDU (call after the IC exchange).
  void set_digests(bool hdgst, bool ddgst) {
    config_.hdgst = hdgst;
    config_.ddgst = ddgst;
  }
  // The owner rejects what the decoder cannot judge (e.g. an unknown CCCID). The decoder stops.
  void Fail(PduError error);

  bool failed() const { return error_.has_value(); }
  const std::optional<PduError>& error() const { return error_; }
  const DecoderConfig& config() const { return config_; }
  // Bytes held for an incomplete PDU.
  size_t buffered() const { return buffer_.size(); }
  // The largest PLEN the current configuration accepts.
  uint32_t MaxPduSize() const;

 private:
  struct Step {
    enum Kind { kNeedMore, kDone, kError } kind;
    size_t n;  // kNeedMore: total bytes needed from the PDU start; kDone: bytes consumed
  };
  // Examines the PDU at the start of `in`: validates as far as the bytes go, delivers it when
  // complete.
  Step Decode(std::span<const uint8_t> in, const Callback& on_pdu);
  std::optional<PduError> CheckCommonHeader(std::span<const uint8_t> ch) const;
  std::optional<PduError> ParseHeader(std::span<const uint8_t> pdu, Pdu& out) const;
  Step Failed(PduError e);

  DecoderConfig config_;
  bool ic_done_ = false;
  std::vector<uint8_t> buffer_;
  size_t need_ = kCommonHeaderSize;
  std::optional<PduError> error_;
};

}  // namespace nvmpath::tcp
