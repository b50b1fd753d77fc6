// The NBD export against a raw client: every option and command, simple and structured replies,
// bad input, many requests in flight, clients that vanish, stop with I/O in flight. The heads are
// real: the project's target on 127.0.0.1, a Client on two I/O threads, the server on both a TCP
// port and a Unix socket.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include "client/client_impl.h"
#include "client/target_fixture.h"
#include "export/head_table.h"
#include "export/nbd_server.h"
#include "nbd_raw_client.h"

namespace nvmpath::exports::nbd_test {
namespace {

using client_test::kNsBytes;
using client_test::kSubnqn;
using client_test::TargetOnThread;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
  return v;
}

class NbdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = std::make_unique<TargetOnThread>();
    auto threads = client::IoThreads::Create(2);
    ASSERT_TRUE(threads.ok()) << threads.status().ToString();
    threads_ = std::move(threads).value();
    ClientOptions o;
    o.subnqn = kSubnqn;
    o.paths = {{"127.0.0.1", target_->port1()}, {"127.0.0.1", target_->port2()}};
    auto c = client::ClientImpl::ConnectOn(o, threads_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
    heads_ = std::make_unique<HeadTable>(std::vector<Client*>{client_.get()});
    char dir[] = "/tmp/nbdtest.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    sock_ = dir_ + "/nbd.sock";
    auto s = NbdServer::Start({"127.0.0.1:0", "unix:" + sock_}, heads_.get(), threads_.get());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    port_ = server_->ports()[0];
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    if (client_) client_->Close();
    client_.reset();
    if (threads_) threads_->StopAndJoin();
    threads_.reset();
    target_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  Device* Dev(uint32_t nsid) { return *client_->Open(nsid); }

  std::unique_ptr<TargetOnThread> target_;
  std::shared_ptr<client::IoThreads> threads_;
  std::unique_ptr<client::ClientImpl> client_;
  std::unique_ptr<HeadTable> heads_;
  std::unique_ptr<NbdServer> server_;
  std::string dir_, sock_;
  uint16_t port_ = 0;
};

// ---- head names ----

TEST(HeadNameTest, FormatsAndParsesOnlyCanonicalNames) {
  EXPECT_EQ(HeadName({0, 1}), "nvmpath0n1");
  EXPECT_EQ(HeadName({12, 4096}), "nvmpath12n4096");
  EXPECT_EQ(ParseHeadName("nvmpath3n7"), (HeadId{3, 7}));
  for (const char* bad : {"nvmpath0n0", "nvmpath01n1", "nvmpath0n01", "nvme0n1", "nvmpath0",
                          "nvmpathn1", "nvmpath0n", "nvmpath0n1x", "nvmpath-1n1",
                          "nvmpath0n4294967295"}) {
    EXPECT_FALSE(ParseHeadName(bad).has_value()) << bad;
  }
}

// ---- handshake ----

TEST_F(NbdTest, ListNamesEveryHead) {
  RawClient c = RawClient::Tcp(port_);
  c.Handshake();
  c.SendOption(kOptList);
  std::vector<std::string> names;
  for (;;) {
    OptReplyMsg m = c.RecvOptReply();
    if (m.type == kRepAck) break;
    ASSERT_EQ(m.type, kRepServer);
    names.emplace_back(m.data.begin() + 4, m.data.begin() + 4 + GetBe32(m.data, 0));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"nvmpath0n1", "nvmpath0n2"}));
  // LIST with data is invalid, and the session goes on.
  c.SendOption(kOptList, {1, 2});
  EXPECT_EQ(c.RecvOptReply().type, kRepErrInvalid);
  c.SendOption(kOptAbort);
  EXPECT_EQ(c.RecvOptReply().type, kRepAck);
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(NbdTest, InfoReportsSizeFlagsBlockSizesAndName) {
  RawClient c = RawClient::Unix(sock_);
  c.Handshake();
  c.SendOption(kOptInfo, RawClient::InfoData("nvmpath0n2", {kInfoName, kInfoBlockSize}));
  std::map<uint16_t, std::vector<uint8_t>> infos;
  for (;;) {
    OptReplyMsg m = c.RecvOptReply();
    EXPECT_EQ(m.option, kOptInfo);
    if (m.type == kRepAck) break;
    ASSERT_EQ(m.type, kRepInfo);
    infos[GetBe16(m.data, 0)] = m.data;
  }
  ASSERT_TRUE(infos.count(kInfoExport));
  EXPECT_EQ(GetBe64(infos[kInfoExport], 2), kNsBytes);
  const uint16_t flags = GetBe16(infos[kInfoExport], 10);
  for (uint16_t f : {kTxHasFlags, kTxSendFlush, kTxSendFua, kTxSendTrim, kTxSendWriteZeroes,
                     kTxCanMultiConn}) {
    EXPECT_TRUE(flags & f) << "flag " << f;
  }
  EXPECT_FALSE(flags & kTxReadOnly);
  ASSERT_TRUE(infos.count(kInfoBlockSize));
  EXPECT_EQ(GetBe32(infos[kInfoBlockSize], 2), 512u);
  EXPECT_EQ(GetBe32(infos[kInfoBlockSize], 6), 4096u);
  EXPECT_EQ(GetBe32(infos[kInfoBlockSize], 10), kPayloadMax);
  ASSERT_TRUE(infos.count(kInfoName));
  EXPECT_EQ(std::string(infos[kInfoName].begin() + 2, infos[kInfoName].end()), "nvmpath0n2");
  // INFO does not end the handshake: GO still works on the same connection.
  c.SendOption(kOptGo, RawClient::InfoData("nvmpath0n2"));
  OptReplyMsg m;
  do {
    m = c.RecvOptReply();
  } while (m.type == kRepInfo);
  EXPECT_EQ(m.type, kRepAck);
  c.SendRequest(kCmdFlush, 1, 0, 0);
  EXPECT_EQ(c.RecvReply().error, 0u);
}

