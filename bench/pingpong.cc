// pingpong — the loopback TCP limit for the shape of a 4 KiB NVMe/TCP read, with no NVMe in it.
//
// One TCP connection over 127.0.0.1. The client sends 72-byte requests (a CapsuleCmd PDU: 8-byte
// header + 64-byte SQE); for each one the server sends back 4144 bytes in one send (a 24-byte
// C2HData header, 4096 bytes of data, and a 24-byte CapsuleResp). `depth` requests are
// outstanding at once on the one connection; the client sends a new one for each reply. The
// server runs on one core (default 0), the client on another (default 1).
//
// Both sides use plain blocking sockets with TCP_NODELAY, and batch: each recv takes everything
// that has arrived, and everything it makes due goes out in one send. At depth 1 that is exactly
// one send and one recv per operation on each side, the fewest system calls a TCP exchange can
// take, so the figure is what the kernel's loopback path allows; at depth 32 batching lets the
// kernel coalesce, as an event loop does. bench/README.md says why not io_uring.
//
// With --connections N (N > 1) the same depth is spread over N connections, as a multipath host
// spreads it over paths with round-robin: each reply's new request goes to the next connection
// in turn, and both sides wait for the first ready socket in poll() before reading each ready
// one. So "N connections vs 1 at the same depth" is what the kernel charges for splitting one
// stream of small exchanges into N, with nothing of nvmpath in it.
//
// Reports per depth: operations per second, and round-trip time (request sent → whole reply
// received) mean, p50 and p99 in microseconds, over a measured window after a warm-up.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<unsigned> depths = {1, 32};
  unsigned connections = 1;
  double seconds = 3.0;
  double warmup = 0.5;
  int server_cpu = 0;
  int client_cpu = 1;
  size_t request_bytes = 72;
  size_t reply_bytes = 24 + 4096 + 24;
  std::string congestion = "cubic";
  bool spin = false;
  bool json = false;
};

struct RunResult {
  unsigned depth = 0;
  unsigned connections = 1;
  uint64_t ops = 0;
  double seconds = 0;
  double ops_per_s = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::string congestion;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "pingpong: %s\n", what.c_str());
  std::exit(1);
}

void DieErrno(const std::string& what) { Die(fmt::format("{}: {}", what, std::strerror(errno))); }

// Pins the calling thread; -1 leaves it where the scheduler puts it.
void Pin(int cpu, const char* who) {
  if (cpu < 0) return;
  const unsigned ncpu = std::thread::hardware_concurrency();
  if (ncpu != 0 && static_cast<unsigned>(cpu) >= ncpu) {
    Die(fmt::format("--{}-cpu {}: this machine has {} CPUs (0..{}); -1 disables pinning", who, cpu,
                    ncpu, ncpu - 1));
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set); e != 0) {
    Die(fmt::format("cannot pin the {} to CPU {}: {}", who, cpu, std::strerror(e)));
  }
}

void SetNoDelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) DieErrno("TCP_NODELAY");
}

// Asks for `name` (bbr, the default here, paces a single loopback stream far below what the
// kernel can do; nvmpath's sockets ask for cubic). Where it is refused the system's default
// stays: the report names the algorithm the socket really used.
void SetCongestion(int fd, const std::string& name) {
  if (name == "default") return;
  if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name.data(),
                 static_cast<socklen_t>(name.size())) != 0) {
    static bool told = false;
    if (!told) {
      std::fprintf(stderr, "pingpong: congestion control %s refused (%s); using the default\n",
                   name.c_str(), std::strerror(errno));
      told = true;
    }
  }
}

std::string Congestion(int fd) {
  char buf[32] = {};
  socklen_t len = sizeof buf - 1;
  if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, buf, &len) != 0) return "?";
  return std::string(buf, strnlen(buf, len));
}

// A blocking recv, or with --spin a non-blocking one retried until data comes (busy polling:
// no sleep and no wake-up, at the price of a whole core per side).
ssize_t Recv(int fd, uint8_t* p, size_t n, bool spin) {
  for (;;) {
    ssize_t got = recv(fd, p, n, spin ? MSG_DONTWAIT : 0);
    if (got >= 0) return got;
    if (errno == EINTR || (spin && (errno == EAGAIN || errno == EWOULDBLOCK))) continue;
    return got;
  }
}

void SendAll(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t s = send(fd, p, n, MSG_NOSIGNAL);
    if (s < 0) {
      if (errno == EINTR) continue;
      DieErrno("send");
    }
    p += s;
    n -= static_cast<size_t>(s);
  }
}

// One connection's receive side: bytes of a partial message kept from the last recv.
struct Inbox {
  std::vector<uint8_t> bytes;
  size_t have = 0;
  explicit Inbox(size_t size) : bytes(size) {}
  // Reads what has arrived; returns the number of whole messages of `unit` bytes now held.
  size_t Read(int fd, size_t unit, bool spin, const char* who) {
    ssize_t got = Recv(fd, bytes.data() + have, bytes.size() - have, spin);
    if (got < 0) DieErrno(fmt::format("{} recv", who));
    if (got == 0) return SIZE_MAX;
    have += static_cast<size_t>(got);
    return have / unit;
  }
  void Consume(size_t used) {
    std::memmove(bytes.data(), bytes.data() + used, have - used);
    have -= used;
  }
};

