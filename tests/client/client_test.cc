// The Client API (include/nvmpath/client.h) against the project's real target over 127.0.0.1.
//
// Goal: what an application sees — Connect over two paths with the ANA states known when it
// returns, Describe, Open, sync and async I/O (many in flight from a callback loop on an I/O
// thread), flush / write zeroes / deallocate, the errors the header promises (kOutOfRange,
// kInvalidArgument, kNotFound, Connect failures naming every path, kNoPath naming every path's
// state), discovery, failover under async I/O with zero errors, and Close draining I/O in flight.
// Method: target::Target runs on its own reactor::Uring thread in this process
// (target_fixture.h); the client runs its own I/O threads; the test thread waits by polling
// with a deadline.
#include "nvmpath/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "target_fixture.h"

namespace nvmpath {
namespace {

using namespace std::chrono_literals;
using client_test::kNsBytes;
using client_test::kSubnqn;
using client_test::TargetOnThread;

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

ClientOptions Options(const TargetOnThread& t) {
  ClientOptions o;
  o.subnqn = kSubnqn;
  o.hostnqn = "nqn.2024-01.io.nvmpath:client-test-host";
  o.paths = {{"127.0.0.1", t.port1()}, {"127.0.0.1", t.port2()}};
  o.reconnect_delay = 100ms;
  o.ctrl_loss_tmo = 60s;
  o.io_timeout = 5s;
  o.connect_timeout = 5s;
  return o;
}

std::string Ep(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

const PathInfo* FindPath(const DeviceInfo& d, uint16_t port) {
  for (const auto& p : d.paths) {
    if (p.endpoint.port == port) return &p;
  }
  return nullptr;
}

uint64_t PathIos(const DeviceCounters& c, const std::string& name) {
  for (const auto& [n, pc] : c.paths) {
    if (n == name) return pc.ios;
  }
  return 0;
}

std::vector<uint8_t> Pattern(size_t bytes, uint32_t seed) {
  std::vector<uint8_t> v(bytes);
  for (size_t i = 0; i < bytes; ++i) v[i] = static_cast<uint8_t>((i * 131 + seed * 7 + 1) & 0xFF);
  return v;
}

// Keeps `depth` I/Os in flight on I/O thread 0: each slot writes its own 8 blocks, reads them
// back and compares, and resubmits from the completion callback until stopped.
class AsyncLoad {
 public:
  AsyncLoad(Client* client, Device* dev, unsigned depth) : client_(client), dev_(dev) {
    const size_t bytes = 8 * dev->block_size();
    for (unsigned i = 0; i < depth; ++i) {
      slots_.push_back({Pattern(bytes, i), std::vector<uint8_t>(bytes), 0});
    }
  }
  ~AsyncLoad() { Stop(); }

  void Start() {
    client_->RunOnIoThread(0, [this] {
      for (unsigned i = 0; i < slots_.size(); ++i) Issue(i);
    });
  }
  void Stop() {
    stop_ = true;
    EXPECT_TRUE(WaitFor([&] { return in_flight_.load() == 0; }, 30s)) << "I/O did not drain";
  }

  uint64_t completed() const { return completed_.load(); }
  uint64_t errors() const { return errors_.load(); }
  uint64_t mismatches() const { return mismatches_.load(); }
  uint64_t off_thread() const { return off_thread_.load(); }
  std::string first_error() {
    std::lock_guard<std::mutex> l(mu_);
    return first_error_;
  }

 private:
  struct Slot {
    std::vector<uint8_t> out, in;
    uint32_t gen;
  };

  void Issue(unsigned i) {
    if (stop_) return;
    Slot& s = slots_[i];
    const uint64_t lba = uint64_t{i} * 8;
    ++in_flight_;
    if ((s.gen & 1) == 0) {
      s.out[0] = static_cast<uint8_t>(s.gen);  // each round writes something new
      dev_->WriteAsync(lba, 8, s.out, [this, i](Status st) { Done(i, st); });
    } else {
      dev_->ReadAsync(lba, 8, s.in, [this, i](Status st) { Done(i, st); });
    }
  }

  void Done(unsigned i, const Status& st) {
    Slot& s = slots_[i];
    if (client_->CurrentIoThread() != std::optional<unsigned>(0)) ++off_thread_;
    if (!st.ok()) {
      ++errors_;
      std::lock_guard<std::mutex> l(mu_);
      if (first_error_.empty()) first_error_ = st.ToString();
    } else if ((s.gen & 1) == 1 && s.in != s.out) {
      ++mismatches_;
    }
    ++s.gen;
    ++completed_;
    --in_flight_;
    Issue(i);
  }

  Client* client_;
  Device* dev_;
  std::vector<Slot> slots_;
  std::atomic<bool> stop_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> completed_{0}, errors_{0}, mismatches_{0}, off_thread_{0};
  std::mutex mu_;
  std::string first_error_;
};

// ---- Connect, Describe, Open ----

TEST(ClientTest, ConnectTwoPathsDescribesControllersAndAnaStates) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  // Connect returns once every live path's ANA state is known: no "pending" right away.
  SubsystemInfo info = (*client)->Describe();
  EXPECT_EQ(info.subnqn, kSubnqn);
  EXPECT_EQ(info.hostnqn, "nqn.2024-01.io.nvmpath:client-test-host");
  ASSERT_EQ(info.controllers.size(), 2u);
  for (const auto& c : info.controllers) {
    EXPECT_EQ(c.state, "live") << c.name;
    EXPECT_EQ(c.model, "nvmpath target");
    EXPECT_FALSE(c.serial.empty());
    EXPECT_NE(c.cntlid, 0u);
    EXPECT_EQ(c.io_queues, 1u);
    EXPECT_EQ(c.last_error, "");
  }
  EXPECT_EQ(info.controllers[0].name, Ep(t.port1()));
  ASSERT_EQ(info.devices.size(), 2u);
  const DeviceInfo& d = info.devices[0];
  EXPECT_EQ(d.nsid, 1u);
  EXPECT_EQ(d.name, std::string(kSubnqn) + ":ns1");
  EXPECT_EQ(d.capacity_blocks, kNsBytes / 512);
  EXPECT_EQ(d.block_size, 512u);
  const PathInfo* p1 = FindPath(d, t.port1());
  const PathInfo* p2 = FindPath(d, t.port2());
  ASSERT_NE(p1, nullptr);
  ASSERT_NE(p2, nullptr);
  EXPECT_EQ(p1->ana_state, "optimized");
  EXPECT_EQ(p2->ana_state, "non-optimized");
  EXPECT_TRUE(p1->usable && p1->ready);
  EXPECT_TRUE(p2->usable && p2->ready);
  EXPECT_EQ(p1->controller_state, "live");
  EXPECT_TRUE(info.problems.empty());
}

TEST(ClientTest, OpenFirstNsidsAndGeometry) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->nsids(), (std::vector<uint32_t>{1, 2}));
  auto dev = (*client)->Open(1);
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  auto first = (*client)->OpenFirst();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, *dev);
  auto again = (*client)->Open(1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *dev);
  EXPECT_EQ((*dev)->nsid(), 1u);
  EXPECT_EQ((*dev)->name(), std::string(kSubnqn) + ":ns1");
  EXPECT_EQ((*dev)->capacity_blocks(), kNsBytes / 512);
  EXPECT_EQ((*dev)->block_size(), 512u);
  EXPECT_GE((*dev)->max_io_blocks(), 8u);
  EXPECT_EQ((*client)->io_threads(), 1u);
  EXPECT_EQ((*client)->CurrentIoThread(), std::nullopt);
  DeviceInfo di = (*dev)->info();
  EXPECT_EQ(di.paths.size(), 2u);
}

