// A deliberately plain NBD client for the export's protocol tests: blocking socket calls, every
// byte spelled out, so a test can send exactly what it wants (including what a real client never
// would) and read exactly what the server answers.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <poll.h>

#include <cstring>
#include <string>
#include <vector>

#include "export/nbd_protocol.h"

namespace nvmpath::exports::nbd_test {

using namespace nvmpath::exports::nbd;

struct OptReplyMsg {
  uint32_t option = 0;
  uint32_t type = 0;
  std::vector<uint8_t> data;
  std::string text() const { return std::string(data.begin(), data.end()); }
};

struct ReplyMsg {
  bool structured = false;
  uint16_t flags = 0;
  uint16_t type = 0;
  uint32_t error = 0;
  uint64_t cookie = 0;
  uint64_t offset = 0;  // structured OFFSET_DATA
  std::vector<uint8_t> data;
  std::string message;  // structured ERROR
};

class RawClient {
 public:
  static RawClient Tcp(uint16_t port) {
    RawClient c;
    c.fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(c.fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
    int one = 1;
    ::setsockopt(c.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{10, 0};
    ::setsockopt(c.fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return c;
  }
  static RawClient Unix(const std::string& path) {
    RawClient c;
    c.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    EXPECT_EQ(::connect(c.fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
    timeval tv{10, 0};
    ::setsockopt(c.fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return c;
  }
  RawClient() = default;
  RawClient(RawClient&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ~RawClient() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void SendBytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    while (n > 0) {
      ssize_t w = ::send(fd_, b, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      ASSERT_GT(w, 0) << strerror(errno);
      b += w;
      n -= static_cast<size_t>(w);
    }
  }
  void SendBytes(const std::vector<uint8_t>& v) { SendBytes(v.data(), v.size()); }
  // Reads exactly n bytes; false on EOF or error.
  bool Recv(void* p, size_t n) {
    auto* b = static_cast<uint8_t*>(p);
    while (n > 0) {
      ssize_t r = ::recv(fd_, b, n, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      b += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  std::vector<uint8_t> RecvN(size_t n) {
    std::vector<uint8_t> v(n);
    EXPECT_TRUE(Recv(v.data(), n)) << "connection ended while " << n << " bytes were expected";
    return v;
  }
  // True if the server closed the connection (EOF within 5 s).
  bool ClosedByServer() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    uint8_t b;
    return ::recv(fd_, &b, 1, 0) == 0;
  }

  // Greeting + client flags.
  void Handshake(uint32_t client_flags = kClientFlagFixedNewstyle | kClientFlagNoZeroes) {
    auto g = RecvN(kServerGreetingBytes);
    ASSERT_EQ(GetBe64(g, 0), kNbdMagic);
    ASSERT_EQ(GetBe64(g, 8), kIHaveOpt);
    ASSERT_EQ(GetBe16(g, 16), kFlagFixedNewstyle | kFlagNoZeroes);
    uint8_t f[4];
    PutBe32(f, 0, client_flags);
    SendBytes(f, 4);
  }
  void SendOption(uint32_t option, const std::vector<uint8_t>& data = {}) {
    std::vector<uint8_t> h(kOptionHeaderBytes);
    PutBe64(h, 0, kIHaveOpt);
    PutBe32(h, 8, option);
    PutBe32(h, 12, static_cast<uint32_t>(data.size()));
    SendBytes(h);
    if (!data.empty()) SendBytes(data);
  }
  OptReplyMsg RecvOptReply() {
    OptReplyMsg m;
    auto h = RecvN(20);
    if (h.size() < 20) return m;
    EXPECT_EQ(GetBe64(h, 0), kOptReplyMagic);
    m.option = GetBe32(h, 8);
    m.type = GetBe32(h, 12);
    m.data = RecvN(GetBe32(h, 16));
    return m;
  }
  static std::vector<uint8_t> InfoData(const std::string& name, std::vector<uint16_t> infos = {}) {
    std::vector<uint8_t> d(4 + name.size() + 2 + 2 * infos.size());
    PutBe32(d, 0, static_cast<uint32_t>(name.size()));
    std::memcpy(d.data() + 4, name.data(), name.size());
    PutBe16(d, 4 + name.size(), static_cast<uint16_t>(infos.size()));
    for (size_t i = 0; i < infos.size(); ++i) PutBe16(d, 6 + name.size() + 2 * i, infos[i]);
    return d;
  }
  // Handshake, optionally structured replies, GO on `name`; returns the export size.
  uint64_t Go(const std::string& name, bool structured = false) {
    Handshake();
    if (structured) {
      SendOption(kOptStructuredReply);
      EXPECT_EQ(RecvOptReply().type, kRepAck);
    }
    SendOption(kOptGo, InfoData(name, {kInfoBlockSize}));
    uint64_t size = 0;
    for (;;) {
      OptReplyMsg m = RecvOptReply();
      if (m.type == kRepAck) break;
      EXPECT_EQ(m.type, kRepInfo) << m.text();
      if (m.type != kRepInfo) return 0;
      if (GetBe16(m.data, 0) == kInfoExport) size = GetBe64(m.data, 2);
    }
    structured_ = structured;
    return size;
  }

  void SendRequest(uint16_t type, uint64_t cookie, uint64_t offset, uint32_t length,
                   uint16_t flags = 0, const std::vector<uint8_t>& payload = {}) {
    uint8_t h[kRequestBytes];
    EncodeRequest(h, {kRequestMagic, flags, type, cookie, offset, length});
    SendBytes(h, sizeof(h));
    if (!payload.empty()) SendBytes(payload);
  }
  // One reply; for a READ the caller says how many data bytes a simple reply carries.
  ReplyMsg RecvReply(size_t read_len = 0) {
    ReplyMsg m;
    uint8_t magic[4];
    if (!Recv(magic, 4)) {
      ADD_FAILURE() << "connection ended while a reply was expected";
      return m;
    }
    if (GetBe32(magic, 0) == kSimpleReplyMagic) {
      auto rest = RecvN(12);
      m.error = GetBe32(rest, 0);
      m.cookie = GetBe64(rest, 4);
      if (m.error == 0 && read_len > 0) m.data = RecvN(read_len);
      return m;
    }
    EXPECT_EQ(GetBe32(magic, 0), kStructuredReplyMagic);
    m.structured = true;
    auto rest = RecvN(16);
    m.flags = GetBe16(rest, 0);
    m.type = GetBe16(rest, 2);
    m.cookie = GetBe64(rest, 4);
    auto payload = RecvN(GetBe32(rest, 12));
    if (m.type == kChunkOffsetData) {
      m.offset = GetBe64(payload, 0);
      m.data.assign(payload.begin() + 8, payload.end());
    } else if (m.type == kChunkError) {
      m.error = GetBe32(payload, 0);
      m.message.assign(payload.begin() + 6, payload.begin() + 6 + GetBe16(payload, 4));
    }
    return m;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool structured_ = false;
};

}  // namespace nvmpath::exports::nbd_test