// Waits until at least one of `fds` is readable; returns the readable ones' indexes. One
// connection (or --spin, which allows only one) needs no poll: its recv is the wait.
std::vector<size_t> Ready(const std::vector<int>& fds, bool spin, const char* who) {
  std::vector<size_t> ready;
  if (fds.size() == 1 || spin) {
    for (size_t i = 0; i < fds.size(); ++i) ready.push_back(i);
    return ready;
  }
  std::vector<pollfd> p(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) p[i] = pollfd{fds[i], POLLIN, 0};
  for (;;) {
    int n = poll(p.data(), p.size(), -1);
    if (n > 0) break;
    if (n < 0 && errno != EINTR) DieErrno(fmt::format("{} poll", who));
  }
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i].revents != 0) ready.push_back(i);
  }
  return ready;
}

// Answers every complete request with one reply on its connection until the client closes.
void Serve(int listen_fd, const Options& o) {
  Pin(o.server_cpu, "server");
  std::vector<int> fds;
  std::vector<Inbox> inboxes;
  for (unsigned c = 0; c < o.connections; ++c) {
    int fd = accept(listen_fd, nullptr, nullptr);
    if (fd < 0) DieErrno("accept");
    SetNoDelay(fd);
    SetCongestion(fd, o.congestion);
    fds.push_back(fd);
    inboxes.emplace_back(64 * 1024);
  }
  std::vector<uint8_t> reply_template(o.reply_bytes, 0xA5);
  std::vector<uint8_t> out;
  size_t open = fds.size();
  while (open > 0) {
    for (size_t c : Ready(fds, o.spin, "server")) {
      if (fds[c] < 0) continue;
      const size_t n = inboxes[c].Read(fds[c], o.request_bytes, o.spin, "server");
      if (n == SIZE_MAX) {
        close(fds[c]);
        fds[c] = -1;
        --open;
        continue;
      }
      out.clear();
      for (size_t i = 0; i < n; ++i) {
        // The reply carries the request's first 8 bytes back (as C2HData carries the CID).
        const size_t at = out.size();
        out.insert(out.end(), reply_template.begin(), reply_template.end());
        std::memcpy(out.data() + at, inboxes[c].bytes.data() + i * o.request_bytes,
                    std::min<size_t>(8, o.request_bytes));
      }
      inboxes[c].Consume(n * o.request_bytes);
      if (!out.empty()) SendAll(fds[c], out.data(), out.size());
    }
  }
}

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