TEST(ClientTest, OpenUnknownNsidNamesSubsystemAndNsids) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto dev = (*client)->Open(7);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), Code::kNotFound);
  EXPECT_NE(dev.status().message().find(kSubnqn), std::string::npos) << dev.status().message();
  EXPECT_NE(dev.status().message().find("namespace 7"), std::string::npos);
  EXPECT_NE(dev.status().message().find("NSIDs: 1, 2"), std::string::npos);
}

// ---- I/O ----

TEST(ClientTest, SyncWriteReadBack) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  std::vector<uint8_t> out = Pattern(8 * 512, 3), in(8 * 512);
  ASSERT_TRUE(dev->Write(16, 8, out).ok());
  ASSERT_TRUE(dev->Read(16, 8, in).ok());
  EXPECT_EQ(in, out);
  // The other namespace is a different device: its blocks did not change.
  Device* dev2 = *(*client)->Open(2);
  std::vector<uint8_t> other(8 * 512, 0xEE);
  ASSERT_TRUE(dev2->Read(16, 8, other).ok());
  EXPECT_EQ(other, std::vector<uint8_t>(8 * 512, 0));
}

TEST(ClientTest, FlushWriteZeroesDeallocate) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  std::vector<uint8_t> out = Pattern(16 * 512, 5), in(16 * 512);
  ASSERT_TRUE(dev->Write(100, 16, out).ok());
  ASSERT_TRUE(dev->Flush().ok());
  ASSERT_TRUE(dev->WriteZeroes(104, 4).ok());
  ASSERT_TRUE(dev->Read(100, 16, in).ok());
  std::vector<uint8_t> expect = out;
  std::memset(expect.data() + 4 * 512, 0, 4 * 512);
  EXPECT_EQ(in, expect);
  Status st = dev->Deallocate(100, 16);
  EXPECT_TRUE(st.ok()) << st.ToString();
  DeviceCounters c = dev->counters();
  EXPECT_EQ(c.submitted, 5u);  // write, flush, write zeroes, read, deallocate
  EXPECT_EQ(c.completed, 5u);
  EXPECT_EQ(c.errors, 0u);
}

