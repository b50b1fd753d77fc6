// The Client API's parts that need no network: Endpoint and policy text, host identity and
// UUID text, how a failed path's error is worded, which discovery entries become paths, the
// per-thread request pool, and how the I/O threads' drain (WaitIdle) is woken.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "client/connect_failure.h"
#include "client/discovery.h"
#include "client/host_identity.h"
#include "client/io_request.h"
#include "client/io_threads.h"
#include "client/waiter.h"
#include "nvmpath/client.h"

namespace nvmpath {
namespace {

TEST(Endpoint, ParseAndToString) {
  auto e = Endpoint::Parse("127.0.0.1:4421");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->address, "127.0.0.1");
  EXPECT_EQ(e->port, 4421);
  EXPECT_EQ(e->ToString(), "127.0.0.1:4421");
  auto d = Endpoint::Parse("10.0.0.2");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 4420);
}

TEST(Endpoint, ParsesIpv6AndHostNames) {
  auto v6 = Endpoint::Parse("[::1]:4421");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->address, "::1");
  EXPECT_EQ(v6->port, 4421);
  EXPECT_EQ(v6->ToString(), "[::1]:4421");
  auto bare = Endpoint::Parse("fd00::2");
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(bare->address, "fd00::2");
  EXPECT_EQ(bare->port, 4420);
  auto bracketed = Endpoint::Parse("[fd00::2]");
  ASSERT_TRUE(bracketed.ok());
  EXPECT_EQ(bracketed->port, 4420);
  auto name = Endpoint::Parse("array-a.example:4430");
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(name->address, "array-a.example");
  EXPECT_EQ(name->port, 4430);
  EXPECT_EQ(name->ToString(), "array-a.example:4430");
  auto back = Endpoint::Parse(v6->ToString());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *v6);
}

TEST(Endpoint, ParseErrorsNameTheText) {
  for (const char* bad : {"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:x1",
                          "host_x.example:4420", "", ":4420", "1.2.3:4420", "[::1", "[::1]4420",
                          "[127.0.0.1]:4420", "::1:4420x", "-a.example", "a..b", "[::1]:0"}) {
    auto e = Endpoint::Parse(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
    EXPECT_NE(e.status().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << e.status().message();
  }
}

TEST(QosLimits, ParsesAnyCombinationAndRoundTrips) {
  auto q = QosLimits::Parse("depth=8,bw=1536KiB/s,iops=2000");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->depth, 8u);
  EXPECT_EQ(q->iops, 2000u);
  EXPECT_EQ(q->bytes_per_s, 1536u * 1024);
  EXPECT_EQ(q->ToString(), "iops=2000,bw=1536KiB/s,depth=8");
  EXPECT_EQ(QosLimits::Parse(q->ToString()).value(), *q);
  EXPECT_EQ(QosLimits::Parse("bw=4096").value().bytes_per_s, 4096u) << "/s is optional";
  EXPECT_TRUE(QosLimits::Parse("").value().unlimited());
  EXPECT_TRUE(QosLimits::Parse("none").value().unlimited());
  EXPECT_EQ(QosLimits{}.ToString(), "none");
}

TEST(QosLimits, ErrorsNameThePart) {
  struct Bad {
    const char* text;
    const char* says;
  };
  for (const Bad& b : {Bad{"iops", "\"iops\" is not KEY=VALUE"},
                       Bad{"iops=1,iops=2", "iops is given twice"},
                       Bad{"iops=-5", "iops=\"-5\" is not a number"},
                       Bad{"iops=0", "iops=\"0\" is not a number in 1.."},
                       Bad{"depth=4294967296", "depth=\"4294967296\""},
                       Bad{"bw=10MB/s", "unknown unit \"MB\""},
                       Bad{"bw=0/s", "bw=0"},
                       Bad{"rate=5", "unknown key \"rate\""},
                       Bad{"iops=5,", "\"\" is not KEY=VALUE"}}) {
    auto q = QosLimits::Parse(b.text);
    ASSERT_FALSE(q.ok()) << b.text;
    EXPECT_EQ(q.status().code(), Code::kInvalidArgument);
    EXPECT_NE(q.status().message().find(b.says), std::string::npos)
        << b.text << " → " << q.status().ToString();
  }
}

TEST(PathPolicy, NamesRoundTrip) {
  for (PathPolicy p : {PathPolicy::kNuma, PathPolicy::kRoundRobin, PathPolicy::kQueueDepth}) {
    auto parsed = ParsePathPolicy(PathPolicyName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
  EXPECT_STREQ(PathPolicyName(PathPolicy::kRoundRobin), "round-robin");
  auto bad = ParsePathPolicy("fastest");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("numa, round-robin or queue-depth"), std::string::npos);
}

TEST(HostIdentity, UuidTextRoundTrip) {
  const std::string text = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
  auto u = client::ParseUuid(text);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)[0], 0x0f);
  EXPECT_EQ((*u)[15], 0xf0);
  EXPECT_EQ(client::FormatUuid(*u), text);
  EXPECT_TRUE(client::ParseUuid("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0").ok());
  for (const char* bad :
       {"0f1e2d3c4b5a69788796a5b4c3d2e1f0", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg",
        "0f1e2d3c-4b5a-6978-8796a-5b4c3d2e1f0", ""}) {
    auto r = client::ParseUuid(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(std::string("\"") + bad + "\""), std::string::npos);
  }
}

