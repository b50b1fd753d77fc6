// The NBD protocol as data: the fixed-newstyle handshake, options and their replies, transmission
// requests and simple / structured replies (docs/nbd-export.md has the layouts). Pure: no I/O.
//
// Every NBD field is big-endian. Decoders take exactly the bytes of one fixed-size header and
// report what they found; lengths that come with it are untrusted and checked by the caller
// (nbd_session) against the limits below before a byte of payload is buffered.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nvmpath::exports::nbd {

// ---- handshake ----
inline constexpr uint64_t kNbdMagic = 0x4e42444d41474943ull;  // "NBDMAGIC"
inline constexpr uint64_t kIHaveOpt = 0x49484156454f5054ull;  // "IHAVEOPT"
inline constexpr uint64_t kOptReplyMagic = 0x0003e889045565a9ull;
inline constexpr uint16_t kFlagFixedNewstyle = 1 << 0;
inline constexpr uint16_t kFlagNoZeroes = 1 << 1;
inline constexpr uint32_t kClientFlagFixedNewstyle = 1 << 0;
inline constexpr uint32_t kClientFlagNoZeroes = 1 << 1;

// Options (client → server).
enum Option : uint32_t {
  kOptExportName = 1,
  kOptAbort = 2,
  kOptList = 3,
  kOptStartTls = 5,
  kOptInfo = 6,
  kOptGo = 7,
  kOptStructuredReply = 8,
  kOptListMetaContext = 9,
  kOptSetMetaContext = 10,
};

// Option reply types; errors have bit 31 set.
enum OptReply : uint32_t {
  kRepAck = 1,
  kRepServer = 2,
  kRepInfo = 3,
  kRepErrUnsup = (1u << 31) + 1,
  kRepErrPolicy = (1u << 31) + 2,
  kRepErrInvalid = (1u << 31) + 3,
  kRepErrPlatform = (1u << 31) + 4,
  kRepErrTlsReqd = (1u << 31) + 5,
  kRepErrUnknown = (1u << 31) + 6,
  kRepErrShutdown = (1u << 31) + 7,
  kRepErrBlockSizeReqd = (1u << 31) + 8,
  kRepErrTooBig = (1u << 31) + 9,
};

enum Info : uint16_t { kInfoExport = 0, kInfoName = 1, kInfoDescription = 2, kInfoBlockSize = 3 };

// Transmission flags (per export).
inline constexpr uint16_t kTxHasFlags = 1 << 0;
inline constexpr uint16_t kTxReadOnly = 1 << 1;
inline constexpr uint16_t kTxSendFlush = 1 << 2;
inline constexpr uint16_t kTxSendFua = 1 << 3;
inline constexpr uint16_t kTxSendTrim = 1 << 5;
inline constexpr uint16_t kTxSendWriteZeroes = 1 << 6;
inline constexpr uint16_t kTxSendDf = 1 << 7;
inline constexpr uint16_t kTxCanMultiConn = 1 << 8;

// ---- transmission ----
inline constexpr uint32_t kRequestMagic = 0x25609513;
inline constexpr uint32_t kSimpleReplyMagic = 0x67446698;
inline constexpr uint32_t kStructuredReplyMagic = 0x668e33ef;

enum Command : uint16_t {
  kCmdRead = 0,
  kCmdWrite = 1,
  kCmdDisc = 2,
  kCmdFlush = 3,
  kCmdTrim = 4,
  kCmdCache = 5,
  kCmdWriteZeroes = 6,
  kCmdBlockStatus = 7,
  kCmdResize = 8,
};
inline constexpr uint16_t kCmdFlagFua = 1 << 0;
inline constexpr uint16_t kCmdFlagNoHole = 1 << 1;
inline constexpr uint16_t kCmdFlagDf = 1 << 2;
inline constexpr uint16_t kCmdFlagFastZero = 1 << 4;

enum ChunkType : uint16_t {
  kChunkNone = 0,
  kChunkOffsetData = 1,
  kChunkError = (1 << 15) + 1,
};
inline constexpr uint16_t kChunkFlagDone = 1 << 0;

// Error values on the wire (not the host's errno numbers, though they agree on Linux).
enum Error : uint32_t {
  kEperm = 1,
  kEio = 5,
  kEnomem = 12,
  kEinval = 22,
  kEnospc = 28,
  kEoverflow = 75,
  kEnotsup = 95,
  kEshutdown = 108,
};
// The NBD error for an errno (EIO for any the protocol does not name).
Error ErrorFromErrno(int err);
const char* CommandName(uint16_t type);
const char* OptionName(uint32_t option);

