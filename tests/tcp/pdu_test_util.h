// Helpers shared by the PDU codec tests: decode a byte string into owned PDUs.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "tcp/pdu_decoder.h"

namespace nvmpath::tcp::testing {

struct OwnedPdu {
  Pdu pdu;  // pdu.data is cleared; the bytes are in `data`
  std::vector<uint8_t> data;
};

struct Decoded {
  std::vector<OwnedPdu> pdus;
  std::optional<PduError> error;
};

// Feeds `bytes` in chunks of `chunk` bytes (0 = all at once).
inline Decoded DecodeAll(PduDecoder& dec, std::span<const uint8_t> bytes, size_t chunk = 0) {
  Decoded out;
  auto sink = [&](const Pdu& p) {
    OwnedPdu o{p, std::vector<uint8_t>(p.data.begin(), p.data.end())};
    o.pdu.data = {};
    out.pdus.push_back(std::move(o));
  };
  if (chunk == 0) chunk = bytes.size() ? bytes.size() : 1;
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    if (!dec.Feed(bytes.subspan(off, std::min(chunk, bytes.size() - off)), sink).ok()) break;
  }
  out.error = dec.error();
  return out;
}

inline Decoded DecodeAll(const DecoderConfig& cfg, std::span<const uint8_t> bytes, size_t chunk = 0) {
  PduDecoder dec(cfg);
  return DecodeAll(dec, bytes, chunk);
}

inline DecoderConfig Config(Role role, bool hdgst = false, bool ddgst = false, uint8_t pda = 0) {
  DecoderConfig c;
  c.role = role;
  c.hdgst = hdgst;
  c.ddgst = ddgst;
  c.pda = pda;
  c.expect_ic = false;
  return c;
}

}  // namespace nvmpath::tcp::testing
