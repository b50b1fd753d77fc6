// reactor::Uring: the io_uring reactor (shared/DESIGN.md "The reactor interface").
//
// One loop turn (RunOnce): submit queued SQEs and wait for a completion, a timer deadline, a
// cross-thread Post (eventfd wakeup) or `max_wait`; then run, in this order, every completion,
// every expired timer, every posted task; finally flush every stream that had bytes queued during
// the turn with ONE sendmsg each (gathered iovec array). Sends queued in one turn therefore leave
// together; sends_issued() counts the sendmsg SQEs so tests can check it.
//
// Every in-flight SQE's user_data is the address of a UringOp (uring_op.h). Stream operations
// are members of a ref-counted stream core that keeps itself alive while any of them is in
// flight, so destroying a Stream with I/O pending is safe.
//
// Thread: a Uring is owned by its loop thread: the thread calling Run/RunOnce, or the one started
// by StartThread. Everything except Post and Stop must be called on that thread (or before the
// loop starts). Post and Stop are thread-safe.
// REQUIRES: Streams, Listeners and Files made by a Uring are destroyed before it.
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "reactor/reactor.h"
#include "reactor/uring_op.h"

namespace nvmpath::reactor {

class UringStreamCore;

class Uring final : public Reactor {
 public:
  static constexpr unsigned kQueueDepth = 256;

  // Errors: ErrnoStatus("io_uring_queue_init", ...) where io_uring is unavailable or disabled;
  // ErrnoStatus("eventfd", ...).
  static Result<std::unique_ptr<Uring>> Create(unsigned index);
  ~Uring() override;
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  unsigned index() const override { return index_; }
  TimePoint now() const override;  // CLOCK_MONOTONIC
  void Post(Task task) override;   // thread-safe
  TimerId AddTimer(Duration delay, Task task) override;
  bool CancelTimer(TimerId id) override;
  // Errors: kInvalidArgument for a non-numeric address; ErrnoStatus of socket/bind/listen
  // (kAlreadyExists is not distinguished: EADDRINUSE maps to kIoError "bind ...: Address in use").
  Result<std::unique_ptr<Listener>> Listen(const std::string& address, uint16_t port,
                                           OnAccept on_accept) override;
  // A Unix-domain stream listener at `path` (UringListener::CreateUnix says what is replaced).
  Result<std::unique_ptr<Listener>> ListenUnix(const std::string& path, OnAccept on_accept);
  // Moving a connection between loops (accepted on one, served on another): ReleaseSocket takes
  // the socket out of a stream made by any Uring that has not had handlers set yet (so nothing
  // is in flight on its loop); AdoptSocket, on the new loop's thread, makes it a stream there.
  // Errors: kInvalidArgument for a stream in use or of another reactor.
  static Result<int> ReleaseSocket(std::unique_ptr<Stream> stream);
  std::unique_ptr<Stream> AdoptSocket(int fd);
  // Errors to on_connect: kInvalidArgument (bad address), ErrnoStatus of socket/connect
  // (ECONNREFUSED -> kUnavailable).
  void Connect(const std::string& address, uint16_t port, OnConnect on_connect) override;
  // Errors: ErrnoStatus("open <path>", errno).
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) override;

  // Runs loop turns until Stop().
  void Run();
  // Makes Run() return after the current turn. Thread-safe.
  void Stop();
  // Runs one loop turn, waiting at most `max_wait` for something to do. Returns whether any
  // completion, timer or posted task ran.
  bool RunOnce(Duration max_wait);
  // Runs Run() on a new thread (the loop thread from then on); Join() waits for it after Stop().
  void StartThread();
  void Join();

  // Gathered sends (sendmsg SQEs) issued so far.
  uint64_t sends_issued() const { return sends_issued_; }

  // ---- Used by the stream, listener and file implementations. ----
  // A free SQE (submits queued ones first if the submission queue is full).
  io_uring_sqe* GetSqe();
  // Marks `sqe` as carrying `op`; op->Complete runs once for its CQE.
  void Track(io_uring_sqe* sqe, UringOp* op);
  // An SQE whose completion is ignored (cancel requests).
  void Untracked(io_uring_sqe* sqe);
  void CountSend() { ++sends_issued_; }
  // `core` has bytes to send; it is flushed at the end of this loop turn.
  void ScheduleFlush(std::shared_ptr<UringStreamCore> core);
  void Register(UringHandle* h) { handles_.insert(h); }
  void Unregister(UringHandle* h) { handles_.erase(h); }

 private:
  explicit Uring(unsigned index);
  Status Init();
  // ~Uring's part before the ring is closed: aborts what users left, cancels, drains.
  void Teardown();
  void ArmWakeup();
  size_t ReapCompletions(bool discard);
  size_t RunTimers();
  size_t RunPosted();
  void FlushSends();

  class WakeupOp final : public UringOp {
   public:
    explicit WakeupOp(Uring* loop) : loop_(loop) {}
    void Complete(int res, bool discard) override;
    uint64_t value = 0;

   private:
    Uring* loop_;
  };

  const unsigned index_;
  io_uring ring_{};
  bool ring_ready_ = false;
  int event_fd_ = -1;
  WakeupOp wakeup_op_{this};
  bool wakeup_armed_ = false;
  uint64_t ops_in_flight_ = 0;
  uint64_t sends_issued_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  // Timers: ordered by (deadline, id); the id index makes CancelTimer O(log n).
  TimerId next_timer_ = 1;
  std::map<std::pair<TimePoint, TimerId>, Task> timers_;
  std::map<TimerId, TimePoint> timer_deadlines_;

  std::vector<std::shared_ptr<UringStreamCore>> flush_list_;
  std::unordered_set<UringHandle*> handles_;  // live streams and listeners, for shutdown

  std::mutex post_mu_;
  std::vector<Task> posted_;  // guarded by post_mu_
  std::atomic<bool> posted_pending_{false};
};

}  // namespace nvmpath::reactor
