// Goal: every malformed input the decoder can meet yields its own DecodeError with the FES (and
// FEI for invalid header fields) the receiver must put in its Term Req, never a crash; and the
// decoder stays failed afterwards. Method: encode a valid PDU, break one field at its spec
// offset (written out here by hand), feed it whole and byte by byte.
#include <gtest/gtest.h>

#include "pdu_test_util.h"
#include "tcp/crc32c.h"
#include "tcp/pdu_encoder.h"

namespace nvmpath::tcp {
namespace {

using testing::Config;
using testing::DecodeAll;

void Put32(std::vector<uint8_t>& v, size_t off, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[off + i] = static_cast<uint8_t>(x >> (8 * i));
}
// Recomputes the header digest after a header field was changed on purpose.
void FixHdgst(std::vector<uint8_t>& v) {
  const uint8_t hlen = v[2];
  Put32(v, hlen, Crc32c(std::span<const uint8_t>(v).first(hlen)));
}

void ExpectError(const DecoderConfig& cfg, const std::vector<uint8_t>& bytes, DecodeError kind,
                 Fes fes, std::optional<uint32_t> fei = std::nullopt) {
  for (size_t chunk : {size_t{0}, size_t{1}}) {
    SCOPED_TRACE(chunk == 0 ? "whole" : "byte by byte");
    PduDecoder dec(cfg);
    auto d = DecodeAll(dec, bytes, chunk);
    ASSERT_TRUE(d.error.has_value()) << "no error; decoded " << d.pdus.size();
    EXPECT_EQ(d.error->kind, kind) << d.error->message << " got " << DecodeErrorName(d.error->kind);
    EXPECT_EQ(d.error->fes, fes) << d.error->message;
    if (fei) {
      EXPECT_EQ(d.error->fei, *fei) << d.error->message;
    }
    EXPECT_TRUE(d.pdus.empty());
    EXPECT_FALSE(d.error->message.empty());
    // Stays failed: even a valid PDU afterwards is not delivered.
    std::vector<uint8_t> valid;
    AppendTermReq(valid, cfg.role == Role::kHost ? PduType::kC2HTermReq : PduType::kH2CTermReq, {}, {});
    bool delivered = false;
    Status s = dec.Feed(valid, [&](const Pdu&) { delivered = true; });
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Code::kProtocol);
    EXPECT_FALSE(delivered);
  }
}

std::vector<uint8_t> H2C(const EncodeOptions& o = {}, size_t n = 64) {
  std::vector<uint8_t> b;
  AppendH2CData(b, {1, 2, 0, true}, std::vector<uint8_t>(n, 0x11), o);
  return b;
}
std::vector<uint8_t> C2H(const EncodeOptions& o = {}, size_t n = 64) {
  std::vector<uint8_t> b;
  AppendC2HData(b, {1, 0, true, false}, std::vector<uint8_t>(n, 0x22), o);
  return b;
}

TEST(PduDecoderErrors, UnknownType) {
  auto b = H2C();
  b[0] = 0x08;  // 0x08 is unassigned
  ExpectError(Config(Role::kController), b, DecodeError::kUnknownType, Fes::kInvalidHeaderField, 0);
  b[0] = 0xFF;
  ExpectError(Config(Role::kHost), b, DecodeError::kUnknownType, Fes::kInvalidHeaderField, 0);
}

TEST(PduDecoderErrors, WrongDirection) {
  ExpectError(Config(Role::kController), C2H(), DecodeError::kWrongDirection,
              Fes::kInvalidHeaderField, 0);
  ExpectError(Config(Role::kHost), H2C(), DecodeError::kWrongDirection, Fes::kInvalidHeaderField, 0);
  std::vector<uint8_t> ic;
  AppendIcReq(ic, {});
  ExpectError(Config(Role::kHost), ic, DecodeError::kWrongDirection, Fes::kInvalidHeaderField, 0);
}

TEST(PduDecoderErrors, SequenceCommandBeforeIcReq) {
  DecoderConfig cfg = Config(Role::kController);
  cfg.expect_ic = true;
  ExpectError(cfg, H2C(), DecodeError::kSequence, Fes::kPduSequenceError);
}

TEST(PduDecoderErrors, SequenceSecondIcReq) {
  DecoderConfig cfg = Config(Role::kController);
  cfg.expect_ic = true;
  std::vector<uint8_t> b;
  AppendIcReq(b, {});
  AppendIcReq(b, {});
  PduDecoder dec(cfg);
  auto d = DecodeAll(dec, b);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.pdus.size(), 1u);
  EXPECT_EQ(d.error->kind, DecodeError::kSequence);
  EXPECT_EQ(d.error->fes, Fes::kPduSequenceError);
}