TEST(HostIdentity, DefaultsAreRandomUuidAndItsNqn) {
  ClientOptions o;
  auto a = client::ResolveHostIdentity(o);
  auto b = client::ResolveHostIdentity(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->hostid, b->hostid);
  EXPECT_EQ(a->hostid[6] >> 4, 4);       // version 4
  EXPECT_EQ(a->hostid[8] & 0xC0, 0x80);  // variant 1
  EXPECT_EQ(a->hostnqn, "nqn.2014-08.org.nvmexpress:uuid:" + client::FormatUuid(a->hostid));

  o.hostid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
  o.hostnqn = "nqn.2024-01.io.example:host";
  auto c = client::ResolveHostIdentity(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->hostnqn, o.hostnqn);
  EXPECT_EQ(client::FormatUuid(c->hostid), o.hostid);

  o.hostnqn = "nqn." + std::string(230, 'x');
  auto d = client::ResolveHostIdentity(o);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("at most 223"), std::string::npos);
}

TEST(ConnectFailure, WordsTheCommonCases) {
  const Status refused(Code::kUnavailable,
                       "ctrl 127.0.0.1:4420 admin (127.0.0.1:4420): connect 127.0.0.1:4420: "
                       "Connection refused");
  auto f = client::DescribeConnectFailure(refused, "nqn.s", "nqn.h");
  EXPECT_EQ(f.code, Code::kUnavailable);
  EXPECT_EQ(f.reason, "connection refused");

  const Status rejected(Code::kIoError,
                        "q0 (127.0.0.1:4420): Connect (QID 0) failed: Connect Invalid Parameters "
                        "(SCT 1h SC 82h) DNR");
  f = client::DescribeConnectFailure(rejected, "nqn.s", "nqn.h");
  EXPECT_EQ(f.code, Code::kNotFound);
  EXPECT_EQ(f.reason,
            "Connect rejected: subsystem nqn.s not found or host nqn.h not allowed (Connect "
            "Invalid Parameters (SCT 1h SC 82h) DNR)");

  const Status busy(Code::kIoError, "q0: Connect (QID 0) failed: Controller Busy (SCT 1h SC 83h)");
  f = client::DescribeConnectFailure(busy, "nqn.s", "nqn.h");
  EXPECT_EQ(f.code, Code::kUnavailable);
  EXPECT_EQ(f.reason, "Connect rejected: Controller Busy (SCT 1h SC 83h)");

  const Status slow(Code::kTimedOut, "q0: not connected within 10s (ic-exchange)");
  f = client::DescribeConnectFailure(slow, "nqn.s", "nqn.h");
  EXPECT_EQ(f.code, Code::kTimedOut);
  EXPECT_EQ(f.reason, "timed out: q0: not connected within 10s (ic-exchange)");

  const Status other(Code::kProtocol, "ICResp rejected: bad PFV");
  f = client::DescribeConnectFailure(other, "nqn.s", "nqn.h");
  EXPECT_EQ(f.code, Code::kProtocol);
  EXPECT_EQ(f.reason, "ICResp rejected: bad PFV");
}