TEST(ClientTest, ArgumentErrors) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  const uint64_t cap = dev->capacity_blocks();
  std::vector<uint8_t> buf(8 * 512);

  Status st = dev->Read(cap - 4, 8, buf);
  EXPECT_EQ(st.code(), Code::kOutOfRange) << st.ToString();
  st = dev->WriteZeroes(cap, 1);
  EXPECT_EQ(st.code(), Code::kOutOfRange) << st.ToString();

  std::vector<uint8_t> short_buf(8 * 512 - 1);
  st = dev->Read(0, 8, short_buf);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("4095 bytes"), std::string::npos) << st.message();
  st = dev->Write(0, 0, {});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("0 blocks"), std::string::npos) << st.message();
  const uint32_t too_many = dev->max_io_blocks() + 1;
  std::vector<uint8_t> big(size_t{too_many} * 512);
  st = dev->Read(0, too_many, big);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("max_io_blocks " + std::to_string(too_many - 1)), std::string::npos)
      << st.message();

  // Async errors come back through the callback, on an I/O thread.
  std::atomic<int> on_io_thread{-1};
  std::atomic<bool> done{false};
  Status async_st;
  dev->ReadAsync(0, 8, short_buf, [&](Status s) {
    on_io_thread = (*client)->CurrentIoThread().has_value() ? 1 : 0;
    async_st = s;
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return done.load(); }));
  EXPECT_EQ(async_st.code(), Code::kInvalidArgument);
  EXPECT_EQ(on_io_thread.load(), 1);
  // None of the refused I/Os reached the head; the out-of-range ones did (the head checks it).
  DeviceCounters c = dev->counters();
  EXPECT_EQ(c.submitted, 2u);
  EXPECT_EQ(c.errors, 2u);
}

TEST(ClientTest, SyncCallOnIoThreadIsRefused) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  std::vector<uint8_t> buf(512);
  std::atomic<bool> done{false};
  Status st;
  (*client)->RunOnIoThread(0, [&] {
    st = dev->Read(0, 1, buf);
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return done.load(); }));
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("I/O thread 0"), std::string::npos) << st.message();
}