TEST_F(NbdTest, UnknownExportAndMalformedInfoAreOptionErrors) {
  RawClient c = RawClient::Tcp(port_);
  c.Handshake();
  c.SendOption(kOptGo, RawClient::InfoData("nvmpath9n1"));
  OptReplyMsg m = c.RecvOptReply();
  EXPECT_EQ(m.type, kRepErrUnknown);
  EXPECT_NE(m.text().find("no head called \"nvmpath9n1\" (heads: nvmpath0n1, nvmpath0n2)"),
            std::string::npos)
      << m.text();
  // Name length past the data.
  std::vector<uint8_t> bad = RawClient::InfoData("nvmpath0n1");
  PutBe32(bad, 0, 1000);
  c.SendOption(kOptInfo, bad);
  m = c.RecvOptReply();
  EXPECT_EQ(m.type, kRepErrInvalid);
  EXPECT_NE(m.text().find("export name length 1000"), std::string::npos) << m.text();
  // Unknown option, STARTTLS, meta context before structured replies.
  c.SendOption(77);
  EXPECT_EQ(c.RecvOptReply().type, kRepErrUnsup);
  c.SendOption(kOptStartTls);
  EXPECT_EQ(c.RecvOptReply().type, kRepErrUnsup);
  c.SendOption(kOptSetMetaContext, {0, 0, 0, 0});
  EXPECT_EQ(c.RecvOptReply().type, kRepErrInvalid);
  c.SendOption(kOptStructuredReply, {1});
  EXPECT_EQ(c.RecvOptReply().type, kRepErrInvalid);
  c.SendOption(kOptStructuredReply);
  EXPECT_EQ(c.RecvOptReply().type, kRepAck);
  c.SendOption(kOptSetMetaContext, {0, 0, 0, 0});
  EXPECT_EQ(c.RecvOptReply().type, kRepAck);  // no context offered: an empty list
  // Oversized option data: read and refused, the session goes on.
  c.SendOption(kOptInfo, std::vector<uint8_t>(kOptionDataMax + 1, 0));
  m = c.RecvOptReply();
  EXPECT_EQ(m.type, kRepErrTooBig);
  EXPECT_NE(m.text().find("at most"), std::string::npos);
  c.SendOption(kOptList);
  EXPECT_EQ(c.RecvOptReply().type, kRepServer);
}