// ---- sizes and limits ----
inline constexpr size_t kServerGreetingBytes = 18;  // magic, IHAVEOPT, flags
inline constexpr size_t kClientFlagsBytes = 4;
inline constexpr size_t kOptionHeaderBytes = 16;  // IHAVEOPT, option, length
inline constexpr size_t kRequestBytes = 28;
inline constexpr size_t kSimpleReplyBytes = 16;
inline constexpr size_t kStructuredReplyBytes = 20;
inline constexpr size_t kExportNameZeroes = 124;
// Option data beyond this is refused (NBD_REP_ERR_TOO_BIG): names are at most 4096 bytes.
inline constexpr uint32_t kOptionDataMax = 16 << 10;
inline constexpr uint32_t kNameMax = 4096;
// The largest READ / WRITE payload a client may send: the maximum block size advertised. Larger
// requests are refused (EOVERFLOW); a request above the device's transfer limit is split into
// several device commands (nbd_session).
inline constexpr uint32_t kPayloadMax = 32 << 20;
inline constexpr uint32_t kPreferredBlockSize = 4096;

// ---- encoding ----
std::vector<uint8_t> EncodeGreeting();
// Option reply header + data.
std::vector<uint8_t> EncodeOptionReply(uint32_t option, uint32_t type,
                                       std::span<const uint8_t> data = {});
std::vector<uint8_t> EncodeOptionError(uint32_t option, uint32_t type, std::string_view message);
// NBD_REP_SERVER for NBD_OPT_LIST: name length, name.
std::vector<uint8_t> EncodeServerReply(uint32_t option, std::string_view name);
std::vector<uint8_t> EncodeInfoExport(uint32_t option, uint64_t size, uint16_t flags);
std::vector<uint8_t> EncodeInfoBlockSize(uint32_t option, uint32_t min, uint32_t preferred,
                                         uint32_t max);
std::vector<uint8_t> EncodeInfoName(uint32_t option, std::string_view name);
// The answer to NBD_OPT_EXPORT_NAME: size, flags, and 124 zero bytes unless NO_ZEROES.
std::vector<uint8_t> EncodeExportNameReply(uint64_t size, uint16_t flags, bool no_zeroes);

// Reply headers: the data of a READ follows them on the wire.
void EncodeSimpleReply(std::span<uint8_t, kSimpleReplyBytes> out, uint32_t error,
                       uint64_t cookie);
void EncodeStructuredHeader(std::span<uint8_t, kStructuredReplyBytes> out, uint16_t flags,
                            uint16_t type, uint64_t cookie, uint32_t length);
// A whole NBD_REPLY_TYPE_ERROR chunk (DONE set): error, message length, message.
std::vector<uint8_t> EncodeStructuredError(uint64_t cookie, uint32_t error,
                                           std::string_view message);

// ---- decoding ----
struct OptionHeader {
  uint64_t magic = 0;
  uint32_t option = 0;
  uint32_t length = 0;
};
OptionHeader DecodeOptionHeader(std::span<const uint8_t, kOptionHeaderBytes> in);

struct Request {
  uint32_t magic = 0;
  uint16_t flags = 0;
  uint16_t type = 0;
  uint64_t cookie = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
};
Request DecodeRequest(std::span<const uint8_t, kRequestBytes> in);
// The reverse, for clients (tests).
void EncodeRequest(std::span<uint8_t, kRequestBytes> out, const Request& r);

// NBD_OPT_INFO / NBD_OPT_GO data: u32 name length, name, u16 count, count × u16 info types.
struct InfoRequest {
  std::string name;
  std::vector<uint16_t> infos;
};
// Errors: a message naming what is inconsistent (the length fields against the data).
bool DecodeInfoRequest(std::span<const uint8_t> data, InfoRequest* out, std::string* error);

// Big-endian access for the codec and its tests.
uint16_t GetBe16(std::span<const uint8_t> b, size_t off);
uint32_t GetBe32(std::span<const uint8_t> b, size_t off);
uint64_t GetBe64(std::span<const uint8_t> b, size_t off);
void PutBe16(std::span<uint8_t> b, size_t off, uint16_t v);
void PutBe32(std::span<uint8_t> b, size_t off, uint32_t v);
void PutBe64(std::span<uint8_t> b, size_t off, uint64_t v);

}  // namespace nvmpath::exports::nbd
