// The reactor contract: one set of test bodies run against every reactor::Reactor implementation
// (reactor::Sim on virtual time, reactor::Uring on real time and real loopback sockets), so host,
// mpath and target code behaves the same on both. Method: a Harness (reactor_harness.h) makes a
// reactor and drives its loop until a predicate holds; every test asserts observable behaviour
// through the public interface only. Sim seeds come from NVMPATH_SIM_SEED (default 1).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "reactor/reactor.h"
#include "reactor_harness.h"

namespace nvmpath::reactor::testing {
namespace {

constexpr const char* kLocal = "127.0.0.1";

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> Pattern(size_t n, uint32_t salt) {
  std::vector<uint8_t> v(n);
  uint32_t x = salt * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    v[i] = static_cast<uint8_t>(x >> 16);
  }
  return v;
}

class ReactorContract : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override {
    h_ = GetParam()();
    ASSERT_TRUE(h_ != nullptr);
  }
  Reactor* r() { return h_->reactor(); }

  // Listens on an ephemeral port; accepted streams land in accepted_.
  uint16_t ListenAny() {
    auto l = r()->Listen(kLocal, 0, [this](std::unique_ptr<Stream> s) {
      EXPECT_EQ(Current(), r());
      accepted_.push_back(std::move(s));
    });
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    if (!l.ok()) return 0;
    const uint16_t port = (*l)->port();
    EXPECT_NE(port, 0);
    listener_ = std::move(*l);
    return port;
  }

  // Connects to `port` and waits for both the client stream and the accepted one.
  std::unique_ptr<Stream> ConnectPair(uint16_t port) {
    std::unique_ptr<Stream> client;
    bool done = false;
    const size_t accepted_before = accepted_.size();
    r()->Connect(kLocal, port, [&](Result<std::unique_ptr<Stream>> s) {
      EXPECT_EQ(Current(), r());
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      if (s.ok()) client = std::move(*s);
      done = true;
    });
    EXPECT_FALSE(done) << "on_connect ran inside Connect()";
    EXPECT_TRUE(h_->RunUntil([&] { return done && accepted_.size() > accepted_before; }));
    return client;
  }

  std::unique_ptr<Harness> h_;
  std::unique_ptr<Listener> listener_;
  std::vector<std::unique_ptr<Stream>> accepted_;
};