TEST(PduDecoderErrors, HlenWrongForType) {
  auto b = H2C();
  b[2] = 28;
  ExpectError(Config(Role::kController), b, DecodeError::kBadHlen, Fes::kInvalidHeaderField, 2);
  std::vector<uint8_t> cmd;
  AppendCapsuleCmd(cmd, nvme::MakeFlush(1, 1), {}, {});
  cmd[2] = 24;
  ExpectError(Config(Role::kController), cmd, DecodeError::kBadHlen, Fes::kInvalidHeaderField, 2);
}

TEST(PduDecoderErrors, PdoInsideHeaderOrDigest) {
  auto b = H2C({true, false, 0});
  b[3] = 24;  // header digest occupies 24..27
  FixHdgst(b);
  ExpectError(Config(Role::kController, true), b, DecodeError::kBadPdo, Fes::kInvalidHeaderField, 3);
}

TEST(PduDecoderErrors, PdoNotMatchingPadding) {
  auto b = H2C();
  b[3] = 32;  // PDA 0 means data right after the header, at 24
  ExpectError(Config(Role::kController), b, DecodeError::kBadPdo, Fes::kInvalidHeaderField, 3);
  // Sent without the 16-byte alignment the receiver asked for (PDA 3 -> PDO 32).
  ExpectError(Config(Role::kController, false, false, 3), H2C(), DecodeError::kBadPdo,
              Fes::kInvalidHeaderField, 3);
}

TEST(PduDecoderErrors, PdoBeyondPlen) {
  auto b = H2C({false, false, 31}, 4);  // PDO 128, PLEN 132
  Put32(b, 4, 128);
  b.resize(128);
  ExpectError(Config(Role::kController, false, false, 31), b, DecodeError::kBadPdo,
              Fes::kInvalidHeaderField, 3);
}

TEST(PduDecoderErrors, PlenTooSmall) {
  auto b = H2C();
  Put32(b, 4, 20);
  ExpectError(Config(Role::kController), b, DecodeError::kPlenTooSmall, Fes::kInvalidHeaderField, 4);
  std::vector<uint8_t> ic;
  AppendIcResp(ic, {0, 0, false, false, 4096});
  Put32(ic, 4, 127);
  ExpectError(Config(Role::kHost), ic, DecodeError::kPlenTooSmall, Fes::kInvalidHeaderField, 4);
}

TEST(PduDecoderErrors, PlenTooLargeForDatalessPdu) {
  std::vector<uint8_t> b;
  AppendCapsuleResp(b, {}, {});
  Put32(b, 4, 28);
  b.resize(28);
  ExpectError(Config(Role::kHost), b, DecodeError::kPlenTooLarge, Fes::kInvalidHeaderField, 4);
  std::vector<uint8_t> r;
  AppendR2T(r, {1, 1, 0, 10}, {});
  Put32(r, 4, 0xFFFFFFFF);
  ExpectError(Config(Role::kHost), r, DecodeError::kPlenTooLarge, Fes::kInvalidHeaderField, 4);
}

TEST(PduDecoderErrors, DataOverConfiguredMaxIsRejectedBeforeBuffering) {
  DecoderConfig cfg = Config(Role::kController);
  cfg.max_data_per_pdu = 4096;
  auto b = H2C({}, 4097);
  ExpectError(cfg, b, DecodeError::kDataTooLarge, Fes::kDataLimitExceeded);
  // A huge PLEN fails on the 8-byte common header, before any allocation.
  auto huge = H2C();
  Put32(huge, 4, 0xFFFFFFF0);
  PduDecoder dec(cfg);
  EXPECT_FALSE(dec.Feed(std::span<const uint8_t>(huge).first(8), [](const Pdu&) {}).ok());
  EXPECT_EQ(dec.error()->kind, DecodeError::kDataTooLarge);
  EXPECT_EQ(dec.buffered(), 0u);
  // In-capsule data has its own limit.
  cfg.max_in_capsule_data = 512;
  std::vector<uint8_t> cmd;
  AppendCapsuleCmd(cmd, nvme::MakeWrite(1, 1, 0, 2, nvme::SglDescriptor::InCapsule(1024)),
                   std::vector<uint8_t>(1024), {});
  ExpectError(cfg, cmd, DecodeError::kDataTooLarge, Fes::kDataLimitExceeded);
}

