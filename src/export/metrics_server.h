// exports::MetricsServer — the HTTP endpoint Prometheus scrapes: GET (or HEAD) /metrics answers
// the text its Render function returns; anything else gets a clear HTTP error. HTTP itself is
// libmicrohttpd's (Debian's libmicrohttpd-dev): request parsing, keep-alive, HEAD, and 400 for a
// malformed request.
//
// Bounds on what a client can make it hold:
// - connections_max connections at once (more are refused);
// - request_bytes_max for a request's line and headers (past it: 431 or 414);
// - request_deadline: a request's line and headers must have arrived this long after the
//   connection opened or its previous response went out, however slowly the bytes trickle in
//   (a watchdog shuts such a connection down: the slowloris bound); a connection idle that long
//   is closed too.
// A request other than GET/HEAD on /metrics is 405 (with Allow); another path is 404.
//
// The listening address: a numeric IPv4 or IPv6 address or a host name (its addresses are tried
// in getaddrinfo's order and the first that binds is kept); port 0 takes a free port (port()).
//
// Thread: libmicrohttpd serves every connection on one thread of its own and calls Render there,
// one scrape at a time — never on an I/O thread, so Render may wait for them. Start, Stop and the
// destructor on any other thread; Stop returns once no Render runs and will run.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "nvmpath/status.h"

namespace nvmpath::exports {

struct MetricsServerOptions {
  std::string host;  // "127.0.0.1", "::1" (no brackets), "localhost"
  uint16_t port = 0;
  unsigned connections_max = 16;
  size_t request_bytes_max = 16 << 10;
  std::chrono::milliseconds request_deadline{10000};
};

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Binds and starts serving. Errors: the host name does not resolve (kNotFound), no address
  // binds (the bind error of the last one tried, naming the address), libmicrohttpd did not
  // start (kInternal).
  static Result<std::unique_ptr<MetricsServer>> Start(const MetricsServerOptions& options,
                                                      Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The numeric address bound and its port ("[::1]:9100" form in address_port()).
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }
  std::string address_port() const;

  // Stops serving: open connections are closed. Idempotent.
  void Stop();

  class Impl;  // the libmicrohttpd daemon and the watchdog (metrics_server.cc)

 private:
  MetricsServer() = default;
  std::unique_ptr<Impl> impl_;
  std::string address_;
  uint16_t port_ = 0;
};

}  // namespace nvmpath::exports
