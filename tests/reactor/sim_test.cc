// reactor::Sim specifics the contract suite cannot see: determinism by seed, the virtual clock,
// and the network fault controls (Cut, Stall, Refuse, latency, chunked delivery). Method: build a
// small world, drive it with Step/RunFor/RunUntil, and assert on what the callbacks observed.
#include "reactor/sim.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "reactor/sim_network.h"

namespace nvmpath::reactor {
namespace {

constexpr const char* kAddr = "127.0.0.1";

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A workload with many concurrent choices (posts on two reactors, equal-deadline timers, two
// streams); returns the order in which its callbacks ran.
std::vector<std::string> RunTraceWorkload(uint64_t seed) {
  SimWorld world(seed);
  Sim* a = world.AddReactor();
  Sim* b = world.AddReactor();
  std::vector<std::string> trace;
  for (int i = 0; i < 10; ++i) {
    a->Post([&trace, i] { trace.push_back("a" + std::to_string(i)); });
    b->Post([&trace, i] { trace.push_back("b" + std::to_string(i)); });
    a->AddTimer(1ms, [&trace, i] { trace.push_back("t" + std::to_string(i)); });
  }
  std::vector<std::unique_ptr<Stream>> streams;
  auto l = b->Listen(kAddr, 4420, [&](std::unique_ptr<Stream> s) {
    Stream* raw = s.get();
    raw->SetHandlers(
        [&trace, raw](std::span<const uint8_t> bytes) {
          trace.push_back("srv:" + std::string(bytes.begin(), bytes.end()));
          raw->Send(bytes);
        },
        [](const Status&) {});
    streams.push_back(std::move(s));
  });
  EXPECT_TRUE(l.ok());
  for (int c = 0; c < 2; ++c) {
    a->Connect(kAddr, 4420, [&, c](Result<std::unique_ptr<Stream>> s) {
      ASSERT_TRUE(s.ok());
      (*s)->SetHandlers(
          [&trace, c](std::span<const uint8_t> bytes) {
            trace.push_back("cli" + std::to_string(c) + ":" +
                            std::string(bytes.begin(), bytes.end()));
          },
          [](const Status&) {});
      (*s)->Send(Bytes("some bytes from " + std::to_string(c)));
      streams.push_back(std::move(*s));
    });
  }
  world.RunUntilIdle();
  streams.clear();
  world.RunUntilIdle();
  return trace;
}

TEST(Sim, SameSeedGivesIdenticalEventOrder) {
  const auto first = RunTraceWorkload(42);
  const auto second = RunTraceWorkload(42);
  ASSERT_GT(first.size(), 30u);
  EXPECT_EQ(first, second);
}

TEST(Sim, DifferentSeedsGiveDifferentOrders) {
  const auto base = RunTraceWorkload(1);
  int different = 0;
  for (uint64_t seed = 2; seed < 12; ++seed) {
    if (RunTraceWorkload(seed) != base) ++different;
  }
  EXPECT_GE(different, 8) << "the seed barely influences the schedule";
}

TEST(Sim, PostsOfOneReactorKeepOrderAcrossSeeds) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto trace = RunTraceWorkload(seed);
    int next_a = 0;
    for (const auto& e : trace) {
      if (e[0] == 'a') {
        EXPECT_EQ(e, "a" + std::to_string(next_a++)) << "seed " << seed;
      }
    }
    EXPECT_EQ(next_a, 10);
  }
}

TEST(Sim, RunForAdvancesTheVirtualClockExactly) {
  SimWorld world(7);
  Sim* r = world.AddReactor();
  EXPECT_EQ(world.now(), TimePoint(0));
  world.RunFor(1234567ns);
  EXPECT_EQ(world.now(), TimePoint(1234567));
  EXPECT_EQ(r->now(), world.now());
  TimePoint fired_at{-1};
  r->AddTimer(10us, [&] { fired_at = r->now(); });
  world.RunFor(5us);
  EXPECT_EQ(fired_at, TimePoint(-1));
  EXPECT_EQ(world.now(), TimePoint(1234567 + 5000));
  world.RunFor(5us);
  EXPECT_EQ(fired_at, TimePoint(1234567 + 10000)) << "fires exactly at its deadline";
  EXPECT_EQ(world.now(), TimePoint(1234567 + 10000));
  EXPECT_EQ(world.events_run(), 1u);
}

TEST(Sim, StepAdvancesToTheEarliestEventAndStopsWhenIdle) {
  SimWorld world(3);
  Sim* r = world.AddReactor();
  EXPECT_FALSE(world.Step());
  int fired = 0;
  r->AddTimer(3ms, [&] { ++fired; });
  r->AddTimer(1ms, [&] { ++fired; });
  EXPECT_TRUE(world.Step());
  EXPECT_EQ(world.now(), TimePoint(1ms));
  EXPECT_TRUE(world.Step());
  EXPECT_EQ(world.now(), TimePoint(3ms));
  EXPECT_FALSE(world.Step());
  EXPECT_EQ(fired, 2);
  EXPECT_EQ(world.now(), TimePoint(3ms));
}

TEST(Sim, RunUntilRespectsTheLimit) {
  SimWorld world(3);
  Sim* r = world.AddReactor();
  bool fired = false;
  r->AddTimer(10ms, [&] { fired = true; });
  EXPECT_FALSE(world.RunUntil([&] { return fired; }, 5ms));
  EXPECT_EQ(world.now(), TimePoint(5ms));
  EXPECT_TRUE(world.RunUntil([&] { return fired; }, 5ms));
  EXPECT_EQ(world.now(), TimePoint(10ms));
}

// A connected pair on one world, with receive logs.
struct Pair {
  explicit Pair(uint64_t seed, uint16_t port = 4420) : world(seed) {
    a = world.AddReactor();
    b = world.AddReactor();
    auto l = b->Listen(kAddr, port, [this](std::unique_ptr<Stream> s) {
      EXPECT_EQ(Current(), b);
      server = std::move(s);
      server->SetHandlers([this](std::span<const uint8_t> x) { server_got.append(x.begin(), x.end()); },
                          [this](const Status& s) { server_closed = s; });
    });
    EXPECT_TRUE(l.ok());
    listener = std::move(*l);
    a->Connect(kAddr, port, [this](Result<std::unique_ptr<Stream>> s) {
      EXPECT_EQ(Current(), a);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      client = std::move(*s);
      client->SetHandlers([this](std::span<const uint8_t> x) { client_got.append(x.begin(), x.end()); },
                          [this](const Status& s) { client_closed = s; });
    });
    EXPECT_TRUE(world.RunUntil([this] { return client && server; }, 1s));
  }
  SimWorld world;
  Sim* a;
  Sim* b;
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Stream> client, server;
  std::string client_got, server_got;
  std::optional<Status> client_closed, server_closed;
};

TEST(SimNetwork, ConnectTakesOneLatency) {
  SimWorld world(1);
  Sim* r = world.AddReactor();
  world.network().SetLatency(kAddr, 4420, 70us);
  auto l = r->Listen(kAddr, 4420, [](std::unique_ptr<Stream>) {});
  ASSERT_TRUE(l.ok());
  TimePoint at{-1};
  r->Connect(kAddr, 4420, [&](Result<std::unique_ptr<Stream>> s) {
    EXPECT_TRUE(s.ok());
    at = r->now();
  });
  world.RunUntilIdle();
  EXPECT_EQ(at, TimePoint(70us));
}

TEST(SimNetwork, UnknownEndpointIsRefusedWithItsName) {
  SimWorld world(1);
  Sim* r = world.AddReactor();
  std::optional<Status> st;
  r->Connect(kAddr, 4420, [&](Result<std::unique_ptr<Stream>> s) { st = s.status(); });
  world.RunUntilIdle();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code(), Code::kUnavailable);
  EXPECT_EQ(st->message(), "connection refused: 127.0.0.1:4420");
  EXPECT_EQ(world.now(), TimePoint(SimNetwork::kDefaultLatency));
}

