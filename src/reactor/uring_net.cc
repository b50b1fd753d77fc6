#include "reactor/uring_net.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

#include "base/assert.h"
#include "base/log.h"

namespace nvmpath::reactor {
namespace {

Status ParseAddress(const std::string& address, uint16_t port, sockaddr_storage* out,
                    socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
    return Status::Ok();
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
    return Status::Ok();
  }
  return InvalidArgument("not a numeric IP address: '" + address + "'");
}

std::string FormatAddress(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &v4.sin_addr, buf, sizeof(buf));
    return fmt::format("{}:{}", buf, ntohs(v4.sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, buf, sizeof(buf));
    return fmt::format("[{}]:{}", buf, ntohs(v6.sin6_port));
  }
  return "?";
}

std::string FormatUnix(const sockaddr_storage& a, socklen_t len) {
  const auto& un = reinterpret_cast<const sockaddr_un&>(a);
  const size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
  std::string path(un.sun_path, strnlen(un.sun_path, std::min(n, sizeof(un.sun_path))));
  return path.empty() ? "unix" : "unix:" + path;
}

std::string LocalName(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  if (a.ss_family == AF_UNIX) return FormatUnix(a, len);
  return FormatAddress(a);
}

std::string PeerName(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  if (a.ss_family == AF_UNIX) return "unix client";
  return FormatAddress(a);
}

// Small PDUs must leave at once (no Nagle); cubic because bbr's pacing caps a single loopback
// stream (shared/reference/machine-performance.md). Both are best effort.
void TuneSocket(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  static const char kCubic[] = "cubic";
  ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, kCubic, sizeof(kCubic) - 1);
}

class UringStream final : public Stream {
 public:
  explicit UringStream(std::shared_ptr<UringStreamCore> core) : core_(std::move(core)) {}
  ~UringStream() override { core_->Close(); }
  void SetHandlers(OnReceive on_receive, OnClose on_close) override {
    core_->SetHandlers(std::move(on_receive), std::move(on_close));
  }
  void Send(std::span<const uint8_t> bytes) override { core_->Send(bytes); }
  using Stream::Send;
  void Close() override { core_->Close(); }
  bool is_open() const override { return core_->is_open(); }
  std::string description() const override { return core_->description(); }
  std::string local_address() const override { return core_->local_address(); }
  Result<int> ReleaseFd() { return core_->ReleaseFd(); }

 private:
  std::shared_ptr<UringStreamCore> core_;
};

std::unique_ptr<Stream> MakeStream(Uring* loop, int fd, std::string description) {
  return std::make_unique<UringStream>(
      std::make_shared<UringStreamCore>(loop, fd, std::move(description)));
}

}  // namespace

std::unique_ptr<Stream> MakeUringStream(Uring* loop, int fd) {
  return MakeStream(loop, fd, LocalName(fd) + " <- " + PeerName(fd));
}

Result<int> Uring::ReleaseSocket(std::unique_ptr<Stream> stream) {
  auto* s = dynamic_cast<UringStream*>(stream.get());
  if (s == nullptr) return InvalidArgument("ReleaseSocket: not a stream of reactor::Uring");
  return s->ReleaseFd();
}

// ---- UringStreamCore ----

UringStreamCore::UringStreamCore(Uring* loop, int fd, std::string description)
    : loop_(loop),
      fd_(fd),
      description_(std::move(description)),
      recv_buf_(new uint8_t[kRecvBufferSize]) {
  loop_->Register(this);
}

std::string UringStreamCore::local_address() const {
  if (fd_ < 0) return "";
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr = ss.ss_family == AF_INET6
                         ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr)
                         : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr);
  if (::inet_ntop(ss.ss_family, addr, text, sizeof(text)) == nullptr) return "";
  return text;
}

UringStreamCore::~UringStreamCore() {
  NVMP_ASSERT(!recv_in_flight_ && !send_in_flight_, "stream core freed with I/O in flight");
  loop_->Unregister(this);
  if (fd_ >= 0) ::close(fd_);
}