TEST(ClientTest, AsyncManyInFlightFromIoThreadCallbacks) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  AsyncLoad load(client->get(), dev, 32);
  load.Start();
  ASSERT_TRUE(WaitFor([&] { return load.completed() >= 4000; }, 30s)) << load.completed();
  load.Stop();
  EXPECT_EQ(load.errors(), 0u) << load.first_error();
  EXPECT_EQ(load.mismatches(), 0u);
  EXPECT_EQ(load.off_thread(), 0u) << "a callback ran off the submitting I/O thread";
  DeviceCounters c = dev->counters();
  EXPECT_EQ(c.submitted, load.completed());
  EXPECT_EQ(c.completed, load.completed());
  EXPECT_EQ(c.outstanding, 0u);
  // numa policy: everything on the optimized path.
  EXPECT_EQ(PathIos(c, Ep(t.port1())), load.completed());
  EXPECT_EQ(PathIos(c, Ep(t.port2())), 0u);
}

TEST(ClientTest, AsyncFromApplicationThreadSpreadsOverIoThreads) {
  TargetOnThread t;
  ClientOptions o = Options(t);
  o.io_threads = 2;
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  constexpr int kIos = 64;
  std::vector<std::vector<uint8_t>> bufs(kIos, std::vector<uint8_t>(512));
  std::atomic<int> done{0}, errors{0};
  std::array<std::atomic<int>, 2> per_thread{};
  for (int i = 0; i < kIos; ++i) {
    dev->ReadAsync(i, 1, bufs[i], [&](Status st) {
      auto th = (*client)->CurrentIoThread();
      if (th) ++per_thread[*th];
      if (!st.ok()) ++errors;
      ++done;
    });
  }
  ASSERT_TRUE(WaitFor([&] { return done.load() == kIos; }));
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(per_thread[0].load() + per_thread[1].load(), kIos);
  EXPECT_GT(per_thread[0].load(), 0);
  EXPECT_GT(per_thread[1].load(), 0);
}

TEST(ClientTest, RoundRobinUsesBothPathsOnceBothAreOptimized) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  dev->SetPolicy(PathPolicy::kRoundRobin);
  // ANA-aware: the non-optimized path is not used while an optimized one is usable.
  std::vector<uint8_t> buf(512);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(dev->Read(i, 1, buf).ok());
  EXPECT_EQ(PathIos(dev->counters(), Ep(t.port2())), 0u);
  t.Control([](target::Target& tg) { return tg.SetAnaState(2, 1, nvme::AnaState::kOptimized); });
  ASSERT_TRUE(WaitFor([&] { return FindPath(dev->info(), t.port2())->ana_state == "optimized"; }));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(dev->Read(i, 1, buf).ok());
  DeviceCounters c = dev->counters();
  EXPECT_EQ(PathIos(c, Ep(t.port1())), 30u);
  EXPECT_EQ(PathIos(c, Ep(t.port2())), 10u);
}

TEST(ClientTest, ResizeAndNewNamespaceShowWithoutReconnecting) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  t.Control([](target::Target& tg) { return tg.ResizeNamespace(kSubnqn, 1, 2 * kNsBytes); });
  ASSERT_TRUE(WaitFor([&] { return dev->capacity_blocks() == 2 * kNsBytes / 512; }))
      << dev->capacity_blocks();
  std::vector<uint8_t> buf(512, 0x5A), in(512);
  ASSERT_TRUE(dev->Write(2 * kNsBytes / 512 - 1, 1, buf).ok());  // past the old end
  ASSERT_TRUE(dev->Read(2 * kNsBytes / 512 - 1, 1, in).ok());
  EXPECT_EQ(in, buf);

  t.Control([](target::Target& tg) {
    return tg.AddNamespace(kSubnqn, {.nsid = 3, .size_bytes = kNsBytes, .ana_group = 1});
  });
  ASSERT_TRUE(WaitFor([&] { return (*client)->nsids().size() == 3; }));
  auto dev3 = (*client)->Open(3);
  ASSERT_TRUE(dev3.ok()) << dev3.status().ToString();
  EXPECT_TRUE((*dev3)->Read(0, 1, in).ok());
}

