#include "export/nbd_protocol.h"

#include <cerrno>

#include "base/assert.h"

namespace nvmpath::exports::nbd {

uint16_t GetBe16(std::span<const uint8_t> b, size_t off) {
  NVMP_ASSERT(off + 2 <= b.size());
  return static_cast<uint16_t>(b[off] << 8 | b[off + 1]);
}
uint32_t GetBe32(std::span<const uint8_t> b, size_t off) {
  return static_cast<uint32_t>(GetBe16(b, off)) << 16 | GetBe16(b, off + 2);
}
uint64_t GetBe64(std::span<const uint8_t> b, size_t off) {
  return static_cast<uint64_t>(GetBe32(b, off)) << 32 | GetBe32(b, off + 4);
}
void PutBe16(std::span<uint8_t> b, size_t off, uint16_t v) {
  NVMP_ASSERT(off + 2 <= b.size());
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}
void PutBe32(std::span<uint8_t> b, size_t off, uint32_t v) {
  PutBe16(b, off, static_cast<uint16_t>(v >> 16));
  PutBe16(b, off + 2, static_cast<uint16_t>(v));
}
void PutBe64(std::span<uint8_t> b, size_t off, uint64_t v) {
  PutBe32(b, off, static_cast<uint32_t>(v >> 32));
  PutBe32(b, off + 4, static_cast<uint32_t>(v));
}

Error ErrorFromErrno(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
    case EROFS: return kEperm;
    case ENOMEM: return kEnomem;
    case EINVAL: return kEinval;
    case ENOSPC:
    case EFBIG: return kEnospc;
    case EOVERFLOW: return kEoverflow;
    case EOPNOTSUPP: return kEnotsup;
    case ESHUTDOWN: return kEshutdown;
    default: return kEio;
  }
}

const char* CommandName(uint16_t type) {
  switch (type) {
    case kCmdRead: return "READ";
    case kCmdWrite: return "WRITE";
    case kCmdDisc: return "DISC";
    case kCmdFlush: return "FLUSH";
    case kCmdTrim: return "TRIM";
    case kCmdCache: return "CACHE";
    case kCmdWriteZeroes: return "WRITE_ZEROES";
    case kCmdBlockStatus: return "BLOCK_STATUS";
    case kCmdResize: return "RESIZE";
    default: return "unknown";
  }
}

const char* OptionName(uint32_t option) {
  switch (option) {
    case kOptExportName: return "EXPORT_NAME";
    case kOptAbort: return "ABORT";
    case kOptList: return "LIST";
    case kOptStartTls: return "STARTTLS";
    case kOptInfo: return "INFO";
    case kOptGo: return "GO";
    case kOptStructuredReply: return "STRUCTURED_REPLY";
    case kOptListMetaContext: return "LIST_META_CONTEXT";
    case kOptSetMetaContext: return "SET_META_CONTEXT";
    default: return "unknown";
  }
}

std::vector<uint8_t> EncodeGreeting() {
  std::vector<uint8_t> out(kServerGreetingBytes);
  PutBe64(out, 0, kNbdMagic);
  PutBe64(out, 8, kIHaveOpt);
  PutBe16(out, 16, kFlagFixedNewstyle | kFlagNoZeroes);
  return out;
}

std::vector<uint8_t> EncodeOptionReply(uint32_t option, uint32_t type,
                                       std::span<const uint8_t> data) {
  std::vector<uint8_t> out(20 + data.size());
  PutBe64(out, 0, kOptReplyMagic);
  PutBe32(out, 8, option);
  PutBe32(out, 12, type);
  PutBe32(out, 16, static_cast<uint32_t>(data.size()));
  std::copy(data.begin(), data.end(), out.begin() + 20);
  return out;
}

std::vector<uint8_t> EncodeOptionError(uint32_t option, uint32_t type, std::string_view message) {
  return EncodeOptionReply(
      option, type,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(message.data()), message.size()));
}

std::vector<uint8_t> EncodeServerReply(uint32_t option, std::string_view name) {
  std::vector<uint8_t> data(4 + name.size());
  PutBe32(data, 0, static_cast<uint32_t>(name.size()));
  std::copy(name.begin(), name.end(), data.begin() + 4);
  return EncodeOptionReply(option, kRepServer, data);
}

std::vector<uint8_t> EncodeInfoExport(uint32_t option, uint64_t size, uint16_t flags) {
  std::vector<uint8_t> data(12);
  PutBe16(data, 0, kInfoExport);
  PutBe64(data, 2, size);
  PutBe16(data, 10, flags);
  return EncodeOptionReply(option, kRepInfo, data);
}