TEST(PduDecoderErrors, HeaderDigestFlagWithoutNegotiation) {
  ExpectError(Config(Role::kController), H2C({true, false, 0}), DecodeError::kUnexpectedHeaderDigest,
              Fes::kInvalidHeaderField, 1);
}

TEST(PduDecoderErrors, HeaderDigestMissingWhenNegotiated) {
  ExpectError(Config(Role::kController, true), H2C(), DecodeError::kMissingHeaderDigest,
              Fes::kInvalidHeaderField, 1);
}

TEST(PduDecoderErrors, DataDigestFlagWithoutNegotiation) {
  ExpectError(Config(Role::kController), H2C({false, true, 0}), DecodeError::kUnexpectedDataDigest,
              Fes::kInvalidHeaderField, 1);
  std::vector<uint8_t> resp;
  AppendCapsuleResp(resp, {}, {});
  resp[1] |= 0x02;  // DDGSTF on a PDU without data
  ExpectError(Config(Role::kHost, false, true), resp, DecodeError::kUnexpectedDataDigest,
              Fes::kInvalidHeaderField, 1);
}

TEST(PduDecoderErrors, DataDigestMissingWhenNegotiated) {
  ExpectError(Config(Role::kHost, false, true), C2H(), DecodeError::kMissingDataDigest,
              Fes::kInvalidHeaderField, 1);
}

TEST(PduDecoderErrors, HeaderDigestMismatch) {
  auto b = C2H({true, false, 0});
  b[24] ^= 0xFF;
  ExpectError(Config(Role::kHost, true), b, DecodeError::kHeaderDigestMismatch, Fes::kHeaderDigestError);
  auto c = C2H({true, false, 0});
  c[8] ^= 1;  // a header field changed in flight
  ExpectError(Config(Role::kHost, true), c, DecodeError::kHeaderDigestMismatch, Fes::kHeaderDigestError);
}

TEST(PduDecoderErrors, DataDigestMismatch) {
  auto b = H2C({false, true, 0});
  b[30] ^= 0x40;
  ExpectError(Config(Role::kController, false, true), b, DecodeError::kDataDigestMismatch, Fes::kNone);
}

TEST(PduDecoderErrors, DigestsOnIcAndTermReq) {
  std::vector<uint8_t> ic;
  AppendIcReq(ic, {});
  ic[1] = 0x01;
  ExpectError(Config(Role::kController, true, true), ic, DecodeError::kDigestOnControlPdu,
              Fes::kInvalidHeaderField, 1);
  std::vector<uint8_t> resp;
  AppendIcResp(resp, {0, 0, false, false, 8192});
  resp[1] = 0x02;
  ExpectError(Config(Role::kHost), resp, DecodeError::kDigestOnControlPdu, Fes::kInvalidHeaderField, 1);
  std::vector<uint8_t> term;
  AppendTermReq(term, PduType::kC2HTermReq, {}, {});
  term[1] = 0x03;
  ExpectError(Config(Role::kHost, true, true), term, DecodeError::kDigestOnControlPdu,
              Fes::kInvalidHeaderField, 1);
}

TEST(PduDecoderErrors, PfvNotZero) {
  std::vector<uint8_t> ic;
  AppendIcReq(ic, {1, 0, false, false, 0});
  ExpectError(Config(Role::kController), ic, DecodeError::kBadPfv, Fes::kUnsupportedParameter, 8);
}

TEST(PduDecoderErrors, IcFieldsOutOfRange) {
  std::vector<uint8_t> ic;
  AppendIcReq(ic, {0, 32, false, false, 0});
  ExpectError(Config(Role::kController), ic, DecodeError::kBadIcField, Fes::kInvalidHeaderField, 10);
  std::vector<uint8_t> resp;
  AppendIcResp(resp, {0, 0, false, false, 4095});
  ExpectError(Config(Role::kHost), resp, DecodeError::kBadIcField, Fes::kInvalidHeaderField, 12);
  resp.clear();
  AppendIcResp(resp, {0, 0, false, false, 8190});
  ExpectError(Config(Role::kHost), resp, DecodeError::kBadIcField, Fes::kInvalidHeaderField, 12);
}