TEST_F(NbdTest, ExportNameEntersTransmissionOrClosesForUnknownName) {
  {
    RawClient c = RawClient::Tcp(port_);
    c.Handshake(kClientFlagFixedNewstyle);  // without NO_ZEROES: 124 zero bytes follow
    const std::string name = "nvmpath0n1";
    c.SendOption(kOptExportName, std::vector<uint8_t>(name.begin(), name.end()));
    auto r = c.RecvN(10 + kExportNameZeroes);
    EXPECT_EQ(GetBe64(r, 0), kNsBytes);
    EXPECT_TRUE(GetBe16(r, 8) & kTxCanMultiConn);
    EXPECT_TRUE(std::all_of(r.begin() + 10, r.end(), [](uint8_t b) { return b == 0; }));
    c.SendRequest(kCmdFlush, 5, 0, 0);
    ReplyMsg m = c.RecvReply();
    EXPECT_EQ(m.cookie, 5u);
    EXPECT_EQ(m.error, 0u);
  }
  {
    RawClient c = RawClient::Tcp(port_);
    c.Handshake();
    c.SendOption(kOptExportName, {'x'});
    EXPECT_TRUE(c.ClosedByServer());
  }
  {
    RawClient c = RawClient::Tcp(port_);
    c.Handshake(0x80);  // a client flag nobody defined
    EXPECT_TRUE(c.ClosedByServer());
  }
}

TEST_F(NbdTest, EmptyNameIsTheFirstHead) {
  RawClient c = RawClient::Tcp(port_);
  EXPECT_EQ(c.Go(""), kNsBytes);
  auto data = Pattern(4096, 3);
  c.SendRequest(kCmdWrite, 1, 8192, 4096, 0, data);
  EXPECT_EQ(c.RecvReply().error, 0u);
  std::vector<uint8_t> back(4096);
  ASSERT_TRUE(Dev(1)->Read(16, 8, back).ok());
  EXPECT_EQ(back, data);
}

// ---- commands ----