DiscoveryEntry Entry(std::string subnqn, std::string subtype, std::string transport,
                     std::string addr, uint16_t port) {
  DiscoveryEntry e;
  e.subnqn = std::move(subnqn);
  e.subtype = std::move(subtype);
  e.transport = std::move(transport);
  e.endpoint = {std::move(addr), port};
  return e;
}

TEST(Discovery, PathsOfOneSubsystem) {
  const Endpoint disc{"127.0.0.1", 8009};
  std::vector<DiscoveryEntry> entries = {
      Entry("nqn.a", "nvm", "tcp", "127.0.0.1", 4420),
      Entry("nqn.a", "nvm", "tcp", "127.0.0.1", 4421),
      Entry("nqn.a", "nvm", "tcp", "127.0.0.1", 4421),   // listed twice: merged
      Entry("nqn.a", "nvm", "rdma", "127.0.0.1", 4422),  // not TCP
      Entry("nqn.a", "nvm", "tcp", "fd00::1", 4423),     // IPv6 serves too
      Entry("nqn.a", "nvm", "tcp", "not an address", 4424),  // neither an address nor a name
      Entry("nqn.2014-08.org.nvmexpress.discovery", "current discovery", "tcp", "127.0.0.1", 8009),
  };
  auto p = client::PathsFromDiscovery(entries, "", disc);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->subnqn, "nqn.a");
  EXPECT_EQ(p->paths, (std::vector<Endpoint>{
                          {"127.0.0.1", 4420}, {"127.0.0.1", 4421}, {"fd00::1", 4423}}));

  auto none = client::PathsFromDiscovery(entries, "nqn.b", disc);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_EQ(none.status().message(),
            "discovery 127.0.0.1:8009 lists no TCP path to nqn.b (NVM subsystems listed: "
            "nqn.a)");

  entries.push_back(Entry("nqn.b", "nvm", "tcp", "127.0.0.1", 4430));
  auto ambiguous = client::PathsFromDiscovery(entries, "", disc);
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.status().code(), Code::kInvalidArgument);
  EXPECT_NE(ambiguous.status().message().find("2 NVM subsystems (nqn.a, nqn.b)"),
            std::string::npos);
  auto b = client::PathsFromDiscovery(entries, "nqn.b", disc);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->paths, (std::vector<Endpoint>{{"127.0.0.1", 4430}}));
}

TEST(Discovery, LogEntryInApiTerms) {
  nvme::DiscoveryLogEntry raw;
  raw.subtype = nvme::kSubtypeNvm;
  raw.portid = 2;
  raw.cntlid = 0xFFFF;
  raw.trsvcid = "4421";
  raw.traddr = "127.0.0.1";
  raw.subnqn = "nqn.a";
  DiscoveryEntry e = client::ToDiscoveryEntry(raw);
  EXPECT_EQ(e.subtype, "nvm");
  EXPECT_EQ(e.transport, "tcp");
  EXPECT_EQ(e.endpoint, (Endpoint{"127.0.0.1", 4421}));
  EXPECT_EQ(e.port_id, 2);
  raw.trsvcid = "44x";
  raw.subtype = nvme::kSubtypeCurrentDiscovery;
  e = client::ToDiscoveryEntry(raw);
  EXPECT_EQ(e.endpoint.port, 0) << "a bad TRSVCID must not become a port";
  EXPECT_EQ(e.subtype, "current discovery");
}