void UringStreamCore::SetHandlers(Stream::OnReceive on_receive, Stream::OnClose on_close) {
  if (state_ == State::kClosedByUser) return;
  NVMP_ASSERT(on_receive != nullptr && on_close != nullptr);
  on_receive_ = std::move(on_receive);
  on_close_ = std::move(on_close);
  handlers_set_ = true;
  release_handlers_ = false;
  ArmRecv();
}

Result<int> UringStreamCore::ReleaseFd() {
  if (handlers_set_ || recv_in_flight_ || send_in_flight_ || !pending_.empty() || fd_ < 0 ||
      state_ != State::kOpen) {
    return InvalidArgument("stream " + description_ + " is in use on its loop: it cannot move");
  }
  const int fd = fd_;
  fd_ = -1;
  state_ = State::kClosedByUser;
  return fd;
}

void UringStreamCore::ArmRecv() {
  if (recv_in_flight_ || state_ != State::kOpen || aborted_ || !handlers_set_) return;
  io_uring_sqe* sqe = loop_->GetSqe();
  io_uring_prep_recv(sqe, fd_, recv_buf_.get(), kRecvBufferSize, 0);
  recv_op_.keep_alive = shared_from_this();
  loop_->Track(sqe, &recv_op_);
  recv_in_flight_ = true;
}

void UringStreamCore::RecvOp::Complete(int res, bool discard) {
  std::shared_ptr<UringStreamCore> self = std::move(keep_alive);
  core_->recv_in_flight_ = false;
  if (discard) {
    core_->MaybeFinish();
    return;
  }
  core_->OnRecv(res);
}

void UringStreamCore::OnRecv(int res) {
  if (state_ != State::kOpen || aborted_) {
    MaybeFinish();
    return;
  }
  if (res > 0) {
    ++in_callback_;
    on_receive_(std::span<const uint8_t>(recv_buf_.get(), static_cast<size_t>(res)));
    --in_callback_;
    if (release_handlers_ && in_callback_ == 0) ReleaseHandlers();
    if (state_ == State::kOpen) {
      ArmRecv();
    } else {
      MaybeFinish();
    }
    return;
  }
  if (res == 0) {
    End(Status::Ok());
  } else if (res == -EINTR || res == -EAGAIN) {
    ArmRecv();
  } else {
    End(ErrnoStatus("recv " + description_, -res));
  }
}