TEST(SimNetwork, RefuseThenAccept) {
  SimWorld world(1);
  Sim* r = world.AddReactor();
  int accepted = 0;
  auto l = r->Listen(kAddr, 4420, [&](std::unique_ptr<Stream>) { ++accepted; });
  ASSERT_TRUE(l.ok());
  world.network().SetRefuse(kAddr, 4420, true);
  std::optional<Status> st;
  r->Connect(kAddr, 4420, [&](Result<std::unique_ptr<Stream>> s) { st = s.status(); });
  world.RunUntilIdle();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code(), Code::kUnavailable);
  EXPECT_EQ(accepted, 0);
  world.network().SetRefuse(kAddr, 4420, false);
  st.reset();
  r->Connect(kAddr, 4420, [&](Result<std::unique_ptr<Stream>> s) { st = s.status(); });
  world.RunUntilIdle();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok());
  EXPECT_EQ(accepted, 1);
}

TEST(SimNetwork, PortZeroAllocatesFrom40000) {
  SimWorld world(1);
  Sim* r = world.AddReactor();
  auto l1 = r->Listen(kAddr, 0, [](std::unique_ptr<Stream>) {});
  auto l2 = r->Listen(kAddr, 0, [](std::unique_ptr<Stream>) {});
  ASSERT_TRUE(l1.ok() && l2.ok());
  EXPECT_EQ((*l1)->port(), 40000);
  EXPECT_EQ((*l2)->port(), 40001);
}