TEST_P(ReactorContract, PostRunsLaterNotInlineWithCurrentSet) {
  std::vector<int> order;
  Reactor* seen = nullptr;
  EXPECT_EQ(Current(), nullptr);
  r()->Post([&] {
    seen = Current();
    order.push_back(1);
    r()->Post([&] { order.push_back(3); });
    order.push_back(2);  // the nested post did not run inline
  });
  EXPECT_TRUE(order.empty()) << "Post ran inline";
  ASSERT_TRUE(h_->RunUntil([&] { return order.size() == 3; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(seen, r());
  EXPECT_EQ(Current(), nullptr) << "Current() leaked out of the loop";
}

TEST_P(ReactorContract, PostsToOneReactorRunInOrder) {
  std::vector<int> order;
  for (int i = 0; i < 50; ++i) r()->Post([&order, i] { order.push_back(i); });
  ASSERT_TRUE(h_->RunUntil([&] { return order.size() == 50; }));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
}

TEST_P(ReactorContract, PostFromAnotherThread) {
  std::atomic<int> ran{0};
  std::atomic<int> wrong_reactor{0};
  std::thread poster([&] {
    for (int i = 0; i < 200; ++i) {
      r()->Post([&] {
        if (Current() != r()) ++wrong_reactor;
        ++ran;
      });
    }
  });
  poster.join();
  ASSERT_TRUE(h_->RunUntil([&] { return ran.load() == 200; }));
  EXPECT_EQ(wrong_reactor.load(), 0);
}

TEST_P(ReactorContract, TimersFireInDeadlineOrder) {
  std::vector<int> order;
  const TimePoint start = r()->now();
  TimePoint fired_at[3] = {};
  r()->AddTimer(30ms, [&] { order.push_back(30); fired_at[2] = r()->now(); });
  r()->AddTimer(10ms, [&] { order.push_back(10); fired_at[0] = r()->now(); });
  r()->AddTimer(20ms, [&] {
    EXPECT_EQ(Current(), r());
    order.push_back(20);
    fired_at[1] = r()->now();
  });
  EXPECT_TRUE(order.empty());
  ASSERT_TRUE(h_->RunUntil([&] { return order.size() == 3; }));
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
  EXPECT_GE(fired_at[0] - start, 10ms);
  EXPECT_GE(fired_at[1] - start, 20ms);
  EXPECT_GE(fired_at[2] - start, 30ms);
}

TEST_P(ReactorContract, ZeroDelayTimerRunsLater) {
  bool fired = false;
  r()->AddTimer(Duration::zero(), [&] { fired = true; });
  EXPECT_FALSE(fired);
  EXPECT_TRUE(h_->RunUntil([&] { return fired; }));
}

TEST_P(ReactorContract, CancelTimer) {
  int fired = 0;
  const TimerId cancelled = r()->AddTimer(5ms, [&] { fired += 100; });
  const TimerId kept = r()->AddTimer(10ms, [&] { fired += 1; });
  EXPECT_NE(cancelled, kNoTimer);
  EXPECT_NE(cancelled, kept);
  EXPECT_TRUE(r()->CancelTimer(cancelled));
  EXPECT_FALSE(r()->CancelTimer(cancelled)) << "a second cancel must report false";
  ASSERT_TRUE(h_->RunUntil([&] { return fired != 0; }));
  h_->RunFor(20ms);
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(r()->CancelTimer(kept)) << "cancel after firing must report false";
  EXPECT_FALSE(r()->CancelTimer(kNoTimer));
}

TEST_P(ReactorContract, CancelFromInsideAnotherTimer) {
  bool late_fired = false;
  TimerId late = kNoTimer;
  bool cancel_result = false;
  r()->AddTimer(1ms, [&] { cancel_result = r()->CancelTimer(late); });
  late = r()->AddTimer(50ms, [&] { late_fired = true; });
  h_->RunFor(100ms);
  EXPECT_TRUE(cancel_result);
  EXPECT_FALSE(late_fired);
}

TEST_P(ReactorContract, EchoRoundTrip) {
  const uint16_t port = ListenAny();
  ASSERT_NE(port, 0);
  std::unique_ptr<Stream> client = ConnectPair(port);
  ASSERT_TRUE(client);
  ASSERT_EQ(accepted_.size(), 1u);
  Stream* server = accepted_[0].get();
  EXPECT_TRUE(client->is_open());
  EXPECT_TRUE(server->is_open());
  EXPECT_FALSE(client->description().empty());
  EXPECT_NE(server->description().find(std::to_string(port)), std::string::npos)
      << server->description();
  server->SetHandlers(
      [&](std::span<const uint8_t> b) {
        EXPECT_EQ(Current(), r());
        server->Send(b);
      },
      [](const Status&) {});
  std::string got;
  client->SetHandlers([&](std::span<const uint8_t> b) { got.append(b.begin(), b.end()); },
                      [](const Status& s) { ADD_FAILURE() << "client closed: " << s.ToString(); });
  client->Send(Bytes("hello, "));
  client->Send(Bytes("reactor"));
  ASSERT_TRUE(h_->RunUntil([&] { return got.size() >= 14; }));
  EXPECT_EQ(got, "hello, reactor");
}

TEST_P(ReactorContract, ManySendsInOneTurnArriveInOrderInOneGatheredSend) {
  const uint16_t port = ListenAny();
  std::unique_ptr<Stream> client = ConnectPair(port);
  ASSERT_TRUE(client);
  Stream* server = accepted_.at(0).get();
  std::vector<uint8_t> got;
  server->SetHandlers([&](std::span<const uint8_t> b) { got.insert(got.end(), b.begin(), b.end()); },
                      [](const Status&) {});
  client->SetHandlers([](std::span<const uint8_t>) {}, [](const Status&) {});
  h_->RunFor(1ms);  // let any start-up traffic settle
  const uint64_t sends_before = h_->sends_issued();
  std::vector<uint8_t> expected;
  r()->Post([&] {
    for (uint32_t i = 0; i < 100; ++i) {
      uint8_t msg[4];
      std::memcpy(msg, &i, sizeof(msg));
      client->Send(std::span<const uint8_t>(msg, sizeof(msg)));
      expected.insert(expected.end(), msg, msg + sizeof(msg));
    }
  });
  ASSERT_TRUE(h_->RunUntil([&] { return got.size() >= 400; }));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(h_->sends_issued() - sends_before, 1u)
      << "100 Sends in one loop turn must leave as one gathered send";
}

TEST_P(ReactorContract, LargeTransferEchoedIntact) {
  constexpr size_t kTotal = 8u << 20;
  const uint16_t port = ListenAny();
  std::unique_ptr<Stream> client = ConnectPair(port);
  ASSERT_TRUE(client);
  Stream* server = accepted_.at(0).get();
  size_t server_got = 0;
  server->SetHandlers(
      [&](std::span<const uint8_t> b) {
        server_got += b.size();
        server->Send(b);
      },
      [](const Status&) {});
  std::vector<uint8_t> echoed;
  echoed.reserve(kTotal);
  client->SetHandlers(
      [&](std::span<const uint8_t> b) { echoed.insert(echoed.end(), b.begin(), b.end()); },
      [](const Status& s) { ADD_FAILURE() << "client closed: " << s.ToString(); });
  const std::vector<uint8_t> data = Pattern(kTotal, 7);
  // Half in one big Send, half in 256 KiB pieces over several turns.
  client->Send(std::span<const uint8_t>(data).first(kTotal / 2));
  size_t offset = kTotal / 2;
  std::function<void()> pump = [&] {
    const size_t n = std::min<size_t>(256 << 10, kTotal - offset);
    client->Send(std::span<const uint8_t>(data).subspan(offset, n));
    offset += n;
    if (offset < kTotal) r()->Post(pump);
  };
  r()->Post(pump);
  ASSERT_TRUE(h_->RunUntil([&] { return echoed.size() >= kTotal; }, 4 * h_->default_limit()))
      << "server got " << server_got << " client got " << echoed.size();
  EXPECT_EQ(server_got, kTotal);
  ASSERT_EQ(echoed.size(), kTotal);
  EXPECT_TRUE(echoed == data) << "echoed bytes differ";
}

TEST_P(ReactorContract, PeerCloseGivesOkAfterTheBytes) {
  const uint16_t port = ListenAny();
  std::unique_ptr<Stream> client = ConnectPair(port);
  ASSERT_TRUE(client);
  Stream* server = accepted_.at(0).get();
  std::string got;
  std::optional<Status> server_closed;
  std::string got_at_close;
  server->SetHandlers([&](std::span<const uint8_t> b) { got.append(b.begin(), b.end()); },
                      [&](const Status& s) {
                        EXPECT_FALSE(server_closed.has_value()) << "on_close called twice";
                        server_closed = s;
                        got_at_close = got;
                      });
  bool client_callback = false;
  client->SetHandlers([&](std::span<const uint8_t>) { client_callback = true; },
                      [&](const Status&) { client_callback = true; });
  client->Send(Bytes("bye"));
  client->Close();
  EXPECT_FALSE(client->is_open());
  ASSERT_TRUE(h_->RunUntil([&] { return server_closed.has_value(); }));
  EXPECT_TRUE(server_closed->ok()) << server_closed->ToString();
  EXPECT_EQ(got_at_close, "bye");
  EXPECT_FALSE(server->is_open());
  server->Send(Bytes("ignored"));  // dropped silently
  h_->RunFor(10ms);
  EXPECT_FALSE(client_callback) << "no callback follows Close()";
}

TEST_P(ReactorContract, ConnectToClosedPortFails) {
  uint16_t port = ListenAny();
  listener_.reset();  // nobody listens there any more
  std::optional<Status> result;
  r()->Connect(kLocal, port, [&](Result<std::unique_ptr<Stream>> s) {
    EXPECT_EQ(Current(), r());
    result = s.status();
  });
  EXPECT_FALSE(result.has_value());
  ASSERT_TRUE(h_->RunUntil([&] { return result.has_value(); }));
  EXPECT_FALSE(result->ok());
  EXPECT_EQ(result->code(), Code::kUnavailable) << result->ToString();
}

TEST_P(ReactorContract, ListenTwiceOnOnePortFails) {
  const uint16_t port = ListenAny();
  auto again = r()->Listen(kLocal, port, [](std::unique_ptr<Stream>) {});
  EXPECT_FALSE(again.ok());
}

TEST_P(ReactorContract, DestroyingStreamsWithIoPendingIsSafe) {
  const uint16_t port = ListenAny();
  std::unique_ptr<Stream> client = ConnectPair(port);
  ASSERT_TRUE(client);
  std::unique_ptr<Stream> server = std::move(accepted_.at(0));
  server->SetHandlers([](std::span<const uint8_t>) {}, [](const Status&) {});
  client->SetHandlers([](std::span<const uint8_t>) {}, [](const Status&) {});
  const std::vector<uint8_t> data = Pattern(1 << 20, 3);
  client->Send(data);
  server->Send(data);
  client.reset();  // sends queued, receive armed
  h_->RunFor(1ms);
  server.reset();
  h_->RunFor(20ms);

  // And a stream destroyed from inside its own receive callback.
  std::unique_ptr<Stream> c2 = ConnectPair(port);
  ASSERT_TRUE(c2);
  std::unique_ptr<Stream> s2 = std::move(accepted_.back());
  int received = 0;
  s2->SetHandlers(
      [&](std::span<const uint8_t>) {
        ++received;
        s2.reset();
      },
      [](const Status&) {});
  c2->SetHandlers([](std::span<const uint8_t>) {}, [](const Status&) {});
  c2->Send(Bytes("first"));
  ASSERT_TRUE(h_->RunUntil([&] { return received > 0; }));
  c2->Send(Bytes("second"));
  h_->RunFor(20ms);
  EXPECT_EQ(received, 1);
  EXPECT_FALSE(s2);
}

TEST_P(ReactorContract, FileWriteThenReadBackAtOffset) {
  char path[] = "/tmp/nvmpath_reactor_fileXXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto f = r()->OpenFile(path, OpenMode::kReadWrite);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const std::vector<uint8_t> data = Pattern(8192, 11);
  std::optional<Result<size_t>> wrote;
  (*f)->Write(4096, data, [&](Result<size_t> n) {
    EXPECT_EQ(Current(), r());
    wrote = std::move(n);
  });
  EXPECT_FALSE(wrote.has_value()) << "completion ran inside Write()";
  ASSERT_TRUE(h_->RunUntil([&] { return wrote.has_value(); }));
  ASSERT_TRUE(wrote->ok()) << wrote->status().ToString();
  EXPECT_EQ(**wrote, data.size());
  auto size = (*f)->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 4096u + 8192u);

  std::vector<uint8_t> back(8192);
  std::optional<Result<size_t>> read;
  (*f)->Read(4096, back, [&](Result<size_t> n) { read = std::move(n); });
  EXPECT_FALSE(read.has_value());
  ASSERT_TRUE(h_->RunUntil([&] { return read.has_value(); }));
  ASSERT_TRUE(read->ok()) << read->status().ToString();
  EXPECT_EQ(**read, back.size());
  EXPECT_TRUE(back == data);

  // The hole before the offset reads as zeros.
  std::vector<uint8_t> hole(4096, 0xff);
  read.reset();
  (*f)->Read(0, hole, [&](Result<size_t> n) { read = std::move(n); });
  ASSERT_TRUE(h_->RunUntil([&] { return read.has_value(); }));
  ASSERT_TRUE(read->ok());
  EXPECT_EQ(hole, std::vector<uint8_t>(4096, 0));

  // Truncate grows with zeroes and shrinks, keeping what lies below the new end.
  ASSERT_TRUE((*f)->Truncate(1 << 20).ok());
  EXPECT_EQ(*(*f)->Size(), 1u << 20);
  ASSERT_TRUE((*f)->Truncate(4096 + 512).ok());
  EXPECT_EQ(*(*f)->Size(), 4096u + 512u);
  std::vector<uint8_t> kept(1024, 0);
  read.reset();
  (*f)->Read(4096, kept, [&](Result<size_t> n) { read = std::move(n); });
  ASSERT_TRUE(h_->RunUntil([&] { return read.has_value(); }));
  ASSERT_TRUE(read->ok());
  EXPECT_EQ(**read, 512u) << "a read past the new end is short";
  EXPECT_TRUE(std::equal(kept.begin(), kept.begin() + 512, data.begin()));
  f->reset();
  unlink(path);
  auto ro = r()->OpenFile("/proc/self/status", OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok());
  Status cannot = (*ro)->Truncate(0);
  EXPECT_FALSE(cannot.ok());
  EXPECT_NE(cannot.message().find("/proc/self/status"), std::string::npos) << cannot.ToString();
}

TEST_P(ReactorContract, FileSyncAndPunchHole) {
  char path[] = "/tmp/nvmpath_reactor_holeXXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto f = r()->OpenFile(path, OpenMode::kReadWrite);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const std::vector<uint8_t> data = Pattern(3 * 65536, 5);
  std::optional<Result<size_t>> done;
  (*f)->Write(0, data, [&](Result<size_t> n) { done = std::move(n); });
  ASSERT_TRUE(h_->RunUntil([&] { return done.has_value(); }));
  ASSERT_TRUE(done->ok());
  done.reset();
  (*f)->Sync([&](Result<size_t> n) {
    EXPECT_EQ(Current(), r());
    done = std::move(n);
  });
  EXPECT_FALSE(done.has_value()) << "completion ran inside Sync()";
  ASSERT_TRUE(h_->RunUntil([&] { return done.has_value(); }));
  ASSERT_TRUE(done->ok()) << done->status().ToString();
  struct stat before {};
  ASSERT_EQ(stat(path, &before), 0);

  done.reset();
  (*f)->PunchHole(65536, 65536, [&](Result<size_t> n) { done = std::move(n); });
  EXPECT_FALSE(done.has_value()) << "completion ran inside PunchHole()";
  ASSERT_TRUE(h_->RunUntil([&] { return done.has_value(); }));
  ASSERT_TRUE(done->ok()) << done->status().ToString();
  struct stat after {};
  ASSERT_EQ(stat(path, &after), 0);
  EXPECT_EQ(after.st_size, before.st_size) << "a punched hole keeps the size";
  EXPECT_LT(after.st_blocks, before.st_blocks) << "the hole's blocks are freed";

  std::vector<uint8_t> back(data.size(), 0xEE);
  done.reset();
  (*f)->Read(0, back, [&](Result<size_t> n) { done = std::move(n); });
  ASSERT_TRUE(h_->RunUntil([&] { return done.has_value(); }));
  ASSERT_TRUE(done->ok());
  EXPECT_TRUE(std::equal(back.begin(), back.begin() + 65536, data.begin()));
  EXPECT_TRUE(std::all_of(back.begin() + 65536, back.begin() + 131072, [](uint8_t b) { return b == 0; }));
  EXPECT_TRUE(std::equal(back.begin() + 131072, back.end(), data.begin() + 131072));
  f->reset();
  unlink(path);

  // A file that cannot have holes says so, naming itself.
  auto ro = r()->OpenFile("/proc/self/status", OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok());
  done.reset();
  (*ro)->PunchHole(0, 4096, [&](Result<size_t> n) { done = std::move(n); });
  ASSERT_TRUE(h_->RunUntil([&] { return done.has_value(); }));
  ASSERT_FALSE(done->ok());
  EXPECT_NE(done->status().message().find("punch hole in /proc/self/status"), std::string::npos)
      << done->status().ToString();
}

TEST_P(ReactorContract, OpenMissingFileFails) {
  auto f = r()->OpenFile("/nonexistent-dir-nvmpath/file", OpenMode::kReadOnly);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kNotFound) << f.status().ToString();
}

std::string HarnessName(const ::testing::TestParamInfo<HarnessFactory>& info) {
  return info.param()->name();
}

INSTANTIATE_TEST_SUITE_P(Reactors, ReactorContract,
                         ::testing::Values(&MakeSimHarness, &MakeUringHarness), HarnessName);

}  // namespace
}  // namespace nvmpath::reactor::testing