// The Device's geometry changes in the home event in which the head takes it (the host tells
// the client), so on home the two never disagree. It used to be copied every 20 ms: a look on
// home in between saw the head's new size and the device's old one.
TEST(ClientTest, GeometryReachesTheDeviceInTheEventTheHeadLearnsIt) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  const uint64_t before = dev->capacity_blocks();
  ASSERT_EQ(before, kNsBytes / 512);
  t.Control([](target::Target& tg) { return tg.ResizeNamespace(kSubnqn, 1, 2 * kNsBytes); });
  uint64_t head_blocks = before;
  int looks = 0;
  int lagging = 0;
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (head_blocks == before && std::chrono::steady_clock::now() < end) {
    client::Waiter w;
    (*client)->RunOnIoThread(0, [&] {  // thread 0 is home
      head_blocks = dev->info().capacity_blocks;
      lagging += head_blocks != dev->capacity_blocks();
      ++looks;
      w.Signal();
    });
    w.Wait();
  }
  EXPECT_EQ(head_blocks, 2 * kNsBytes / 512);
  EXPECT_EQ(lagging, 0) << "of " << looks << " looks on home, " << lagging
                        << " saw the head's new size before the device's";
  EXPECT_EQ(dev->capacity_blocks(), 2 * kNsBytes / 512);
}

// Close under load on several threads, repeatedly: each Close destroys the heads right after
// their last messages (CollectStats hops, shard acknowledgements) — no barrier rounds — and a
// head destroyed with one still on its way fires "head destroyed with messages in flight".
TEST(ClientTest, CloseUnderLoadOnSeveralThreadsDestroysHeadsOnlyWhenQuiet) {
  TargetOnThread t;
  for (int round = 0; round < 5; ++round) {
    ClientOptions o = Options(t);
    o.io_threads = 3;
    o.policy = PathPolicy::kRoundRobin;
    auto client = Client::Connect(o);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    Device* dev = *(*client)->Open(1);
    std::atomic<int> completions{0};
    std::vector<std::vector<uint8_t>> bufs(64, std::vector<uint8_t>(512));
    for (int i = 0; i < 64; ++i) {
      dev->ReadAsync(i, 1, bufs[i], [&](Status) { ++completions; });
    }
    (void)dev->counters();
    (*client)->Close();
    EXPECT_EQ(completions.load(), 64);
    EXPECT_EQ(dev->counters().outstanding, 0u);
  }
}

// ---- Connect failures ----

TEST(ClientTest, WrongSubsystemNqnNamesIt) {
  TargetOnThread t;
  ClientOptions o = Options(t);
  o.subnqn = "nqn.2024-01.io.nvmpath:no-such-subsystem";
  auto client = Client::Connect(o);
  ASSERT_FALSE(client.ok());
  const std::string& m = client.status().message();
  EXPECT_EQ(client.status().code(), Code::kNotFound) << m;
  EXPECT_NE(m.find("nqn.2024-01.io.nvmpath:no-such-subsystem not found"), std::string::npos) << m;
  EXPECT_NE(m.find("Connect rejected"), std::string::npos) << m;
  EXPECT_NE(m.find(Ep(t.port1()) + ": "), std::string::npos) << m;
  EXPECT_NE(m.find(Ep(t.port2()) + ": "), std::string::npos) << m;
}

TEST(ClientTest, UnreachablePortNamesEndpointAndRefused) {
  TargetOnThread t;
  ClientOptions o = Options(t);
  o.paths = {{"127.0.0.1", t.unused_port()}};
  o.retry_unreachable_paths = false;
  auto client = Client::Connect(o);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kUnavailable);
  EXPECT_NE(client.status().message().find(Ep(t.unused_port()) + ": connection refused"),
            std::string::npos)
      << client.status().message();
}

TEST(ClientTest, SilentListenerTimesOutNamingThePath) {
  // A socket that listens but never answers: the kernel completes the TCP handshake, the ICReq
  // gets no ICResp.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);

  ClientOptions o;
  o.subnqn = kSubnqn;
  o.paths = {{"127.0.0.1", port}};
  o.connect_timeout = 300ms;
  auto client = Client::Connect(o);
  ::close(fd);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kTimedOut) << client.status().ToString();
  EXPECT_NE(client.status().message().find(Ep(port) + ": timed out"), std::string::npos)
      << client.status().message();
}