TEST_F(NbdTest, EveryCommandWithSimpleReplies) {
  RawClient c = RawClient::Tcp(port_);
  ASSERT_EQ(c.Go("nvmpath0n1"), kNsBytes);
  auto data = Pattern(64 << 10, 11);
  c.SendRequest(kCmdWrite, 1, 0, static_cast<uint32_t>(data.size()), kCmdFlagFua, data);
  ReplyMsg m = c.RecvReply();
  EXPECT_EQ(m.cookie, 1u);
  EXPECT_EQ(m.error, 0u);
  c.SendRequest(kCmdRead, 2, 0, static_cast<uint32_t>(data.size()));
  m = c.RecvReply(data.size());
  EXPECT_EQ(m.cookie, 2u);
  EXPECT_EQ(m.data, data);
  c.SendRequest(kCmdFlush, 3, 0, 0);
  EXPECT_EQ(c.RecvReply().error, 0u);
  // Write zeroes (with NO_HOLE) over the first 8 KiB: zeroes read back, the rest is intact.
  c.SendRequest(kCmdWriteZeroes, 4, 0, 8192, kCmdFlagNoHole);
  EXPECT_EQ(c.RecvReply().error, 0u);
  c.SendRequest(kCmdRead, 5, 0, 16384);
  m = c.RecvReply(16384);
  EXPECT_TRUE(std::all_of(m.data.begin(), m.data.begin() + 8192, [](uint8_t b) { return b == 0; }));
  EXPECT_TRUE(std::equal(m.data.begin() + 8192, m.data.end(), data.begin() + 8192));
  c.SendRequest(kCmdTrim, 6, 32768, 4096);
  EXPECT_EQ(c.RecvReply().error, 0u);
  c.SendRequest(kCmdDisc, 7, 0, 0);
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(NbdTest, StructuredRepliesForDataNoneAndErrors) {
  RawClient c = RawClient::Tcp(port_);
  ASSERT_EQ(c.Go("nvmpath0n2", /*structured=*/true), kNsBytes);
  auto data = Pattern(8192, 5);
  c.SendRequest(kCmdWrite, 10, 4096, 8192, 0, data);
  ReplyMsg m = c.RecvReply();
  EXPECT_TRUE(m.structured);
  EXPECT_EQ(m.type, kChunkNone);
  EXPECT_EQ(m.flags, kChunkFlagDone);
  EXPECT_EQ(m.cookie, 10u);
  c.SendRequest(kCmdRead, 11, 4096, 8192);
  m = c.RecvReply();
  EXPECT_EQ(m.type, kChunkOffsetData);
  EXPECT_EQ(m.flags, kChunkFlagDone);
  EXPECT_EQ(m.offset, 4096u);
  EXPECT_EQ(m.data, data);
  c.SendRequest(kCmdRead, 12, kNsBytes, 512);
  m = c.RecvReply();
  EXPECT_EQ(m.type, kChunkError);
  EXPECT_EQ(m.error, kEinval);
  EXPECT_NE(m.message.find("past the end of nvmpath0n2"), std::string::npos) << m.message;
}

TEST_F(NbdTest, BadRequestsGetErrorsAndTheConnectionGoesOn) {
  RawClient c = RawClient::Tcp(port_);
  ASSERT_EQ(c.Go("nvmpath0n1"), kNsBytes);
  struct Case {
    uint16_t type;
    uint64_t offset;
    uint32_t length;
    uint16_t flags;
    uint32_t error;
    bool payload;
  };
  const Case cases[] = {
      {kCmdRead, kNsBytes - 512, 1024, 0, kEinval, false},    // past the end
      {kCmdWrite, kNsBytes, 512, 0, kEnospc, true},           // write past the end
      {kCmdWrite, 100, 512, 0, kEinval, true},                // misaligned offset
      {kCmdRead, 0, 100, 0, kEinval, false},                  // misaligned length
      {kCmdRead, 0, 0, 0, kEinval, false},                    // zero length
      {kCmdTrim, 0, 0, 0, kEinval, false},                    // zero length
      {kCmdRead, 0, kPayloadMax + 512, 0, kEoverflow, false}, // oversized
      {kCmdWrite, 0, kPayloadMax + 512, 0, kEoverflow, true}, // oversized, payload skipped
      {kCmdCache, 0, 512, 0, kEnotsup, false},
      {kCmdBlockStatus, 0, 512, 0, kEnotsup, false},
      {kCmdWriteZeroes, 0, 512, kCmdFlagFastZero, kEnotsup, false},
      {42, 0, 512, 0, kEinval, false},  // unknown command
  };
  uint64_t cookie = 100;
  for (const Case& k : cases) {
    std::vector<uint8_t> payload;
    if (k.payload) payload.assign(k.length, 0xEE);
    c.SendRequest(k.type, ++cookie, k.offset, k.length, k.flags, payload);
    ReplyMsg m = c.RecvReply();
    EXPECT_EQ(m.cookie, cookie);
    EXPECT_EQ(m.error, k.error) << CommandName(k.type) << " at " << k.offset << " len " << k.length;
  }
  // Nothing of the refused writes reached the device, and the connection still serves.
  std::vector<uint8_t> block(512);
  ASSERT_TRUE(Dev(1)->Read(0, 1, block).ok());
  EXPECT_TRUE(std::none_of(block.begin(), block.end(), [](uint8_t b) { return b == 0xEE; }));
  auto data = Pattern(512, 9);
  c.SendRequest(kCmdWrite, 1, 0, 512, 0, data);
  EXPECT_EQ(c.RecvReply().error, 0u);
}

TEST_F(NbdTest, LargeRequestsAreSplitIntoSeveralCommands) {
  RawClient c = RawClient::Tcp(port_);
  ASSERT_EQ(c.Go("nvmpath0n1"), kNsBytes);
  const uint32_t max_bytes = Dev(1)->max_io_blocks() * 512;
  const uint32_t len = std::min<uint32_t>(kNsBytes, max_bytes * 3 + 4096);
  ASSERT_GT(len, max_bytes) << "the device takes the whole namespace in one command";
  auto data = Pattern(len, 21);
  const uint64_t before = Dev(1)->counters().submitted;
  c.SendRequest(kCmdWrite, 1, 0, len, 0, data);
  EXPECT_EQ(c.RecvReply().error, 0u);
  c.SendRequest(kCmdRead, 2, 0, len);
  ReplyMsg m = c.RecvReply(len);
  EXPECT_EQ(m.data, data);
  EXPECT_GE(Dev(1)->counters().submitted - before, 2u * ((len + max_bytes - 1) / max_bytes));
  // Write zeroes over the whole namespace: more than one command clears.
  c.SendRequest(kCmdWriteZeroes, 3, 0, static_cast<uint32_t>(kNsBytes));
  EXPECT_EQ(c.RecvReply().error, 0u);
  c.SendRequest(kCmdRead, 4, 0, 4096);
  m = c.RecvReply(4096);
  EXPECT_TRUE(std::all_of(m.data.begin(), m.data.end(), [](uint8_t b) { return b == 0; }));
}

TEST_F(NbdTest, SixtyFourRequestsInFlightAnsweredAsTheyComplete) {
  RawClient c = RawClient::Tcp(port_);
  ASSERT_EQ(c.Go("nvmpath0n1"), kNsBytes);
  constexpr int kN = 64;
  std::vector<std::vector<uint8_t>> blocks;
  std::string all;
  for (int i = 0; i < kN; ++i) {
    blocks.push_back(Pattern(4096, static_cast<uint8_t>(i)));
    uint8_t h[kRequestBytes];
    EncodeRequest(h, {kRequestMagic, 0, kCmdWrite, 1000u + i, uint64_t(i) * 4096, 4096});
    all.append(reinterpret_cast<char*>(h), sizeof(h));
    all.append(blocks.back().begin(), blocks.back().end());
  }
  c.SendBytes(all.data(), all.size());  // all 64 before reading any reply
  std::set<uint64_t> cookies;
  for (int i = 0; i < kN; ++i) {
    ReplyMsg m = c.RecvReply();
    EXPECT_EQ(m.error, 0u);
    cookies.insert(m.cookie);
  }
  EXPECT_EQ(cookies.size(), size_t{kN});
  for (int i = 0; i < kN; ++i) c.SendRequest(kCmdRead, 2000u + i, uint64_t(i) * 4096, 4096);
  for (int i = 0; i < kN; ++i) {
    ReplyMsg m = c.RecvReply(4096);
    ASSERT_GE(m.cookie, 2000u);
    ASSERT_LT(m.cookie, 2000u + kN);
    EXPECT_EQ(m.data, blocks[m.cookie - 2000]) << "cookie " << m.cookie;
  }
}

TEST_F(NbdTest, BadMagicClosesOnlyThatConnection) {
  RawClient good = RawClient::Tcp(port_);
  ASSERT_EQ(good.Go("nvmpath0n1"), kNsBytes);
  RawClient bad = RawClient::Tcp(port_);
  ASSERT_EQ(bad.Go("nvmpath0n1"), kNsBytes);
  uint8_t h[kRequestBytes];
  EncodeRequest(h, {0xdeadbeef, 0, kCmdRead, 1, 0, 512});
  bad.SendBytes(h, sizeof(h));
  EXPECT_TRUE(bad.ClosedByServer());
  // Bad option magic in the handshake too.
  RawClient bad2 = RawClient::Tcp(port_);
  bad2.Handshake();
  std::vector<uint8_t> opt(kOptionHeaderBytes, 0x11);
  bad2.SendBytes(opt);
  EXPECT_TRUE(bad2.ClosedByServer());
  good.SendRequest(kCmdRead, 2, 0, 512);
  EXPECT_EQ(good.RecvReply(512).error, 0u);
}

TEST_F(NbdTest, VanishingClientsLoseNothingAcknowledged) {
  auto acked = Pattern(4096, 77);
  {
    RawClient c = RawClient::Tcp(port_);
    ASSERT_EQ(c.Go("nvmpath0n1"), kNsBytes);
    c.SendRequest(kCmdWrite, 1, 65536, 4096, 0, acked);
    ASSERT_EQ(c.RecvReply().error, 0u);
    // 32 writes elsewhere whose replies nobody reads, then a truncated header, then gone.
    for (int i = 0; i < 32; ++i) {
      c.SendRequest(kCmdWrite, 10u + i, 131072 + uint64_t(i) * 4096, 4096, 0,
                    Pattern(4096, static_cast<uint8_t>(i)));
    }
    uint8_t half[10] = {0x25, 0x60};
    c.SendBytes(half, sizeof(half));
  }
  {
    RawClient c = RawClient::Tcp(port_);
    ASSERT_EQ(c.Go("nvmpath0n1"), kNsBytes);
    // A write header and half its payload, then gone: nothing of it was acknowledged.
    c.SendRequest(kCmdWrite, 1, 0, 8192, 0, Pattern(4096, 1));
  }
  RawClient c = RawClient::Tcp(port_);
  ASSERT_EQ(c.Go("nvmpath0n1"), kNsBytes);
  c.SendRequest(kCmdRead, 1, 65536, 4096);
  EXPECT_EQ(c.RecvReply(4096).data, acked);
  // Every session of the vanished clients is gone once their I/O finished.
  for (int i = 0; i < 500 && server_->counters().sessions > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server_->counters().sessions, 1u);
}

TEST_F(NbdTest, ConnectionsAreSpreadOverTheIoThreads) {
  std::vector<RawClient> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(RawClient::Tcp(port_));
    ASSERT_EQ(clients.back().Go("nvmpath0n1"), kNsBytes);
  }
  const uint64_t before = Dev(1)->counters().submitted;
  for (size_t i = 0; i < clients.size(); ++i) {
    auto data = Pattern(4096, static_cast<uint8_t>(i));
    clients[i].SendRequest(kCmdWrite, i, i * 4096, 4096, 0, data);
    EXPECT_EQ(clients[i].RecvReply().error, 0u);
  }
  EXPECT_EQ(Dev(1)->counters().submitted - before, clients.size());
  EXPECT_EQ(server_->counters().connections, 4u);
}