RunResult RunDepth(unsigned depth, const Options& o) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) DieErrno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) DieErrno("bind 127.0.0.1");
  if (listen(lfd, static_cast<int>(o.connections)) != 0) DieErrno("listen");
  socklen_t len = sizeof addr;
  if (getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) DieErrno("getsockname");
  std::thread server([lfd, &o] { Serve(lfd, o); });

  RunResult result;
  std::thread client([&] {
    Pin(o.client_cpu, "client");
    const size_t nconn = o.connections;
    std::vector<int> fds;
    for (size_t c = 0; c < nconn; ++c) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) DieErrno("socket");
      SetCongestion(fd, o.congestion);
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) DieErrno("connect");
      SetNoDelay(fd);
      fds.push_back(fd);
    }
    result.congestion = Congestion(fds[0]);
    std::vector<uint8_t> request(o.request_bytes, 0x5A);
    std::vector<std::vector<uint8_t>> out(nconn);
    std::vector<Inbox> inboxes;
    for (size_t c = 0; c < nconn; ++c) {
      inboxes.emplace_back(std::max<size_t>(256 * 1024, 2 * o.reply_bytes));
    }
    // FIFO server per connection: each connection's replies come in the order of its requests.
    std::vector<std::deque<Clock::time_point>> sent(nconn);
    size_t outstanding = 0;
    size_t next = 0;  // round-robin: the connection the next request goes to
    std::vector<double> rtts;
    rtts.reserve(1 << 20);
    uint64_t seq = 0;
    auto queue_request = [&](Clock::time_point now) {
      std::memcpy(request.data(), &seq, std::min<size_t>(8, o.request_bytes));
      ++seq;
      out[next].insert(out[next].end(), request.begin(), request.end());
      sent[next].push_back(now);
      next = (next + 1) % nconn;
      ++outstanding;
    };
    auto send_queued = [&] {
      for (size_t c = 0; c < nconn; ++c) {
        if (out[c].empty()) continue;
        SendAll(fds[c], out[c].data(), out[c].size());
        out[c].clear();
      }
    };

    const Clock::time_point start = Clock::now();
    const auto window_start = start + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(o.warmup));
    const auto window_end = window_start + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(o.seconds));
    for (unsigned i = 0; i < depth; ++i) queue_request(Clock::now());
    send_queued();
    uint64_t ops = 0;
    bool issuing = true;
    while (outstanding > 0) {
      for (size_t c : Ready(fds, o.spin, "client")) {
        if (sent[c].empty()) continue;  // nothing owed on it: a recv would wait forever
        const size_t n = inboxes[c].Read(fds[c], o.reply_bytes, o.spin, "client");
        if (n == SIZE_MAX) Die("the server closed the connection early");
        if (n == 0) continue;
        const Clock::time_point now = Clock::now();
        if (now >= window_end) issuing = false;
        for (size_t i = 0; i < n; ++i) {
          const Clock::time_point t0 = sent[c].front();
          sent[c].pop_front();
          --outstanding;
          if (now >= window_start && now < window_end) {
            ++ops;
            rtts.push_back(std::chrono::duration<double, std::micro>(now - t0).count());
          }
          if (issuing) queue_request(now);
        }
        inboxes[c].Consume(n * o.reply_bytes);
      }
      send_queued();
    }
    for (int fd : fds) close(fd);
    result.depth = depth;
    result.connections = o.connections;
    result.ops = ops;
    result.seconds = o.seconds;
    result.ops_per_s = static_cast<double>(ops) / o.seconds;
    double sum = 0;
    for (double r : rtts) sum += r;
    result.mean_us = rtts.empty() ? 0 : sum / static_cast<double>(rtts.size());
    result.p50_us = Percentile(rtts, 0.50);
    result.p99_us = Percentile(rtts, 0.99);
  });
  client.join();
  server.join();
  close(lfd);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Loopback TCP ping-pong in the shape of a 4 KiB NVMe/TCP read: 72-byte request, "
      "4 KiB + 48-byte reply, N requests outstanding over one connection or several"};
  app.add_option("--depth", o.depths, "Requests outstanding (several: one run each)")
      ->delimiter(',')
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "Measured time per depth")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "Unmeasured time before it")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  app.add_option("--server-cpu", o.server_cpu, "CPU for the server thread (-1: not pinned)")
      ->capture_default_str();
  app.add_option("--client-cpu", o.client_cpu, "CPU for the client thread (-1: not pinned)")
      ->capture_default_str();
  app.add_option("--request-bytes", o.request_bytes, "Request size (CapsuleCmd: 72)")
      ->check(CLI::Range(size_t{8}, size_t{65536}))
      ->capture_default_str();
  app.add_option("--reply-bytes", o.reply_bytes,
                 "Reply size (C2HData header 24 + 4096 data + CapsuleResp 24)")
      ->check(CLI::Range(size_t{8}, size_t{16} << 20))
      ->capture_default_str();
  app.add_option("--congestion", o.congestion,
                 "TCP congestion control to ask for (\"default\": the system's)")
      ->capture_default_str();
  app.add_option("--connections", o.connections,
                 "Connections the depth is spread over, round-robin (as paths are)")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_flag("--spin", o.spin,
               "Busy-poll with non-blocking recv instead of sleeping in it (one connection)");
  app.add_flag("--json", o.json, "One JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  if (o.spin && o.connections > 1) Die("--spin works on one connection only (--connections 1)");
  for (unsigned d : o.depths) {
    if (d < o.connections) {
      Die(fmt::format("--depth {} is less than --connections {}: some would carry nothing", d,
                      o.connections));
    }
  }

  std::vector<RunResult> results;
  for (unsigned depth : o.depths) results.push_back(RunDepth(depth, o));

  if (o.json) {
    nlohmann::json j = {{"request_bytes", o.request_bytes},
                        {"reply_bytes", o.reply_bytes},
                        {"server_cpu", o.server_cpu},
                        {"client_cpu", o.client_cpu},
                        {"congestion", results.empty() ? "" : results.front().congestion},
                        {"spin", o.spin},
                        {"runs", nlohmann::json::array()}};
    for (const auto& r : results) {
      j["runs"].push_back({{"depth", r.depth},
                           {"connections", r.connections},
                           {"ops", r.ops},
                           {"seconds", r.seconds},
                           {"ops_per_s", r.ops_per_s},
                           {"rtt_mean_us", r.mean_us},
                           {"rtt_p50_us", r.p50_us},
                           {"rtt_p99_us", r.p99_us}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf(
      "loopback TCP ping-pong: %zu-byte request, %zu-byte reply, %u connection(s), server CPU %d, "
      "client CPU %d, %s, %s\n",
      o.request_bytes, o.reply_bytes, o.connections, o.server_cpu, o.client_cpu,
      results.empty() ? "" : results.front().congestion.c_str(),
      o.spin ? "busy-polling" : "blocking");
  std::printf("%6s %12s %10s %10s %10s\n", "depth", "ops/s", "mean us", "p50 us", "p99 us");
  for (const auto& r : results) {
    std::printf("%6u %12.0f %10.1f %10.1f %10.1f\n", r.depth, r.ops_per_s, r.mean_us, r.p50_us,
                r.p99_us);
  }
  return 0;
}
