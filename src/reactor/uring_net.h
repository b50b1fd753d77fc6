// TCP on reactor::Uring: streams (UringStreamCore + the UringStream handle), listeners and
// connect.
//
// A stream's state lives in a UringStreamCore shared between the user's Stream handle and the
// operations in flight (receive, send; each a UringOp member of the core holding a reference to
// it while in flight), so the handle can be destroyed at any time. Receives land in one
// kRecvBufferSize buffer per stream and are handed to on_receive in place; the next receive is
// armed after the callback returns. Send() copies into kBlockSize blocks, reused once sent; at the
// end of the loop turn all queued blocks leave in one sendmsg (one iovec per block), short sends
// resubmit the rest.
// Thread: the owning Uring's loop thread.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <memory>
#include <string>
#include <vector>

#include "reactor/reactor.h"
#include "reactor/uring.h"
#include "reactor/uring_op.h"

namespace nvmpath::reactor {

class UringStreamCore final : public UringHandle,
                              public std::enable_shared_from_this<UringStreamCore> {
 public:
  static constexpr size_t kRecvBufferSize = 128 << 10;
  static constexpr size_t kBlockSize = 64 << 10;
  // Sent blocks kept for reuse per stream: 1 MiB, a turn's worth of 128 KiB reads at QD8.
  static constexpr size_t kSpareBlocksMax = 16;

  // Takes ownership of the connected socket `fd`.
  UringStreamCore(Uring* loop, int fd, std::string description);
  ~UringStreamCore();

  void SetHandlers(Stream::OnReceive on_receive, Stream::OnClose on_close);
  // Gives the socket up so another loop can adopt it. Errors: kInvalidArgument once handlers
  // were set or bytes were queued (a receive or send may be in flight on this loop).
  Result<int> ReleaseFd();
  void Send(std::span<const uint8_t> bytes);
  void Close();
  bool is_open() const { return state_ == State::kOpen; }
  const std::string& description() const { return description_; }
  std::string local_address() const;

  // Called by the loop at the end of the turn in which bytes were queued.
  void Flush();
  void Abort() override;

 private:
  enum class State : uint8_t { kOpen, kEnded, kClosedByUser };

  class RecvOp final : public UringOp {
   public:
    explicit RecvOp(UringStreamCore* core) : core_(core) {}
    void Complete(int res, bool discard) override;
    std::shared_ptr<UringStreamCore> keep_alive;

   private:
    UringStreamCore* core_;
  };
  class SendOp final : public UringOp {
   public:
    explicit SendOp(UringStreamCore* core) : core_(core) {}
    void Complete(int res, bool discard) override;
    std::shared_ptr<UringStreamCore> keep_alive;

   private:
    UringStreamCore* core_;
  };

  void ArmRecv();
  void SubmitSend();
  std::vector<uint8_t> TakeBlock();  // an empty block of kBlockSize capacity
  void RecycleSent();                // sending_ -> spare_ (up to kSpareBlocksMax)
  void OnRecv(int res);
  void OnSend(int res);
  // The stream ended (peer close or error): report once, if the user still listens.
  void End(const Status& why);
  void ReleaseHandlers();
  // Closes the socket once nothing is in flight and nothing is left to send.
  void MaybeFinish();

  Uring* const loop_;
  int fd_;
  const std::string description_;
  State state_ = State::kOpen;
  bool handlers_set_ = false;
  int in_callback_ = 0;
  bool release_handlers_ = false;
  bool aborted_ = false;
  Stream::OnReceive on_receive_;
  Stream::OnClose on_close_;

  std::unique_ptr<uint8_t[]> recv_buf_;
  RecvOp recv_op_{this};
  bool recv_in_flight_ = false;

  SendOp send_op_{this};
  bool send_in_flight_ = false;
  bool flush_scheduled_ = false;
  std::vector<std::vector<uint8_t>> pending_;  // queued since the last flush
  std::vector<std::vector<uint8_t>> sending_;  // owned by the sendmsg in flight
  std::vector<std::vector<uint8_t>> spare_;    // sent, empty, ready for reuse
  std::vector<iovec> iov_;
  size_t iov_next_ = 0;  // first iovec not yet fully sent
  msghdr msg_{};
};

class UringListener final : public Listener {
 public:
  static Result<std::unique_ptr<Listener>> Create(Uring* loop, const std::string& address,
                                                  uint16_t port, Reactor::OnAccept on_accept);
  // A Unix-domain stream socket at `path` (port() is 0). A socket file nobody answers on is a
  // leftover of a killed process and is replaced; one a server answers on is kAlreadyExists;
  // any other file there is kAlreadyExists too. The file is removed when the listener goes.
  static Result<std::unique_ptr<Listener>> CreateUnix(Uring* loop, const std::string& path,
                                                      Reactor::OnAccept on_accept);
  ~UringListener() override;
  uint16_t port() const override { return port_; }

  class Core;

 private:
  UringListener(std::shared_ptr<Core> core, uint16_t port, std::string unix_path = {})
      : core_(std::move(core)), port_(port), unix_path_(std::move(unix_path)) {}
  static Result<std::unique_ptr<Listener>> Start(Uring* loop, int fd, const std::string& where,
                                                 const sockaddr* addr, socklen_t len,
                                                 Reactor::OnAccept on_accept,
                                                 std::string unix_path);
  std::shared_ptr<Core> core_;
  const uint16_t port_;
  const std::string unix_path_;
};

// A stream over a connected socket `fd` (taken over), on `loop`.
std::unique_ptr<Stream> MakeUringStream(Uring* loop, int fd);

// Starts an asynchronous connect; on_connect runs on the loop.
void UringConnect(Uring* loop, const std::string& address, uint16_t port,
                  Reactor::OnConnect on_connect);

}  // namespace nvmpath::reactor