TEST(IoRequestPool, ReusesTheCompletedRequest) {
  client::IoRequestPool pool;
  client::IoRequest* a = pool.Get();
  EXPECT_EQ(pool.in_flight(), 1u);
  Status seen;
  client::IoRequest* next = nullptr;
  a->done = [&](Status st) {
    seen = st;
    next = pool.Get();  // a callback that submits again gets the request just completed
  };
  a->bio.status = Status(Code::kIoError, "x");
  a->bio.on_done(a->bio);
  EXPECT_EQ(seen.code(), Code::kIoError);
  EXPECT_EQ(next, a);
  EXPECT_EQ(pool.in_flight(), 1u);
  EXPECT_EQ(pool.allocated(), 1u);
  client::IoRequest* b = pool.Get();
  EXPECT_NE(b, a);
  EXPECT_EQ(pool.allocated(), 2u);
  EXPECT_EQ(pool.in_flight(), 2u);
}

// ---- IoThreads::WaitIdle is woken by the end of what it waits for, not by a clock ----

// Runs WaitIdle on another thread while something it waits for is pending: it must look once
// and then not again while nothing ends (a sleep loop looks every millisecond: the 20 ms below
// would show about 20 looks); `end` ends it, setting `ended`; WaitIdle must return only after
// that, having looked exactly once more.
void ExpectWaitIdleWokenBy(client::IoThreads& io, const std::function<void()>& end,
                           const std::atomic<bool>& ended) {
  bool ended_before_return = false;
  std::thread waiter([&] {
    io.WaitIdle();
    ended_before_return = ended.load();
  });
  while (io.TEST_idle_looks() < 1) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(io.TEST_idle_looks(), 1u) << "WaitIdle looked again with nothing ended";
  end();
  waiter.join();
  EXPECT_TRUE(ended_before_return) << "WaitIdle returned before what it waits for ended";
  EXPECT_EQ(io.TEST_idle_looks(), 2u);
}

// A counted task (a posted submission, a cancellation) blocks on a gate.
TEST(IoThreads, WaitIdleIsWokenByTheEndOfTheLastCountedTask) {
  auto io = client::IoThreads::Create(2);
  ASSERT_TRUE(io.ok()) << io.status().ToString();
  client::Waiter gate;
  std::atomic<bool> task_ended{false};
  ASSERT_TRUE((*io)->ReservePost());
  (*io)->PostReserved(1, [&] {
    gate.Wait();
    task_ended = true;
  });
  ExpectWaitIdleWokenBy(**io, [&] { gate.Signal(); }, task_ended);
  (*io)->StopAndJoin();
}

// A request in flight on an I/O thread holds WaitIdle until it completes there.
TEST(IoThreads, WaitIdleIsWokenByTheLastRequestsCompletion) {
  auto io = client::IoThreads::Create(2);
  ASSERT_TRUE(io.ok()) << io.status().ToString();
  client::IoRequest* r = nullptr;
  std::atomic<bool> completed{false};
  (*io)->RunAndWait(1, [&] {
    r = (*io)->pool(1).Get();
    r->done = [&](Status) { completed = true; };
  });
  ExpectWaitIdleWokenBy(
      **io, [&] { (*io)->RunAndWait(1, [&] { r->bio.on_done(r->bio); }); }, completed);
  (*io)->StopAndJoin();
}

// Idle from the start: one look, no wait.
TEST(IoThreads, WaitIdleWithNothingPendingReturnsAtOnce) {
  auto io = client::IoThreads::Create(1);
  ASSERT_TRUE(io.ok()) << io.status().ToString();
  (*io)->WaitIdle();
  EXPECT_EQ((*io)->TEST_idle_looks(), 1u);
  (*io)->StopAndJoin();
}

}  // namespace
}  // namespace nvmpath