void UringStreamCore::Send(std::span<const uint8_t> bytes) {
  if (state_ != State::kOpen || bytes.empty()) return;
  // Fill the last block, then whole blocks: every block is kBlockSize, so a sent one can be
  // reused for any later send (a big send in a block of its own would be a fresh mmap and page
  // faults each time, above glibc's mmap threshold).
  while (!bytes.empty()) {
    if (pending_.empty() || pending_.back().size() == kBlockSize) pending_.push_back(TakeBlock());
    std::vector<uint8_t>& block = pending_.back();
    const size_t n = std::min(bytes.size(), kBlockSize - block.size());
    block.insert(block.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    bytes = bytes.subspan(n);
  }
  if (!flush_scheduled_ && !send_in_flight_) {
    flush_scheduled_ = true;
    loop_->ScheduleFlush(shared_from_this());
  }
}

std::vector<uint8_t> UringStreamCore::TakeBlock() {
  if (spare_.empty()) {
    std::vector<uint8_t> block;
    block.reserve(kBlockSize);
    return block;
  }
  std::vector<uint8_t> block = std::move(spare_.back());
  spare_.pop_back();
  NVMP_ASSERT(block.empty() && block.capacity() >= kBlockSize);
  return block;
}

void UringStreamCore::RecycleSent() {
  for (auto& block : sending_) {
    if (spare_.size() >= kSpareBlocksMax) break;
    block.clear();
    spare_.push_back(std::move(block));
  }
  sending_.clear();
}

void UringStreamCore::Flush() {
  flush_scheduled_ = false;
  if (send_in_flight_ || pending_.empty()) return;
  if (aborted_ || state_ == State::kEnded || fd_ < 0) {
    pending_.clear();
    MaybeFinish();
    return;
  }
  sending_.swap(pending_);
  pending_.clear();
  iov_.clear();
  iov_.reserve(sending_.size());
  for (auto& block : sending_) iov_.push_back(iovec{block.data(), block.size()});
  iov_next_ = 0;
  SubmitSend();
}

void UringStreamCore::SubmitSend() {
  NVMP_ASSERT(iov_next_ < iov_.size() && !send_in_flight_);
  msg_ = msghdr{};
  msg_.msg_iov = iov_.data() + iov_next_;
  msg_.msg_iovlen = std::min<size_t>(iov_.size() - iov_next_, IOV_MAX);
  io_uring_sqe* sqe = loop_->GetSqe();
  io_uring_prep_sendmsg(sqe, fd_, &msg_, MSG_NOSIGNAL);
  send_op_.keep_alive = shared_from_this();
  loop_->Track(sqe, &send_op_);
  send_in_flight_ = true;
  loop_->CountSend();
}

void UringStreamCore::SendOp::Complete(int res, bool discard) {
  std::shared_ptr<UringStreamCore> self = std::move(keep_alive);
  core_->send_in_flight_ = false;
  if (discard) {
    core_->sending_.clear();
    core_->iov_.clear();
    core_->MaybeFinish();
    return;
  }
  core_->OnSend(res);
}

void UringStreamCore::OnSend(int res) {
  if (res == -EINTR || res == -EAGAIN) {
    SubmitSend();
    return;
  }
  if (res < 0 || aborted_) {
    sending_.clear();
    iov_.clear();
    pending_.clear();
    if (res < 0) End(ErrnoStatus("send " + description_, -res));
    MaybeFinish();
    return;
  }
  // Short send: skip what went out and send the rest.
  auto n = static_cast<size_t>(res);
  while (n > 0 && iov_next_ < iov_.size()) {
    iovec& v = iov_[iov_next_];
    if (n >= v.iov_len) {
      n -= v.iov_len;
      ++iov_next_;
    } else {
      v.iov_base = static_cast<uint8_t*>(v.iov_base) + n;
      v.iov_len -= n;
      n = 0;
    }
  }
  if (iov_next_ < iov_.size()) {
    SubmitSend();
    return;
  }
  RecycleSent();
  iov_.clear();
  if (!pending_.empty() && !flush_scheduled_) {
    flush_scheduled_ = true;
    loop_->ScheduleFlush(shared_from_this());
  }
  MaybeFinish();
}

void UringStreamCore::End(const Status& why) {
  if (state_ != State::kOpen) return;
  state_ = State::kEnded;
  pending_.clear();
  if (handlers_set_) {
    handlers_set_ = false;
    ++in_callback_;
    on_close_(why);
    --in_callback_;
    ReleaseHandlers();
  }
  MaybeFinish();
}

void UringStreamCore::ReleaseHandlers() {
  if (in_callback_ > 0) {
    release_handlers_ = true;
    return;
  }
  release_handlers_ = false;
  on_receive_ = nullptr;
  on_close_ = nullptr;
}

void UringStreamCore::Close() {
  if (state_ == State::kClosedByUser) return;
  state_ = State::kClosedByUser;
  handlers_set_ = false;
  ReleaseHandlers();
  if (recv_in_flight_) {
    io_uring_sqe* sqe = loop_->GetSqe();
    io_uring_prep_cancel(sqe, &recv_op_, 0);
    loop_->Untracked(sqe);
  }
  MaybeFinish();  // queued bytes still go out first (Flush / OnSend finish the job)
}

void UringStreamCore::Abort() {
  aborted_ = true;
  state_ = State::kClosedByUser;
  handlers_set_ = false;
  ReleaseHandlers();
  pending_.clear();
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes the receive and send in flight
  if (recv_in_flight_) {
    io_uring_sqe* sqe = loop_->GetSqe();
    io_uring_prep_cancel(sqe, &recv_op_, 0);
    loop_->Untracked(sqe);
  }
  MaybeFinish();
}

void UringStreamCore::MaybeFinish() {
  if (fd_ < 0 || state_ == State::kOpen || recv_in_flight_ || send_in_flight_) return;
  if (!pending_.empty() || flush_scheduled_) return;  // a flush is still due this turn
  ::close(fd_);  // an orderly FIN: everything queued has been sent
  fd_ = -1;
}

// ---- UringListener ----

class UringListener::Core final : public UringHandle,
                                  public UringOp,
                                  public std::enable_shared_from_this<Core> {
 public:
  Core(Uring* loop, int fd, Reactor::OnAccept on_accept)
      : loop_(loop), fd_(fd), on_accept_(std::move(on_accept)) {
    loop_->Register(this);
  }
  ~Core() {
    NVMP_ASSERT(!in_flight_);
    loop_->Unregister(this);
    if (fd_ >= 0) ::close(fd_);
  }

  void Arm() {
    if (closed_ || in_flight_) return;
    io_uring_sqe* sqe = loop_->GetSqe();
    io_uring_prep_accept(sqe, fd_, nullptr, nullptr, SOCK_CLOEXEC);
    keep_alive_ = shared_from_this();
    loop_->Track(sqe, this);
    in_flight_ = true;
  }

  void Complete(int res, bool discard) override {
    std::shared_ptr<Core> self = std::move(keep_alive_);
    in_flight_ = false;
    if (res >= 0) {
      if (discard || closed_) {
        ::close(res);
      } else {
        TuneSocket(res);
        auto stream = MakeStream(loop_, res, LocalName(res) + " <- " + PeerName(res));
        Reactor::OnAccept cb = on_accept_;  // the callback may destroy the listener
        cb(std::move(stream));
      }
    } else if (!closed_ && !discard) {
      NVMP_LOG_WARN("accept on {}: {}", LocalName(fd_), std::strerror(-res));
      // Back off on errors such as EMFILE instead of spinning.
      std::weak_ptr<Core> weak = self;
      loop_->AddTimer(std::chrono::milliseconds(10), [weak] {
        if (auto c = weak.lock()) c->Arm();
      });
      return;
    }
    if (closed_ || discard) {
      MaybeFinish();
    } else {
      Arm();
    }
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    on_accept_ = nullptr;
    // Stop listening now (a connect right after must be refused); shutdown also ends the
    // accept in flight.
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    if (in_flight_) {
      io_uring_sqe* sqe = loop_->GetSqe();
      io_uring_prep_cancel(sqe, static_cast<UringOp*>(this), 0);
      loop_->Untracked(sqe);
    }
    MaybeFinish();
  }
  void Abort() override { Close(); }

 private:
  void MaybeFinish() {
    if (in_flight_ || fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
  }

  Uring* const loop_;
  int fd_;
  Reactor::OnAccept on_accept_;
  bool closed_ = false;
  bool in_flight_ = false;
  std::shared_ptr<Core> keep_alive_;
};

Result<std::unique_ptr<Listener>> UringListener::Create(Uring* loop, const std::string& address,
                                                        uint16_t port,
                                                        Reactor::OnAccept on_accept) {
  NVMP_ASSERT(on_accept != nullptr);
  sockaddr_storage addr{};
  socklen_t len = 0;
  NVMP_RETURN_IF_ERROR(ParseAddress(address, port, &addr, &len));
  const std::string where = fmt::format("{}:{}", address, port);
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket for " + where, errno);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  return Start(loop, fd, where, reinterpret_cast<sockaddr*>(&addr), len, std::move(on_accept), {});
}

Result<std::unique_ptr<Listener>> UringListener::CreateUnix(Uring* loop, const std::string& path,
                                                            Reactor::OnAccept on_accept) {
  NVMP_ASSERT(on_accept != nullptr);
  const std::string where = "unix:" + path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument(fmt::format("{}: a socket path must have 1 to {} bytes", where,
                                       sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status(Code::kAlreadyExists, where + ": a file that is not a socket is there");
    }
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool answered =
        probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    if (probe >= 0) ::close(probe);
    if (answered) {
      return Status(Code::kAlreadyExists, where + ": another server is listening there");
    }
    ::unlink(path.c_str());  // left behind by a process that did not stop cleanly
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket for " + where, errno);
  return Start(loop, fd, where, reinterpret_cast<sockaddr*>(&addr), len, std::move(on_accept),
               path);
}

Result<std::unique_ptr<Listener>> UringListener::Start(Uring* loop, int fd, const std::string& where,
                                                       const sockaddr* addr, socklen_t len,
                                                       Reactor::OnAccept on_accept,
                                                       std::string unix_path) {
  if (::bind(fd, addr, len) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus("bind " + where, err);
  }
  if (::listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus("listen " + where, err);
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  uint16_t bound_port = 0;
  if (bound.ss_family == AF_INET6) {
    bound_port = ntohs(reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
  } else if (bound.ss_family == AF_INET) {
    bound_port = ntohs(reinterpret_cast<sockaddr_in&>(bound).sin_port);
  }
  auto core = std::make_shared<Core>(loop, fd, std::move(on_accept));
  core->Arm();
  return std::unique_ptr<Listener>(
      new UringListener(std::move(core), bound_port, std::move(unix_path)));
}

UringListener::~UringListener() {
  core_->Close();
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

// ---- Connect ----

namespace {

class ConnectOp final : public UringOp, public UringHandle {
 public:
  ConnectOp(Uring* loop, int fd, std::string target, Reactor::OnConnect on_connect)
      : loop_(loop), fd_(fd), target_(std::move(target)), on_connect_(std::move(on_connect)) {
    loop_->Register(this);
  }
  ~ConnectOp() {
    loop_->Unregister(this);
    if (fd_ >= 0) ::close(fd_);
  }

  void Start(const sockaddr_storage& addr, socklen_t len) {
    addr_ = addr;
    io_uring_sqe* sqe = loop_->GetSqe();
    io_uring_prep_connect(sqe, fd_, reinterpret_cast<sockaddr*>(&addr_), len);
    loop_->Track(sqe, this);
  }

  void Complete(int res, bool discard) override {
    std::unique_ptr<ConnectOp> self(this);
    if (discard) return;
    if (res < 0) {
      on_connect_(ErrnoStatus("connect " + target_, -res));
      return;
    }
    const int fd = fd_;
    fd_ = -1;
    on_connect_(MakeStream(loop_, fd, LocalName(fd) + " -> " + PeerName(fd)));
  }

  void Abort() override {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    io_uring_sqe* sqe = loop_->GetSqe();
    io_uring_prep_cancel(sqe, static_cast<UringOp*>(this), 0);
    loop_->Untracked(sqe);
  }

 private:
  Uring* const loop_;
  int fd_;
  const std::string target_;
  Reactor::OnConnect on_connect_;
  sockaddr_storage addr_{};
};

}  // namespace

void UringConnect(Uring* loop, const std::string& address, uint16_t port,
                  Reactor::OnConnect on_connect) {
  NVMP_ASSERT(on_connect != nullptr);
  const std::string target = fmt::format("{}:{}", address, port);
  sockaddr_storage addr{};
  socklen_t len = 0;
  Status st = ParseAddress(address, port, &addr, &len);
  int fd = -1;
  if (st.ok()) {
    fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) st = ErrnoStatus("socket for " + target, errno);
  }
  if (!st.ok()) {
    // Callbacks never run inside the registering call.
    loop->Post([st, cb = std::move(on_connect)] { cb(st); });
    return;
  }
  TuneSocket(fd);
  (new ConnectOp(loop, fd, target, std::move(on_connect)))->Start(addr, len);
}

}  // namespace nvmpath::reactor
