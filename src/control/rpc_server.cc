#include "control/rpc_server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "base/log.h"

namespace nvmpath::control {
namespace {

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return InvalidArgument("control socket: the path is empty");
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument(
        fmt::format("control socket {}: longer than {} bytes", path, sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// A socket file left behind by a server that died is replaced; a live one is not touched.
Status ClearStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return Status::Ok();
  if (!S_ISSOCK(st.st_mode)) {
    return Status(Code::kAlreadyExists,
                  fmt::format("control socket {}: the path exists and is not a socket", path));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int err = errno;
  close(fd);
  if (rc == 0) {
    return Status(Code::kAlreadyExists,
                  fmt::format("control socket {} is in use by a running server", path));
  }
  if (err == ECONNREFUSED && unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(fmt::format("unlink {}", path), errno);
  }
  return Status::Ok();
}

struct Client {
  int fd = -1;
  std::string in;           // bytes of the current, unfinished line(s)
  size_t scanned = 0;       // `in` has no newline before this offset
  std::string out;          // responses not yet sent
  bool discarding = false;  // skipping the rest of an over-long line
  bool closed = false;
};

// Sends what it can without blocking. Returns false if the connection is broken.
bool Flush(Client& c) {
  while (!c.out.empty()) {
    ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    } else {
      return false;
    }
  }
  return true;
}

std::string TooLongLine(size_t max_line_bytes) {
  return RpcErrorResponse(rpc_error::kInvalidRequest,
                          fmt::format("invalid request: the request line is longer than {} bytes",
                                      max_line_bytes),
                          nullptr)
             .dump() +
         "\n";
}

}  // namespace

RpcServer::RpcServer(const RpcDispatcher& dispatcher, RpcServerOptions options)
    : dispatcher_(dispatcher), options_(std::move(options)) {}

RpcServer::~RpcServer() { Stop(); }

Result<std::unique_ptr<RpcServer>> RpcServer::Start(const RpcDispatcher& dispatcher,
                                                    RpcServerOptions options) {
  auto addr = UnixAddress(options.socket_path);
  if (!addr.ok()) return addr.status();
  NVMP_RETURN_IF_ERROR(ClearStaleSocket(options.socket_path, *addr));
  std::unique_ptr<RpcServer> server(new RpcServer(dispatcher, std::move(options)));
  const std::string& path = server->options_.socket_path;
  server->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (server->listen_fd_ < 0) return ErrnoStatus("socket", errno);
  // Only the owner may steer the process (control can delete namespaces and paths): mode 0600,
  // as the docs promise (a socket needs no execute bit).
  mode_t old_mask = umask(0177);
  int rc = bind(server->listen_fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  int err = errno;
  umask(old_mask);
  if (rc != 0) return ErrnoStatus(fmt::format("bind {}", path), err);
  if (listen(server->listen_fd_, 16) != 0) {
    err = errno;
    unlink(path.c_str());
    return ErrnoStatus(fmt::format("listen {}", path), err);
  }
  server->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->wake_fd_ < 0) {
    err = errno;
    unlink(path.c_str());
    return ErrnoStatus("eventfd", err);
  }
  server->thread_ = std::thread([s = server.get()] { s->Loop(); });
  return server;
}

void RpcServer::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t n = write(wake_fd_, &one, sizeof one);
    (void)n;  // eventfd write only fails on counter overflow, which a wakeup does not care about
    thread_.join();
    unlink(options_.socket_path.c_str());
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void RpcServer::Loop() {
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients) {
      fds.push_back({c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      NVMP_LOG_ERROR("control socket: poll: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents != 0) break;  // Stop()

    for (size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      short revents = fds[i + 2].revents;
      if (revents & (POLLIN | POLLHUP | POLLERR)) {
        for (;;) {
          ssize_t n = recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
          if (n > 0) {
            c.in.append(buf.data(), static_cast<size_t>(n));
            // Serve every complete line.
            size_t nl;
            while ((nl = c.in.find('\n', c.scanned)) != std::string::npos) {
              std::string_view line(c.in.data(), nl);
              if (c.discarding) {
                c.discarding = false;  // the rest of the over-long line ends here
              } else if (line.size() > options_.max_line_bytes) {
                c.out += TooLongLine(options_.max_line_bytes);
              } else {
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                if (line.find_first_not_of(" \t") != std::string_view::npos) {
                  std::string response = dispatcher_.HandleLine(line, options_.executor);
                  ++requests_served_;
                  if (!response.empty()) c.out += response + "\n";
                }
              }
              c.in.erase(0, nl + 1);
              c.scanned = 0;
            }
            c.scanned = c.in.size();
            if (c.in.size() > options_.max_line_bytes) {
              if (!c.discarding) c.out += TooLongLine(options_.max_line_bytes);
              c.discarding = true;
              c.in.clear();
              c.scanned = 0;
            } else if (c.discarding) {
              c.in.clear();
              c.scanned = 0;
            }
            if (c.out.size() > options_.max_output_bytes) {
              NVMP_LOG_WARN("control socket: dropping a client that does not read its responses");
              c.closed = true;
              break;
            }
            continue;
          }
          if (n < 0 && errno == EINTR) continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          c.closed = true;  // EOF (a partial line dies with its client) or a broken connection
          break;
        }
      }
      if (!c.closed && !Flush(c)) c.closed = true;
    }
    std::erase_if(clients, [](const Client& c) {
      if (c.closed) close(c.fd);
      return c.closed;
    });

    if (fds[1].revents & POLLIN) {
      for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
            NVMP_LOG_WARN("control socket: accept: {}", std::strerror(errno));
          }
          break;
        }
        if (clients.size() >= options_.max_clients) {
          ++clients_rejected_;
          Client reject{.fd = fd};
          reject.out = RpcErrorResponse(rpc_error::kServerError,
                                        fmt::format("too many control clients (at most {})",
                                                    options_.max_clients),
                                        nullptr)
                           .dump() +
                       "\n";
          (void)Flush(reject);  // best effort: the client is closed either way
          close(fd);
          continue;
        }
        clients.push_back(Client{.fd = fd});
      }
    }
  }
  for (Client& c : clients) close(c.fd);
}

RpcDispatcher::Executor ReactorExecutor(reactor::Reactor& reactor, Duration timeout) {
  return [&reactor, timeout](RpcDispatcher::Call call) -> Result<nlohmann::json> {
    struct Shared {
      std::mutex mu;
      std::condition_variable cv;
      std::optional<Result<nlohmann::json>> result;
    };
    auto shared = std::make_shared<Shared>();
    reactor.Post([shared, call = std::move(call)] {
      Result<nlohmann::json> r = call();
      std::lock_guard lock(shared->mu);
      shared->result.emplace(std::move(r));
      shared->cv.notify_one();
    });
    std::unique_lock lock(shared->mu);
    if (!shared->cv.wait_for(lock, timeout, [&] { return shared->result.has_value(); })) {
      return Status(Code::kTimedOut,
                    fmt::format("the target did not answer within {:.3g} s", ToSeconds(timeout)));
    }
    return std::move(*shared->result);
  };
}

}  // namespace nvmpath::control
