// reactor::Uring specifics: the loop on its own thread (StartThread/Stop/Join), cross-thread Post
// waking a sleeping loop through the eventfd, and a peer-reset stream reporting an error.
// Method: real io_uring on 127.0.0.1, real time, bounded waits.
#include "reactor/uring.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

namespace nvmpath::reactor {
namespace {

std::unique_ptr<Uring> MakeUring(unsigned index = 0) {
  auto u = Uring::Create(index);
  EXPECT_TRUE(u.ok()) << u.status().ToString();
  return u.ok() ? std::move(*u) : nullptr;
}

TEST(Uring, CreateNamesItsIndex) {
  auto u = MakeUring(3);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->index(), 3u);
  const TimePoint a = u->now();
  const TimePoint b = u->now();
  EXPECT_LE(a, b);
}

TEST(Uring, PostWakesALoopSleepingOnItsOwnThread) {
  auto u = MakeUring();
  ASSERT_TRUE(u);
  u->StartThread();
  // Let the loop go to sleep (it waits up to 1 s per turn), then post from this thread.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::promise<std::pair<Reactor*, std::thread::id>> ran;
  const auto posted_at = std::chrono::steady_clock::now();
  u->Post([&] { ran.set_value({Current(), std::this_thread::get_id()}); });
  auto fut = ran.get_future();
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const auto latency = std::chrono::steady_clock::now() - posted_at;
  auto [current, tid] = fut.get();
  EXPECT_EQ(current, u.get());
  EXPECT_NE(tid, std::this_thread::get_id());
  EXPECT_LT(latency, std::chrono::milliseconds(500)) << "the eventfd did not wake the loop";
  u->Stop();
  u->Join();
}

TEST(Uring, StopEndsRunAndTheLoopCanRunAgain) {
  auto u = MakeUring();
  ASSERT_TRUE(u);
  std::atomic<int> n{0};
  u->StartThread();
  for (int i = 0; i < 1000; ++i) u->Post([&] { ++n; });
  u->Post([&] { u->Stop(); });
  u->Join();
  EXPECT_EQ(n.load(), 1000);
  // Run() returned; the loop can be driven again by hand.
  bool ran = false;
  u->Post([&] { ran = true; });
  for (int i = 0; i < 100 && !ran; ++i) u->RunOnce(std::chrono::milliseconds(10));
  EXPECT_TRUE(ran);
}

TEST(Uring, TimerWakesTheLoop) {
  auto u = MakeUring();
  ASSERT_TRUE(u);
  const TimePoint start = u->now();
  std::optional<TimePoint> fired;
  u->AddTimer(std::chrono::milliseconds(20), [&] { fired = u->now(); });
  // One long wait must end at the timer, not at max_wait.
  while (!fired && u->now() - start < std::chrono::seconds(2)) {
    u->RunOnce(std::chrono::seconds(1));
  }
  ASSERT_TRUE(fired.has_value());
  EXPECT_GE(*fired - start, std::chrono::milliseconds(20));
  EXPECT_LT(*fired - start, std::chrono::milliseconds(500));
}

TEST(Uring, ListenOnBadAddressFails) {
  auto u = MakeUring();
  ASSERT_TRUE(u);
  auto l = u->Listen("not-an-address", 0, [](std::unique_ptr<Stream>) {});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), Code::kInvalidArgument);
  std::optional<Status> st;
  u->Connect("not-an-address", 4420, [&](Result<std::unique_ptr<Stream>> s) { st = s.status(); });
  EXPECT_FALSE(st.has_value()) << "on_connect ran inside Connect()";
  for (int i = 0; i < 100 && !st; ++i) u->RunOnce(std::chrono::milliseconds(10));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code(), Code::kInvalidArgument);
}

TEST(Uring, StreamsLeftOpenAtShutdownAreReclaimed) {
  // Streams and a listener whose handles are gone while I/O is in flight: ~Uring must end it all
  // (ASan/LSan builds check nothing leaks).
  auto u = MakeUring();
  ASSERT_TRUE(u);
  std::unique_ptr<Stream> server;
  auto l = u->Listen("127.0.0.1", 0, [&](std::unique_ptr<Stream> s) { server = std::move(s); });
  ASSERT_TRUE(l.ok());
  std::unique_ptr<Stream> client;
  u->Connect("127.0.0.1", (*l)->port(), [&](Result<std::unique_ptr<Stream>> s) {
    ASSERT_TRUE(s.ok());
    client = std::move(*s);
  });
  for (int i = 0; i < 200 && !(client && server); ++i) u->RunOnce(std::chrono::milliseconds(10));
  ASSERT_TRUE(client && server);
  server->SetHandlers([](std::span<const uint8_t>) {}, [](const Status&) {});
  client->SetHandlers([](std::span<const uint8_t>) {}, [](const Status&) {});
  std::vector<uint8_t> big(16 << 20, 0x5a);  // more than the socket buffers hold
  client->Send(big);
  u->RunOnce(std::chrono::milliseconds(10));
  client.reset();  // a sendmsg is still in flight: the peer does not read fast enough
  server.reset();
  l->reset();
  u.reset();
}

// The kernel tears a closed ring down later, in a work item that first interrupts every task that
// created or submitted to the ring and is still alive (task_work with TWA_SIGNAL, run before it
// returns to user space) and waits for each. An application thread that makes and destroys a loop
// it never ran must not be one of them: a blocking call it makes tens of milliseconds later would
// fail with EINTR though no signal was sent (a socket read with SO_RCVTIMEO, as an NBD client
// makes, cannot be restarted). The check runs on a fresh thread: this test binary's main thread
// drives loops itself in other tests (RunOnce), which rightly enrolls it.
TEST(Uring, DestroyingALoopRunOnItsOwnThreadDoesNotInterruptTheDestroyingThread) {
  std::thread app([] {
    for (int round = 0; round < 3; ++round) {
      SCOPED_TRACE("round " + std::to_string(round));
      auto u = MakeUring();
      ASSERT_TRUE(u);
      // Something in flight at shutdown besides the eventfd read: a listener's accept.
      auto l = u->Listen("127.0.0.1", 0, [](std::unique_ptr<Stream>) {});
      ASSERT_TRUE(l.ok());
      u->StartThread();
      std::promise<void> turned;
      u->Post([&] { turned.set_value(); });
      ASSERT_EQ(turned.get_future().wait_for(std::chrono::seconds(5)),
                std::future_status::ready);
      u->Stop();
      u->Join();
      l->reset();  // on this thread after Join, as owners do once the loop stopped
      u.reset();

      // A blocking read with a receive timeout, nothing to read: it must run out its timeout.
      int sv[2];
      ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
      timeval tv{0, 300'000};
      ASSERT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
      char b;
      const auto start = std::chrono::steady_clock::now();
      const ssize_t n = ::recv(sv[0], &b, 1, 0);
      const int err = errno;
      const auto waited = std::chrono::steady_clock::now() - start;
      ::close(sv[0]);
      ::close(sv[1]);
      EXPECT_EQ(n, -1);
      EXPECT_TRUE(err == EAGAIN || err == EWOULDBLOCK)
          << "recv failed with " << std::strerror(err) << " after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
          << " ms: the destroyed ring's teardown interrupted this thread";
    }
  });
  app.join();
}

}  // namespace
}  // namespace nvmpath::reactor
