// blk::AttemptList — the attempts one path holds from one reactor.
//
// Every path implementation keeps, per reactor, the attempt objects it owns: a free list so that
// steady-state I/O allocates nothing, and an intrusive list of the live ones so that a teardown
// (controller loss, stall release) can find every attempt still on the path.
//
// Thread: one reactor. `A` must have `A* prev` and `A* next` members, used only by this list.
// Invariant: size() equals the number of attempts acquired and not released.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/assert.h"

namespace nvmpath::blk {

template <typename A>
class AttemptList {
 public:
  AttemptList() = default;
  AttemptList(const AttemptList&) = delete;
  AttemptList& operator=(const AttemptList&) = delete;
  ~AttemptList() { NVMP_ASSERT(live_ == nullptr, "attempt list destroyed with live attempts"); }

  // A fresh or recycled attempt, already on the live list. Fields other than the links keep
  // whatever the last Release left: the owner resets them there.
  A* Acquire() {
    A* a;
    if (free_.empty()) {
      a = new A;
    } else {
      a = free_.back().release();
      free_.pop_back();
    }
    a->prev = nullptr;
    a->next = live_;
    if (live_) live_->prev = a;
    live_ = a;
    ++size_;
    return a;
  }

  // Takes `a` off the live list and keeps it for reuse. REQUIRES: `a` came from Acquire here.
  void Release(A* a) {
    NVMP_ASSERT(size_ > 0, "attempt released twice");
    if (a->prev) {
      a->prev->next = a->next;
    } else {
      live_ = a->next;
    }
    if (a->next) a->next->prev = a->prev;
    a->prev = a->next = nullptr;
    --size_;
    free_.emplace_back(a);
  }

  // Makes `n` attempts ahead of time, so the first I/Os allocate nothing either.
  void Preallocate(size_t n) {
    free_.reserve(free_.size() + n);
    for (size_t i = 0; i < n; ++i) free_.push_back(std::make_unique<A>());
  }

  // The live attempts, newest first. Collect before finishing any of them: finishing releases.
  std::vector<A*> Live() const {
    std::vector<A*> out;
    out.reserve(size_);
    for (A* a = live_; a; a = a->next) out.push_back(a);
    return out;
  }
  uint64_t size() const { return size_; }

 private:
  A* live_ = nullptr;
  uint64_t size_ = 0;
  std::vector<std::unique_ptr<A>> free_;
};

}  // namespace nvmpath::blk
