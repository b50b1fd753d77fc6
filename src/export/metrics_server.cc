#include "export/metrics_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdarg>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "base/assert.h"
#include "base/log.h"
#include "reactor/host_names.h"

namespace nvmpath::exports {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kMetricsPath = "/metrics";
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr int kListenBacklog = 16;

bool IsV6(const std::string& numeric) { return numeric.find(':') != std::string::npos; }

std::string Bracketed(const std::string& numeric, uint16_t port) {
  return IsV6(numeric) ? fmt::format("[{}]:{}", numeric, port)
                       : fmt::format("{}:{}", numeric, port);
}

// A listening TCP socket on a numeric address. Errors name the address.
Result<int> ListenOn(const std::string& numeric, uint16_t port) {
  const std::string where = "metrics: listen on " + Bracketed(numeric, port);
  sockaddr_storage ss{};
  socklen_t len = 0;
  const bool v6 = IsV6(numeric);
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, numeric.c_str(), &a->sin6_addr) != 1) {
      return InvalidArgument(where + ": not a numeric IPv6 address");
    }
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, numeric.c_str(), &a->sin_addr) != 1) {
      return InvalidArgument(where + ": not a numeric IPv4 address");
    }
    len = sizeof(sockaddr_in);
  }
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(where, errno);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, kListenBacklog) != 0) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(where, err);
  }
  return fd;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

class MetricsServer::Impl {
 public:
  Impl(const MetricsServerOptions& options, Render render)
      : options_(options), render_(std::move(render)) {}

