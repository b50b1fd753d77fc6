// client::IoThreads — the client's I/O threads: one reactor::Uring each, with the per-thread
// request pool and the bookkeeping Close needs to drain them.
//
// Thread 0 is the home reactor of the multipath host (controllers' admin queues, heads' control).
// Every controller has one I/O queue per thread, and every head a shard per thread.
//
// Draining: a task that carries an application callback is posted with PostCounted, so Close can
// wait until every such task ran (WaitIdle); requests in flight are counted by each thread's
// pool. WaitIdle sleeps until one of those counts reaches zero (idle_signal.h) and looks again:
// no timer, no sleep loop. After BeginClose, new I/O is refused with kCancelled.
//
// Thread: Create, StopAndJoin and the destructor on an application thread; PostCounted,
// RunAndWait, NextThread, Current and closing from any thread; pool(i) only on thread i.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "client/idle_signal.h"
#include "client/io_request.h"
#include "reactor/uring.h"

namespace nvmpath::client {

class IoThreads {
 public:
  // Errors: the reactor's (io_uring unavailable, eventfd).
  static Result<std::unique_ptr<IoThreads>> Create(unsigned count);
  // Stops the threads if StopAndJoin was not called.
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  unsigned size() const { return static_cast<unsigned>(threads_.size()); }
  reactor::Reactor* reactor(unsigned i) const { return threads_[i]->reactor.get(); }
  // The same loop as the io_uring reactor it is (listeners on Unix sockets, sockets handed over).
  reactor::Uring* uring(unsigned i) const { return threads_[i]->reactor.get(); }
  std::vector<reactor::Reactor*> reactors() const;
  // The index of the I/O thread the caller runs on, or nullopt.
  std::optional<unsigned> Current() const;
  // REQUIRES: called on thread i.
  IoRequestPool& pool(unsigned i) { return threads_[i]->pool; }
  // Round-robin choice for I/O submitted off the I/O threads.
  unsigned NextThread() { return next_.fetch_add(1, std::memory_order_relaxed) % size(); }

  // Runs `task` on thread i; WaitIdle waits for it.
  void PostCounted(unsigned i, std::function<void()> task);
  // For I/O from other threads, which must not slip past Close: reserves a counted post, unless
  // Close began (then false, and nothing is reserved). A reservation is used by PostReserved.
  bool ReservePost();
  void PostReserved(unsigned i, std::function<void()> task);
  // Runs `fn` on thread i and returns when it has run (at once, inline, on thread i itself).
  void RunAndWait(unsigned i, const std::function<void()>& fn);

  bool closing() const { return closing_.load(std::memory_order_acquire); }
  // From now on, new I/O completes with kCancelled.
  void BeginClose() { closing_.store(true, std::memory_order_seq_cst); }
  // Waits until every counted task ran and no request is in flight on any thread; woken by the
  // end of the last one. REQUIRES: not on an I/O thread.
  void WaitIdle();
  // Every task posted to any thread so far has run, and the tasks those posted too (one hop).
  void Barrier();
  // Stops every loop and joins its thread. Idempotent.
  void StopAndJoin();
  // How many times WaitIdle looked at the counts (once, then once per wake-up).
  uint64_t TEST_idle_looks() const { return idle_looks_.load(); }

 private:
  struct Thread {
    std::unique_ptr<reactor::Uring> reactor;
    IoRequestPool pool;
  };
  IoThreads() = default;
  // No counted task pending and no request in flight, looked at on every thread.
  bool Idle();

  std::vector<std::unique_ptr<Thread>> threads_;
  IdleSignal idle_;
  std::atomic<uint64_t> idle_looks_{0};
  std::atomic<unsigned> next_{0};
  std::atomic<bool> closing_{false};
  std::atomic<uint64_t> posts_pending_{0};
  bool stopped_ = false;
};

}  // namespace nvmpath::client
