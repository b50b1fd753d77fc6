#include "control/rpc_client.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control/json_fields.h"
#include "control/rpc.h"

namespace nvmpath::control {
namespace {

// Closes the descriptor on every return path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Code CodeFromName(std::string_view name) {
  for (int c = static_cast<int>(Code::kOk); c <= static_cast<int>(Code::kInternal); ++c) {
    if (CodeName(static_cast<Code>(c)) == name) return static_cast<Code>(c);
  }
  return Code::kInternal;
}

Status ErrorFromResponse(const Json& error) {
  std::string message = "the server returned an error without a message";
  if (const Json* m = error.is_object() ? Member(error, "message") : nullptr; m && m->is_string()) {
    message = m->get<std::string>();
  }
  int code = 0;
  if (const Json* c = error.is_object() ? Member(error, "code") : nullptr;
      c && c->is_number_integer()) {
    code = c->get<int>();
  }
  if (code <= -32600 && code >= -32700) return InvalidArgument(message);
  Code status = Code::kInternal;
  if (const Json* data = error.is_object() ? Member(error, "data") : nullptr;
      data && data->is_object()) {
    if (const Json* s = Member(*data, "status"); s && s->is_string()) {
      status = CodeFromName(s->get<std::string>());
    }
  }
  // The message keeps its "<code name>: " prefix ("not found: namespace 9 in ..."): it is what
  // tells the user which kind of failure a terse target message is.
  return Status(status == Code::kOk ? Code::kInternal : status, message);
}

}  // namespace

Result<Json> RpcCall(const std::string& socket_path, const std::string& method, const Json& params,
                     Duration timeout, std::string_view server) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument(
        fmt::format("control socket path \"{}\" is empty or longer than {} bytes", socket_path,
                    sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoStatus("socket", errno);
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Unavailable(fmt::format("cannot connect to {}: {} (is `{}` running?)", socket_path,
                                   std::strerror(errno), server));
  }
  std::string request;
  try {
    request =
        Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", params}, {"id", 1}}.dump() + "\n";
  } catch (const Json::exception& e) {
    return InvalidArgument(fmt::format("cannot encode the request: {}", e.what()));
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto wait = [&](short events) -> Status {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return Status(Code::kTimedOut, fmt::format("{}: no response within {:.3g} s", socket_path,
                                                   ToSeconds(timeout)));
      }
      pollfd p{fd.get(), events, 0};
      int rc = poll(&p, 1, static_cast<int>(left.count()));
      if (rc > 0) return Status::Ok();
      if (rc < 0 && errno != EINTR) return ErrnoStatus("poll", errno);
    }
  };
  for (size_t sent = 0; sent < request.size();) {
    NVMP_RETURN_IF_ERROR(wait(POLLOUT));
    ssize_t n =
        send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoStatus(fmt::format("send to {}", socket_path), errno);
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[64 * 1024];
  size_t nl;
  while ((nl = response.find('\n')) == std::string::npos) {
    NVMP_RETURN_IF_ERROR(wait(POLLIN));
    ssize_t n = recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoStatus(fmt::format("receive from {}", socket_path), errno);
    if (n == 0) {
      return ProtocolError(fmt::format("{} closed the connection without a response", socket_path));
    }
    response.append(buf, static_cast<size_t>(n));
  }
  response.resize(nl);
  auto j = ParseJsonText(response);
  if (!j.ok()) return ProtocolError("the response is not JSON: " + j.status().message());
  if (!j->is_object()) return ProtocolError("the response is not a JSON-RPC response object");
  if (const Json* error = Member(*j, "error")) return ErrorFromResponse(*error);
  const Json* result = Member(*j, "result");
  if (result == nullptr) return ProtocolError("the response has neither result nor error");
  return *result;
}

}  // namespace nvmpath::control