  // Starts libmicrohttpd on the listening socket `fd` (taken over) and the watchdog.
  Status Start(int fd, bool v6) {
    // epoll (MHD_USE_AUTO): select() would fail on a descriptor past FD_SETSIZE in a busy host.
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (v6) flags |= MHD_USE_IPv6;
    const unsigned idle_s = static_cast<unsigned>(std::max<int64_t>(
        1, std::chrono::ceil<std::chrono::seconds>(options_.request_deadline).count()));
    daemon_ = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &Impl::OnRequest, this, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, options_.connections_max, MHD_OPTION_CONNECTION_TIMEOUT,
        idle_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, options_.request_bytes_max,
        MHD_OPTION_NOTIFY_CONNECTION, &Impl::OnConnection, this, MHD_OPTION_NOTIFY_COMPLETED,
        &Impl::OnCompleted, this, MHD_OPTION_EXTERNAL_LOGGER, &Impl::OnLog, this, MHD_OPTION_END);
    if (daemon_ == nullptr) {
      // Not closed here: libmicrohttpd may have closed it on its way out, and closing a number
      // another thread reused would be worse than leaking one socket on a failed start.
      return Internal("metrics: libmicrohttpd did not start (nvmpath host -v logs why)");
    }
    watchdog_ = std::thread([this] { Watch(); });
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    // Joins libmicrohttpd's thread (so no Render runs after this) and closes the listening socket
    // and every connection.
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }

  ~Impl() { Stop(); }

 private:
  // A connection's deadline for its next request's line and headers; none while a request is
  // being answered.
  struct Conn {
    int fd = -1;
    std::optional<Clock::time_point> deadline;
  };

  static MHD_Result Respond(MHD_Connection* c, unsigned status, const std::string& body,
                            const char* allow = nullptr) {
    MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                      MHD_RESPMEM_MUST_COPY);
    if (r == nullptr) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            status == MHD_HTTP_OK ? kContentType : "text/plain; charset=utf-8");
    if (allow != nullptr) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    const MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
  }

  // libmicrohttpd calls this once when the line and headers are in, then again for each piece of
  // body and once more at the end of the request; a response queued on that last call keeps the
  // connection open for the next scrape.
  static MHD_Result OnRequest(void* cls, MHD_Connection* c, const char* url, const char* method,
                              const char* /*version*/, const char* /*upload_data*/,
                              size_t* upload_data_size, void** request_context) {
    auto* self = static_cast<Impl*>(cls);
    const std::string_view m(method);
    if (*request_context == nullptr) {
      // The line and headers are in: this request is past the watchdog's deadline.
      *request_context = self;
      self->SetDeadline(c, std::nullopt);
      if (m != MHD_HTTP_METHOD_GET && m != MHD_HTTP_METHOD_HEAD) {
        // At once, without reading a body (the connection then closes).
        return Respond(
            c, MHD_HTTP_METHOD_NOT_ALLOWED,
            fmt::format("405 method not allowed: {} (use GET or HEAD)\n", m.substr(0, 32)),
            "GET, HEAD");
      }
      return MHD_YES;
    }
    if (*upload_data_size != 0) {  // a body on a GET means nothing: dropped as it comes
      *upload_data_size = 0;
      return MHD_YES;
    }
    const std::string_view path(url);
    if (path != kMetricsPath) {
      return Respond(c, MHD_HTTP_NOT_FOUND,
                     fmt::format("404 not found: {} (nvmpath serves only {})\n",
                                 path.substr(0, 200), kMetricsPath));
    }
    return Respond(c, MHD_HTTP_OK, self->render_());
  }

  static void OnCompleted(void* cls, MHD_Connection* c, void** /*request_context*/,
                          MHD_RequestTerminationCode /*why*/) {
    auto* self = static_cast<Impl*>(cls);
    self->SetDeadline(c, Clock::now() + self->options_.request_deadline);
  }

  static void OnConnection(void* cls, MHD_Connection* c, void** /*socket_context*/,
                           MHD_ConnectionNotificationCode what) {
    auto* self = static_cast<Impl*>(cls);
    std::lock_guard<std::mutex> lock(self->mu_);
    if (what == MHD_CONNECTION_NOTIFY_STARTED) {
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
      Conn& conn = self->conns_[c];
      conn.fd = info != nullptr ? info->connect_fd : -1;
      conn.deadline = Clock::now() + self->options_.request_deadline;
      self->cv_.notify_all();
    } else {
      // Called before libmicrohttpd closes the socket, so the watchdog never touches a closed
      // (or reused) descriptor.
      self->conns_.erase(c);
    }
  }

  static void OnLog(void* /*cls*/, const char* format, va_list args) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, format, args);
    std::string_view text(buf);
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    NVMP_LOG_DEBUG("metrics: {}", text);
  }

  void SetDeadline(MHD_Connection* c, std::optional<Clock::time_point> deadline) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = conns_.find(c);
    if (it == conns_.end()) return;
    it->second.deadline = deadline;
    cv_.notify_all();
  }

  // Shuts down every connection past its deadline (libmicrohttpd then sees the end of the stream
  // and closes it), sleeping until the next deadline or a change.
  void Watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      const auto now = Clock::now();
      std::optional<Clock::time_point> next;
      for (auto& [c, conn] : conns_) {
        if (!conn.deadline) continue;
        if (*conn.deadline <= now) {
          NVMP_LOG_DEBUG("metrics: connection sent no complete request within {} ms: closed",
                         options_.request_deadline.count());
          if (conn.fd >= 0) shutdown(conn.fd, SHUT_RDWR);
          conn.deadline.reset();
          continue;
        }
        if (!next || *conn.deadline < *next) next = conn.deadline;
      }
      if (next) {
        cv_.wait_until(lock, *next);
      } else {
        cv_.wait(lock);
      }
    }
  }

  const MetricsServerOptions options_;
  const Render render_;
  MHD_Daemon* daemon_ = nullptr;
  std::thread watchdog_;
  std::mutex mu_;  // guards conns_ and stopping_ (the control path: never the I/O threads)
  std::condition_variable cv_;
  std::map<MHD_Connection*, Conn> conns_;
  bool stopping_ = false;
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const MetricsServerOptions& options,
                                                            Render render) {
  NVMP_ASSERT(render != nullptr);
  if (options.connections_max == 0) return InvalidArgument("metrics: connections_max is 0");
  auto addresses = reactor::ResolveHostName(options.host);
  if (!addresses.ok()) return addresses.status().WithContext("metrics");
  Status last = NotFound(fmt::format("metrics: host name '{}' has no address", options.host));
  for (const std::string& a : *addresses) {
    auto fd = ListenOn(a, options.port);
    if (!fd.ok()) {
      last = fd.status();
      continue;
    }
    std::unique_ptr<MetricsServer> s(new MetricsServer());
    s->address_ = a;
    s->port_ = BoundPort(*fd);
    s->impl_ = std::make_unique<Impl>(options, std::move(render));
    NVMP_RETURN_IF_ERROR(s->impl_->Start(*fd, IsV6(a)));
    return s;
  }
  return last;
}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Stop() {
  if (impl_) impl_->Stop();
}

std::string MetricsServer::address_port() const { return Bracketed(address_, port_); }

}  // namespace nvmpath::exports
