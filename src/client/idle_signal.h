// client::IdleSignal — how IoThreads::WaitIdle learns that something it waits for just ended (a
// counted task ran, an I/O thread's last request completed) without polling.
//
// The I/O threads call Notify() when one of their counts reaches zero; it costs one atomic load
// unless a waiter is registered, so the data path pays nothing measurable. The waiter registers
// (BeginWaiting) before it looks at the counts, reads events() before each look, and sleeps until
// events() moves past what it read: a zero reached after the registration is never missed.
//
// Thread: Notify from any thread; the waiter's calls from one application thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace nvmpath::client {

class IdleSignal {
 public:
  void Notify() {
    if (!waiting_.load(std::memory_order_seq_cst)) return;
    std::lock_guard<std::mutex> lock(mu_);
    ++events_;
    cv_.notify_all();
  }

  // From here on, Notify wakes the waiter. Pairs (seq_cst) with the counts' own seq_cst updates:
  // either the waiter's next look sees a count's new value, or that update's Notify sees it.
  void BeginWaiting() { waiting_.store(true, std::memory_order_seq_cst); }
  void EndWaiting() { waiting_.store(false, std::memory_order_seq_cst); }

  uint64_t events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // Sleeps until a Notify after events() returned `seen`; false if `limit` passed first.
  template <typename Rep, typename Period>
  bool WaitPast(uint64_t seen, std::chrono::duration<Rep, Period> limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return events_ != seen; });
  }

 private:
  std::atomic<bool> waiting_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t events_ = 0;  // guarded by mu_
};

}  // namespace nvmpath::client
