// client::IoRequest and IoRequestPool — what one asynchronous Device I/O costs on the data path.
//
// An IoRequest is the application's I/O as the head sees it (a blk::Bio) plus the application's
// callback. Requests are pooled per I/O thread: a request is taken from the pool of the thread the
// I/O is submitted on and, since a Bio completes on the reactor it was submitted on, it goes back
// to that same pool when it completes — so in steady state an I/O allocates nothing and takes no
// lock. The Bio's on_done is bound once, when the request is first made.
//
// Thread: a pool and its requests are touched only on their I/O thread.
// Invariants: a request is either on the free list or owned by exactly one in-flight I/O;
// in_flight() counts the latter.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "blk/bio.h"
#include "client/idle_signal.h"
#include "nvmpath/client.h"

namespace nvmpath::client {

class IoRequestPool;

struct IoRequest {
  blk::Bio bio;
  Device::Callback done;
  IoRequestPool* pool = nullptr;
  IoRequest* next_free = nullptr;
};

class IoRequestPool {
 public:
  IoRequestPool() = default;
  IoRequestPool(const IoRequestPool&) = delete;
  IoRequestPool& operator=(const IoRequestPool&) = delete;

  // A request ready to fill (bio.on_done bound). Counts it in flight.
  IoRequest* Get() {
    IoRequest* r = free_;
    if (r != nullptr) {
      free_ = r->next_free;
      r->next_free = nullptr;
    } else {
      r = Make();
    }
    ++in_flight_;
    return r;
  }

  uint64_t in_flight() const { return in_flight_; }
  size_t allocated() const { return all_.size(); }
  // Told whenever in_flight() drops to 0 (nullptr: nobody). Set before the pool is used.
  void SetIdleSignal(IdleSignal* idle) { idle_ = idle; }

 private:
  IoRequest* Make() {
    auto r = std::make_unique<IoRequest>();
    r->pool = this;
    IoRequest* raw = r.get();
    raw->bio.on_done = [raw](blk::Bio&) { raw->pool->Complete(raw); };
    all_.push_back(std::move(r));
    return raw;
  }

  // The request goes back to the pool before the callback runs, so a callback that submits the
  // next I/O reuses it at once.
  void Complete(IoRequest* r) {
    Device::Callback done = std::move(r->done);
    r->done = nullptr;
    Status status = std::move(r->bio.status);
    r->next_free = free_;
    free_ = r;
    --in_flight_;
    done(std::move(status));
    // After the callback: a request it submitted (or a cancellation it posted) counts first.
    if (in_flight_ == 0 && idle_ != nullptr) idle_->Notify();
  }

  IoRequest* free_ = nullptr;
  uint64_t in_flight_ = 0;
  IdleSignal* idle_ = nullptr;
  std::vector<std::unique_ptr<IoRequest>> all_;
};

}  // namespace nvmpath::client
