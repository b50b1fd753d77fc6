// exports::MetricsServer over real sockets on the loopback: GET and HEAD /metrics answer the
// rendered text with the exposition content type; a wrong path is 404, a wrong method 405 with
// Allow, a malformed request 400, oversized headers 431; a client trickling its headers is cut off
// at the request deadline (slowloris), connections past the limit are refused; IPv6 ([::1]) and
// host names (localhost) bind; a port in use is a clear error.
#include "export/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace nvmpath::exports {
namespace {

using namespace std::chrono_literals;

constexpr const char* kBody = "# HELP m x\n# TYPE m gauge\nm 1\n";

std::unique_ptr<MetricsServer> StartOrDie(MetricsServerOptions o,
                                          std::atomic<int>* renders = nullptr) {
  auto s = MetricsServer::Start(o, [renders] {
    if (renders != nullptr) ++*renders;
    return std::string(kBody);
  });
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

int Connect(const std::string& addr, uint16_t port) {
  const bool v6 = addr.find(':') != std::string::npos;
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, addr.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (e.g. on oversized headers)
    off += static_cast<size_t>(n);
  }
}

// Everything the server sends until it closes, `limit` passes, or (if given) what came in ends
// with `until`.
std::string ReadUntilClosed(int fd, std::chrono::milliseconds limit = 5000ms,
                            std::string_view until = {}) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end && (until.empty() || !out.ends_with(until))) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// One request on a fresh connection ("Connection: close" unless the request says otherwise).
std::string Exchange(const MetricsServer& s, const std::string& request) {
  const int fd = Connect(s.address(), s.port());
  EXPECT_GE(fd, 0);
  if (fd < 0) return "";
  SendAll(fd, request);
  std::string r = ReadUntilClosed(fd);
  close(fd);
  return r;
}

// "200 OK" of "HTTP/1.1 200 OK" (libmicrohttpd answers HTTP/1.1 to an HTTP/1.0 request too).
std::string StatusLine(const std::string& response) {
  const std::string line = response.substr(0, response.find("\r\n"));
  const size_t sp = line.find(' ');
  return sp == std::string::npos ? line : line.substr(sp + 1);
}

MetricsServerOptions Loopback() {
  MetricsServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  return o;
}

TEST(MetricsServer, GetAndHeadServeTheText) {
  std::atomic<int> renders{0};
  auto s = StartOrDie(Loopback(), &renders);
  ASSERT_TRUE(s);
  EXPECT_NE(s->port(), 0);
  EXPECT_EQ(s->address_port(), "127.0.0.1:" + std::to_string(s->port()));
  std::string r = Exchange(*s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "200 OK");
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos)
      << r;
  EXPECT_TRUE(r.ends_with(std::string("\r\n\r\n") + kBody)) << r;
  r = Exchange(*s, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "200 OK");
  EXPECT_TRUE(r.ends_with("\r\n\r\n")) << "HEAD has no body: " << r;
  // A query string is not part of the path.
  r = Exchange(*s, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "200 OK");
  EXPECT_EQ(renders.load(), 3);
}

TEST(MetricsServer, KeepAliveServesSeveralScrapesOnOneConnection) {
  auto s = StartOrDie(Loopback());
  ASSERT_TRUE(s);
  const int fd = Connect(s->address(), s->port());
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string r = ReadUntilClosed(fd, 5000ms, kBody);
    EXPECT_EQ(StatusLine(r), "200 OK") << "scrape " << i << " on the same connection: " << r;
  }
  close(fd);
}