TEST_F(NbdTest, StopAnswersWhatIsInFlightThenCloses) {
  RawClient c = RawClient::Tcp(port_);
  ASSERT_EQ(c.Go("nvmpath0n1"), kNsBytes);
  for (int i = 0; i < 16; ++i) {
    c.SendRequest(kCmdWrite, 500u + i, uint64_t(i) * 4096, 4096, 0, Pattern(4096, 1));
  }
  std::thread stopper([&] { server_->Stop(); });
  std::set<uint64_t> answered;
  for (;;) {
    uint8_t magic[4];
    if (!c.Recv(magic, 4)) break;
    auto rest = c.RecvN(12);
    answered.insert(GetBe64(rest, 4));
    const uint32_t error = GetBe32(rest, 0);
    EXPECT_TRUE(error == 0 || error == kEshutdown) << error;
  }
  stopper.join();
  EXPECT_EQ(answered.size(), 16u) << "every request was answered before the connection closed";
  EXPECT_EQ(server_->counters().sessions, 0u);
  // New connections are refused once stopped.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ::close(fd);
}

TEST_F(NbdTest, UnixSocketPathInUseIsRefusedAndStaleOneReplaced) {
  auto again = NbdServer::Start({"unix:" + sock_}, heads_.get(), threads_.get());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("another server is listening there"), std::string::npos)
      << again.status().message();
  // A socket file nobody listens on (a killed run) is replaced.
  const std::string stale = dir_ + "/stale.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, stale.c_str(), sizeof(a.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ::close(fd);
  auto s = NbdServer::Start({"unix:" + stale}, heads_.get(), threads_.get());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  RawClient c = RawClient::Unix(stale);
  EXPECT_EQ(c.Go("nvmpath0n2"), kNsBytes);
  c.Close();
  (*s)->Stop();
  EXPECT_FALSE(std::filesystem::exists(stale)) << "the socket file is removed at stop";
}

}  // namespace
}  // namespace nvmpath::exports::nbd_test