TEST(SimNetwork, CutGivesBothEndsAnErrorAndLosesBytes) {
  Pair p(5);
  p.client->Send(Bytes("lost in flight"));
  EXPECT_EQ(p.world.network().Cut(kAddr, 4420), 1u);
  p.world.RunUntilIdle();
  ASSERT_TRUE(p.client_closed.has_value());
  ASSERT_TRUE(p.server_closed.has_value());
  EXPECT_EQ(p.client_closed->code(), Code::kUnavailable);
  EXPECT_EQ(p.server_closed->code(), Code::kUnavailable);
  EXPECT_NE(p.client_closed->message().find("connection reset"), std::string::npos);
  EXPECT_EQ(p.server_got, "");
  EXPECT_FALSE(p.client->is_open());
  EXPECT_FALSE(p.server->is_open());
  EXPECT_EQ(p.world.network().open_streams(kAddr, 4420), 0u);
  // The listener survives a cut: a new connection works.
  std::optional<Status> st;
  p.a->Connect(kAddr, 4420, [&](Result<std::unique_ptr<Stream>> s) { st = s.status(); });
  p.world.RunUntilIdle();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok());
}

TEST(SimNetwork, CutOnlyAffectsItsEndpoint) {
  Pair p(5);
  EXPECT_EQ(p.world.network().Cut(kAddr, 4421), 0u);
  p.client->Send(Bytes("still here"));
  p.world.RunUntilIdle();
  EXPECT_EQ(p.server_got, "still here");
  EXPECT_FALSE(p.client_closed.has_value());
}

TEST(SimNetwork, StallHoldsBytesAndUnstallDeliversThem) {
  Pair p(9);
  p.world.network().Stall(kAddr, 4420, true);
  p.client->Send(Bytes("ping"));
  p.server->Send(Bytes("pong"));
  p.world.RunFor(10s);
  EXPECT_EQ(p.server_got, "");
  EXPECT_EQ(p.client_got, "");
  EXPECT_TRUE(p.client->is_open());
  EXPECT_FALSE(p.client_closed.has_value());
  p.world.network().Stall(kAddr, 4420, false);
  p.world.RunUntilIdle();
  EXPECT_EQ(p.server_got, "ping");
  EXPECT_EQ(p.client_got, "pong");
}