TEST(ClientTest, BadOptionsAreNamed) {
  ClientOptions o;
  o.subnqn = kSubnqn;
  o.paths = {{"not_a_host_name", 4420}};
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("paths[0]"), std::string::npos) << c.status().message();
  o.paths = {{"127.0.0.1", 4420}};
  o.io_threads = 0;
  c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("io_threads 0"), std::string::npos);
  o.io_threads = 1;
  o.hostid = "not-a-uuid";
  c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("hostid: \"not-a-uuid\""), std::string::npos)
      << c.status().message();
}

TEST(ClientTest, PathDownAtConnectComesUpLater) {
  TargetOnThread t(/*port2_enabled=*/false);
  ClientOptions o = Options(t);
  o.retry_unreachable_paths = true;
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  SubsystemInfo info = (*client)->Describe();
  ASSERT_EQ(info.controllers.size(), 2u);
  EXPECT_EQ(info.controllers[0].state, "live");
  EXPECT_NE(info.controllers[1].state, "live");
  EXPECT_NE(info.controllers[1].last_error.find("refused"), std::string::npos)
      << info.controllers[1].last_error;

  t.Control([](target::Target& tg) { return tg.SetPortEnabled(2, true); });
  Device* dev = *(*client)->Open(1);
  ASSERT_TRUE(WaitFor([&] {
    const DeviceInfo info = dev->info();
    const PathInfo* p = FindPath(info, t.port2());
    return p != nullptr && p->usable;
  })) << "path 2 did not come up";
  EXPECT_EQ((*client)->Describe().controllers[1].state, "live");
}

// ---- Discovery ----

TEST(ClientTest, DiscoverListsBothPortsAndConnectUsesThem) {
  TargetOnThread t;
  ClientOptions o = Options(t);
  auto entries = Client::Discover({"127.0.0.1", t.port1()}, o);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  std::vector<uint16_t> nvm_ports;
  bool current_discovery = false;
  for (const auto& e : *entries) {
    if (e.subtype == "nvm" && e.subnqn == kSubnqn) {
      EXPECT_EQ(e.transport, "tcp");
      EXPECT_EQ(e.endpoint.address, "127.0.0.1");
      nvm_ports.push_back(e.endpoint.port);
    }
    current_discovery |= e.subtype == "current discovery";
  }
  std::sort(nvm_ports.begin(), nvm_ports.end());
  std::vector<uint16_t> want{t.port1(), t.port2()};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(nvm_ports, want);
  EXPECT_TRUE(current_discovery);

  o.subnqn.clear();                      // the log lists exactly one NVM subsystem
  o.paths = {{"127.0.0.1", t.port1()}};  // also listed by discovery: merged
  o.discovery = Endpoint{"127.0.0.1", t.port1()};
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  SubsystemInfo info = (*client)->Describe();
  EXPECT_EQ(info.subnqn, kSubnqn);
  ASSERT_EQ(info.controllers.size(), 2u);
  EXPECT_EQ(info.controllers[0].state, "live");
  EXPECT_EQ(info.controllers[1].state, "live");
}

TEST(ClientTest, DiscoveryRefusedNamesEndpoint) {
  TargetOnThread t;
  auto entries = Client::Discover({"127.0.0.1", t.unused_port()}, Options(t));
  ASSERT_FALSE(entries.ok());
  EXPECT_NE(
      entries.status().message().find("discovery " + Ep(t.unused_port()) + ": connection refused"),
      std::string::npos)
      << entries.status().message();
}

// ---- Failover, no path, Close ----

TEST(ClientTest, FailoverDuringAsyncIoHasNoErrors) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  AsyncLoad load(client->get(), dev, 16);
  load.Start();
  ASSERT_TRUE(WaitFor([&] { return load.completed() >= 500; }));
  t.Control([](target::Target& tg) { return tg.SetPortEnabled(1, false); });
  const uint64_t at_disable = load.completed();
  ASSERT_TRUE(WaitFor([&] { return load.completed() >= at_disable + 2000; }, 30s))
      << "I/O stalled after port 1 went down: " << dev->info().paths[0].controller_state;
  const uint64_t p2 = PathIos(dev->counters(), Ep(t.port2()));
  load.Stop();
  EXPECT_EQ(load.errors(), 0u) << load.first_error();
  EXPECT_EQ(load.mismatches(), 0u);
  EXPECT_GE(p2, 1500u) << "I/O did not move to port 2";
  DeviceCounters c = dev->counters();
  EXPECT_EQ(c.errors, 0u);
  EXPECT_EQ(c.completed, load.completed());
}

