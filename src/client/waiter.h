// client::Waiter — how an application thread blocks until an I/O thread says "done".
//
// Signal() may be called from any thread, once; Wait() returns after it. The signalling thread
// touches the waiter only under its mutex, so the waiter (often on the waiting thread's stack)
// may be destroyed as soon as Wait returns.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace nvmpath::client {

class Waiter {
 public:
  void Signal() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
  }
  // False if `timeout` passed first.
  template <typename Rep, typename Period>
  bool WaitFor(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

}  // namespace nvmpath::client