TEST(MetricsServer, BadRequestsGetClearErrors) {
  std::atomic<int> renders{0};
  auto s = StartOrDie(Loopback(), &renders);
  ASSERT_TRUE(s);
  std::string r = Exchange(*s, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "404 Not Found");
  EXPECT_NE(r.find("nvmpath serves only /metrics"), std::string::npos) << r;
  r = Exchange(
      *s, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  EXPECT_EQ(StatusLine(r), "405 Method Not Allowed");
  EXPECT_NE(r.find("Allow: GET, HEAD\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("use GET or HEAD"), std::string::npos) << r;
  r = Exchange(*s, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "405 Method Not Allowed");
  // A header line without a colon; an HTTP version nobody speaks.
  r = Exchange(*s, "GET /metrics HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "400 Bad Request");
  r = Exchange(*s, "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "505 HTTP Version Not Supported");
  // 64 KiB of headers, past request_bytes_max (16 KiB).
  std::string huge = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 64; ++i)
    huge += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'a') + "\r\n";
  r = Exchange(*s, huge + "\r\n");
  EXPECT_EQ(StatusLine(r), "431 Request Header Fields Too Large") << StatusLine(r);
  // A 32 KiB request line.
  r = Exchange(*s, "GET /metrics?" + std::string(32 << 10, 'q') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "414 URI Too Long") << StatusLine(r);
  EXPECT_EQ(renders.load(), 0) << "no bad request reached the metrics";
}

TEST(MetricsServer, TricklingHeadersAreCutOffAtTheDeadline) {
  MetricsServerOptions o = Loopback();
  o.request_deadline = 500ms;
  auto s = StartOrDie(o);
  ASSERT_TRUE(s);
  const int fd = Connect(s->address(), s->port());
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
  // One header byte every 100 ms: never idle for the idle timeout, yet never done.
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {
    std::this_thread::sleep_for(100ms);
    if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) closed = true;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) {
      char c;
      if (recv(fd, &c, 1, 0) <= 0) closed = true;
    }
  }
  const auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_TRUE(closed) << "a trickling client was never cut off";
  EXPECT_LT(took, 3s);
  // The server still answers.
  EXPECT_EQ(StatusLine(Exchange(*s, "GET /metrics HTTP/1.0\r\n\r\n")), "200 OK");
}

TEST(MetricsServer, ConnectionsPastTheLimitAreRefused) {
  MetricsServerOptions o = Loopback();
  o.connections_max = 2;
  auto s = StartOrDie(o);
  ASSERT_TRUE(s);
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(Connect(s->address(), s->port()));
    SendAll(held.back(), "GET /metrics HTTP/1.1\r\nHost: x\r\n");  // incomplete: held open
  }
  std::this_thread::sleep_for(200ms);
  const int extra = Connect(s->address(), s->port());
  ASSERT_GE(extra, 0);  // the kernel accepts; the server closes it at once
  SendAll(extra, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(ReadUntilClosed(extra, 2000ms), "") << "a connection past the limit was served";
  close(extra);
  for (int fd : held) close(fd);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(StatusLine(Exchange(*s, "GET /metrics HTTP/1.0\r\n\r\n")), "200 OK");
}

TEST(MetricsServer, Ipv6AndHostNamesBind) {
  MetricsServerOptions o;
  o.host = "::1";
  auto s6 = MetricsServer::Start(o, [] { return std::string(kBody); });
  if (!s6.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s6.status().ToString();
  EXPECT_EQ((*s6)->address_port(), "[::1]:" + std::to_string((*s6)->port()));
  EXPECT_EQ(StatusLine(Exchange(**s6, "GET /metrics HTTP/1.0\r\n\r\n")), "200 OK");
  o.host = "localhost";
  auto named = MetricsServer::Start(o, [] { return std::string(kBody); });
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(StatusLine(Exchange(**named, "GET /metrics HTTP/1.0\r\n\r\n")), "200 OK");
}

TEST(MetricsServer, StartErrorsNameTheProblem) {
  auto first = StartOrDie(Loopback());
  ASSERT_TRUE(first);
  MetricsServerOptions o = Loopback();
  o.port = first->port();
  auto busy = MetricsServer::Start(o, [] { return std::string(); });
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.status().message().find("127.0.0.1:" + std::to_string(o.port)), std::string::npos)
      << busy.status().ToString();
  EXPECT_NE(busy.status().message().find("in use"), std::string::npos) << busy.status().ToString();
  o.host = "no-such-host.invalid";
  auto unknown = MetricsServer::Start(o, [] { return std::string(); });
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no-such-host.invalid"), std::string::npos)
      << unknown.status().ToString();
}

TEST(MetricsServer, StopClosesTheListener) {
  auto s = StartOrDie(Loopback());
  ASSERT_TRUE(s);
  const uint16_t port = s->port();
  s->Stop();
  s->Stop();  // idempotent
  EXPECT_LT(Connect("127.0.0.1", port), 0);
}

}  // namespace
}  // namespace nvmpath::exports