TEST(PduDecoderErrors, SuccessWithoutLastPdu) {
  auto b = C2H();
  b[1] = 0x08;  // SUCCESS, no LAST_PDU
  ExpectError(Config(Role::kHost), b, DecodeError::kBadFlags, Fes::kInvalidHeaderField, 1);
}

TEST(PduDecoderErrors, SuccessOnH2CData) {
  auto b = H2C();
  b[1] |= 0x08;
  ExpectError(Config(Role::kController), b, DecodeError::kBadFlags, Fes::kInvalidHeaderField, 1);
}

TEST(PduDecoderErrors, DatalDoesNotMatchPlen) {
  auto b = H2C();
  Put32(b, 16, 63);
  ExpectError(Config(Role::kController), b, DecodeError::kBadDatal, Fes::kInvalidHeaderField, 16);
  auto c = C2H();
  Put32(c, 16, 0x10000040);
  ExpectError(Config(Role::kHost), c, DecodeError::kBadDatal, Fes::kInvalidHeaderField, 16);
}

TEST(PduDecoderErrors, R2TLengthZero) {
  std::vector<uint8_t> r;
  AppendR2T(r, {1, 1, 0, 1}, {});
  Put32(r, 16, 0);
  ExpectError(Config(Role::kHost), r, DecodeError::kBadDatal, Fes::kInvalidHeaderField, 16);
}

TEST(PduDecoderErrors, DataBeyondCommandTransfer) {
  DecoderConfig cfg = Config(Role::kController);
  cfg.transfer_length = [](uint16_t cccid) -> std::optional<uint64_t> {
    if (cccid == 1) return 100;
    return std::nullopt;
  };
  std::vector<uint8_t> b;
  AppendH2CData(b, {1, 2, 64, true}, std::vector<uint8_t>(64), {});  // 64 + 64 > 100
  ExpectError(cfg, b, DecodeError::kDataOutOfRange, Fes::kDataOutOfRange);
  b.clear();
  AppendH2CData(b, {2, 2, 0xFFFFFFF0, true}, std::vector<uint8_t>(64), {});  // unknown CCCID
  EXPECT_FALSE(DecodeAll(cfg, b).error);

  DecoderConfig host = Config(Role::kHost);
  host.transfer_length = cfg.transfer_length;
  std::vector<uint8_t> r;
  AppendR2T(r, {1, 1, 0xFFFFFFFF, 2}, {});  // wraps in 32 bits
  ExpectError(host, r, DecodeError::kDataOutOfRange, Fes::kDataOutOfRange);
}

TEST(PduDecoderErrors, CheckDataRange) {
  EXPECT_FALSE(CheckDataRange(0, 4096, 4096));
  EXPECT_FALSE(CheckDataRange(4095, 1, 4096));
  EXPECT_TRUE(CheckDataRange(4096, 1, 4096));
  EXPECT_TRUE(CheckDataRange(0, 0, 4096));
  EXPECT_TRUE(CheckDataRange(0xFFFFFFFF, 0xFFFFFFFF, 0x100000000ull));
  EXPECT_EQ(CheckDataRange(1, 4096, 4096)->fes, Fes::kDataOutOfRange);
}

TEST(PduDecoderErrors, TermReqLongerThan152) {
  std::vector<uint8_t> t;
  AppendTermReq(t, PduType::kH2CTermReq, {}, std::vector<uint8_t>(128));
  Put32(t, 4, 153);
  t.push_back(0);
  ExpectError(Config(Role::kController), t, DecodeError::kTermReqTooLong, Fes::kInvalidHeaderField, 4);
}

TEST(PduDecoderErrors, OwnerCanFailTheDecoder) {
  auto b = H2C();
  auto two = b;
  two.insert(two.end(), b.begin(), b.end());
  PduDecoder dec(Config(Role::kController));
  int n = 0;
  Status s = dec.Feed(two, [&](const Pdu&) {
    ++n;
    dec.Fail({DecodeError::kRejectedByOwner, Fes::kPduSequenceError, 0, "unknown CCCID 1"});
  });
  EXPECT_EQ(n, 1);
  EXPECT_EQ(s.code(), Code::kProtocol);
  EXPECT_NE(s.message().find("unknown CCCID"), std::string::npos);
}

}  // namespace
}  // namespace nvmpath::tcp