std::vector<uint8_t> EncodeInfoBlockSize(uint32_t option, uint32_t min, uint32_t preferred,
                                         uint32_t max) {
  std::vector<uint8_t> data(14);
  PutBe16(data, 0, kInfoBlockSize);
  PutBe32(data, 2, min);
  PutBe32(data, 6, preferred);
  PutBe32(data, 10, max);
  return EncodeOptionReply(option, kRepInfo, data);
}

std::vector<uint8_t> EncodeInfoName(uint32_t option, std::string_view name) {
  std::vector<uint8_t> data(2 + name.size());
  PutBe16(data, 0, kInfoName);
  std::copy(name.begin(), name.end(), data.begin() + 2);
  return EncodeOptionReply(option, kRepInfo, data);
}

std::vector<uint8_t> EncodeExportNameReply(uint64_t size, uint16_t flags, bool no_zeroes) {
  std::vector<uint8_t> out(10 + (no_zeroes ? 0 : kExportNameZeroes));
  PutBe64(out, 0, size);
  PutBe16(out, 8, flags);
  return out;
}

void EncodeSimpleReply(std::span<uint8_t, kSimpleReplyBytes> out, uint32_t error,
                       uint64_t cookie) {
  PutBe32(out, 0, kSimpleReplyMagic);
  PutBe32(out, 4, error);
  PutBe64(out, 8, cookie);
}

void EncodeStructuredHeader(std::span<uint8_t, kStructuredReplyBytes> out, uint16_t flags,
                            uint16_t type, uint64_t cookie, uint32_t length) {
  PutBe32(out, 0, kStructuredReplyMagic);
  PutBe16(out, 4, flags);
  PutBe16(out, 6, type);
  PutBe64(out, 8, cookie);
  PutBe32(out, 16, length);
}

std::vector<uint8_t> EncodeStructuredError(uint64_t cookie, uint32_t error,
                                           std::string_view message) {
  if (message.size() > 4096) message = message.substr(0, 4096);
  std::vector<uint8_t> out(kStructuredReplyBytes + 6 + message.size());
  EncodeStructuredHeader(std::span<uint8_t, kStructuredReplyBytes>(out.data(), kStructuredReplyBytes),
                         kChunkFlagDone, kChunkError, cookie,
                         static_cast<uint32_t>(6 + message.size()));
  PutBe32(out, kStructuredReplyBytes, error);
  PutBe16(out, kStructuredReplyBytes + 4, static_cast<uint16_t>(message.size()));
  std::copy(message.begin(), message.end(), out.begin() + kStructuredReplyBytes + 6);
  return out;
}

OptionHeader DecodeOptionHeader(std::span<const uint8_t, kOptionHeaderBytes> in) {
  return {GetBe64(in, 0), GetBe32(in, 8), GetBe32(in, 12)};
}

Request DecodeRequest(std::span<const uint8_t, kRequestBytes> in) {
  Request r;
  r.magic = GetBe32(in, 0);
  r.flags = GetBe16(in, 4);
  r.type = GetBe16(in, 6);
  r.cookie = GetBe64(in, 8);
  r.offset = GetBe64(in, 16);
  r.length = GetBe32(in, 24);
  return r;
}

void EncodeRequest(std::span<uint8_t, kRequestBytes> out, const Request& r) {
  PutBe32(out, 0, r.magic);
  PutBe16(out, 4, r.flags);
  PutBe16(out, 6, r.type);
  PutBe64(out, 8, r.cookie);
  PutBe64(out, 16, r.offset);
  PutBe32(out, 24, r.length);
}

bool DecodeInfoRequest(std::span<const uint8_t> data, InfoRequest* out, std::string* error) {
  if (data.size() < 6) {
    *error = "option data of " + std::to_string(data.size()) + " bytes: at least 6 expected";
    return false;
  }
  const uint32_t name_len = GetBe32(data, 0);
  if (name_len > kNameMax || name_len > data.size() - 6) {
    *error = "export name length " + std::to_string(name_len) + " does not fit the " +
             std::to_string(data.size()) + " bytes of option data";
    return false;
  }
  out->name.assign(reinterpret_cast<const char*>(data.data()) + 4, name_len);
  const uint16_t count = GetBe16(data, 4 + name_len);
  const size_t rest = data.size() - 6 - name_len;
  if (rest != static_cast<size_t>(count) * 2) {
    *error = std::to_string(count) + " information requests need " + std::to_string(count * 2) +
             " bytes, the option has " + std::to_string(rest);
    return false;
  }
  out->infos.clear();
  for (uint16_t i = 0; i < count; ++i) out->infos.push_back(GetBe16(data, 6 + name_len + 2 * i));
  return true;
}

}  // namespace nvmpath::exports::nbd