TEST(ClientTest, NoPathTimeoutNamesEveryPathState) {
  TargetOnThread t;
  ClientOptions o = Options(t);
  o.no_path_timeout = 200ms;
  o.reconnect_delay = 1s;
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  t.Control([](target::Target& tg) { return tg.SetPortEnabled(1, false); });
  t.Control([](target::Target& tg) { return tg.SetPortEnabled(2, false); });
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& p : dev->info().paths) {
      if (p.controller_state == "live") return false;
    }
    return true;
  }));
  std::vector<uint8_t> buf(512);
  Status st = dev->Read(0, 1, buf);
  EXPECT_EQ(st.code(), Code::kNoPath) << st.ToString();
  EXPECT_NE(st.message().find("no usable path to " + std::string(kSubnqn) + ":ns1"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("path " + Ep(t.port1()) + " "), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("path " + Ep(t.port2()) + " "), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("connecting"), std::string::npos) << st.message();
  DeviceCounters c = dev->counters();
  EXPECT_EQ(c.no_path, 1u);
}

TEST(ClientTest, CloseDrainsIoInFlight) {
  TargetOnThread t;
  auto client = Client::Connect(Options(t));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Device* dev = *(*client)->Open(1);
  // Responses held back: every I/O stays in flight until Close.
  t.Control([](target::Target& tg) { return tg.SetStalled(std::nullopt, true); });
  constexpr int kIos = 16;
  std::vector<std::vector<uint8_t>> bufs(kIos, std::vector<uint8_t>(512));
  std::atomic<int> done{0};
  std::mutex mu;
  std::vector<Code> codes;
  for (int i = 0; i < kIos; ++i) {
    dev->ReadAsync(i, 1, bufs[i], [&](Status st) {
      std::lock_guard<std::mutex> l(mu);
      codes.push_back(st.code());
      ++done;
    });
  }
  ASSERT_TRUE(WaitFor([&] { return dev->counters().outstanding == kIos; }));
  (*client)->Close();
  EXPECT_EQ(done.load(), kIos) << "Close returned with I/O still in flight";
  for (Code c : codes) EXPECT_TRUE(c == Code::kNoPath || c == Code::kCancelled) << CodeName(c);
  // After Close: I/O is cancelled at once, counters are the final ones, Close is idempotent.
  Status st = dev->Read(0, 1, bufs[0]);
  EXPECT_EQ(st.code(), Code::kCancelled);
  DeviceCounters c = dev->counters();
  EXPECT_EQ(c.submitted, static_cast<uint64_t>(kIos));
  EXPECT_EQ(c.outstanding, 0u);
  (*client)->Close();
  EXPECT_EQ((*client)->Open(1).status().code(), Code::kCancelled);
}

// ---- Preconditions the header states, shown firing ----

TEST(ClientDeathTest, CountersOnAnIoThreadAsserts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        TargetOnThread t;
        auto client = Client::Connect(Options(t));
        NVMP_ASSERT(client.ok());
        Device* dev = *(*client)->Open(1);
        client::Waiter w;
        (*client)->RunOnIoThread(0, [&] {
          (void)dev->counters();
          w.Signal();
        });
        w.Wait();
      },
      "counters\\(\\) on an I/O thread would wait for itself");
}

TEST(ClientDeathTest, CloseOnAnIoThreadAsserts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        TargetOnThread t;
        auto client = Client::Connect(Options(t));
        NVMP_ASSERT(client.ok());
        client::Waiter w;
        (*client)->RunOnIoThread(0, [&] {
          (*client)->Close();
          w.Signal();
        });
        w.Wait();
      },
      "Close on an I/O thread would wait for itself");
}

}  // namespace
}  // namespace nvmpath