TEST(SimNetwork, ConnectToStalledEndpointWaitsForUnstall) {
  SimWorld world(1);
  Sim* r = world.AddReactor();
  auto l = r->Listen(kAddr, 4420, [](std::unique_ptr<Stream>) {});
  ASSERT_TRUE(l.ok());
  world.network().Stall(kAddr, 4420, true);
  std::optional<Status> st;
  r->Connect(kAddr, 4420, [&](Result<std::unique_ptr<Stream>> s) { st = s.status(); });
  world.RunFor(1s);
  EXPECT_FALSE(st.has_value());
  world.network().Stall(kAddr, 4420, false);
  world.RunUntilIdle();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok());
}

TEST(SimNetwork, ChunkedDeliverySplitsDataButKeepsIt) {
  bool split_seen = false;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Pair p(seed);
    int receives = 0;
    p.server->SetHandlers(
        [&](std::span<const uint8_t> x) {
          ++receives;
          p.server_got.append(x.begin(), x.end());
        },
        [](const Status&) {});
    std::string msg(1000, 'x');
    for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<char>('a' + i % 26);
    p.client->Send(Bytes(msg));
    p.world.RunUntilIdle();
    EXPECT_EQ(p.server_got, msg) << "seed " << seed;
    if (receives > 1) split_seen = true;
  }
  EXPECT_TRUE(split_seen) << "no seed split a 1000-byte send";
}

TEST(SimNetwork, ChunkingOffDeliversOneSendWhole) {
  Pair p(4);
  p.world.network().SetChunking(false);
  int receives = 0;
  p.server->SetHandlers([&](std::span<const uint8_t>) { ++receives; }, [](const Status&) {});
  p.client->Send(Bytes(std::string(5000, 'z')));
  p.world.RunUntilIdle();
  EXPECT_EQ(receives, 1);
}

TEST(SimNetwork, BytesArriveAfterTheLatency) {
  Pair p(2);
  p.world.network().SetChunking(false);
  p.world.network().SetLatency(kAddr, 4420, 1ms);
  const TimePoint sent = p.world.now();
  TimePoint got_at{-1};
  p.server->SetHandlers([&](std::span<const uint8_t>) { got_at = p.world.now(); },
                        [](const Status&) {});
  p.client->Send(Bytes("x"));
  p.world.RunUntilIdle();
  EXPECT_EQ(got_at - sent, 1ms);
}

TEST(SimNetwork, CloseIsOrderlyAfterInFlightBytes) {
  Pair p(8);
  p.client->Send(Bytes("last words"));
  p.client->Close();
  p.world.RunUntilIdle();
  EXPECT_EQ(p.server_got, "last words");
  ASSERT_TRUE(p.server_closed.has_value());
  EXPECT_TRUE(p.server_closed->ok());
  EXPECT_FALSE(p.client_closed.has_value()) << "no callback after Close()";
}

TEST(SimNetwork, SendsOfOneEventCoalesce) {
  Pair p(8);
  const uint64_t before = p.world.network().sends_issued();
  p.a->Post([&] {
    for (int i = 0; i < 10; ++i) p.client->Send(Bytes("ab"));
  });
  p.a->Post([&] { p.client->Send(Bytes("cd")); });
  p.world.RunUntilIdle();
  EXPECT_EQ(p.world.network().sends_issued() - before, 2u);
  EXPECT_EQ(p.server_got, std::string(20, ' ').replace(0, 20, "abababababababababab") + "cd");
}

TEST(SimFile, CompletesAfterVirtualDelayNotInline) {
  SimWorld world(1);
  Sim* r = world.AddReactor();
  auto f = r->OpenFile("/dev/null", OpenMode::kReadWrite);
  ASSERT_TRUE(f.ok());
  std::optional<TimePoint> done_at;
  uint8_t buf[16] = {};
  (*f)->Write(0, buf, [&](Result<size_t> n) {
    EXPECT_TRUE(n.ok());
    done_at = r->now();
  });
  EXPECT_FALSE(done_at.has_value());
  world.RunUntilIdle();
  ASSERT_TRUE(done_at.has_value());
  EXPECT_EQ(*done_at, TimePoint(SimWorld::kFileLatency));
}

}  // namespace
}  // namespace nvmpath::reactor
