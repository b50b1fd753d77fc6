// blk::Bio — one I/O as the application asked for it, and nothing about any path.
//
// A Bio carries the operation, the LBA range, the buffer, the completion callback and the head's
// own bookkeeping (state, retry and failover counts, the requeue link), private to mpath::Head. Everything that belongs
// to one attempt on one path (QoS ticket, command id, queue pair, timeout) lives in that path's
// attempt object, which cannot outlive the attempt — so nothing per-path can travel back to the
// head on failover (the bug class of shared/seeds/000_e7fa2f9d4a0f70e0.txt).
//
// Thread: a Bio belongs to the reactor it was submitted on until it completes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "base/assert.h"
#include "base/time.h"
#include "blk/qos.h"
#include "nvmpath/status.h"

namespace nvmpath::mpath {
class Head;
}  // namespace nvmpath::mpath

namespace nvmpath::blk {

enum class Op : uint8_t { kRead, kWrite, kFlush, kWriteZeroes, kDeallocate };

const char* OpName(Op op);
// True for operations that change data (and so must be fenced against stale copies).
constexpr bool ModifiesData(Op op) { return op == Op::kWrite || op == Op::kWriteZeroes || op == Op::kDeallocate; }
// True for operations that address an LBA range (all but flush).
constexpr bool HasRange(Op op) { return op != Op::kFlush; }

enum class BioState : uint8_t {
  kIdle,      // owned by the application
  kAdmitting, // at the head, waiting for head QoS admission
  kQueued,    // on the head's requeue list: no usable path yet
  kInFlight,  // an attempt on a path owns it
  kRetryWait, // waiting out a CRD delay before retrying on the same path
  kDone,      // completed to the application (owned by it again)
};

struct Bio {
  using OnDone = std::function<void(Bio& bio)>;

  // What the application asked for.
  Op op = Op::kRead;
  uint64_t lba = 0;
  uint32_t nblocks = 0;
  std::span<uint8_t> data;  // read: destination; write: source; nblocks * block size bytes
  bool nowait = false;      // fail with kUnavailable instead of waiting for head QoS admission
  OnDone on_done;
  uint64_t user_tag = 0;    // free for the application

  // The outcome, valid in on_done.
  Status status;

  // Head bookkeeping, read-only outside the head.
  BioState state() const { return state_; }
  uint32_t retries() const { return retries_; }
  uint32_t failovers() const { return failovers_; }

  uint64_t bytes(uint32_t block_size) const { return uint64_t{nblocks} * block_size; }

 private:
  // Only the head can write these, so "the range is checked once, at the head" (seed 001) and
  // "nothing per path on the Bio" (seed 000) are the compiler's to enforce: no path, export or
  // client can set range_checked_, keep a ticket here, or mark a Bio done.
  // tests/blk/bio_private_check.sh shows a write from outside failing to compile.
  friend class mpath::Head;
  friend class BioTestPeer;  // tests that break the bookkeeping on purpose

  BioState state_ = BioState::kIdle;
  uint32_t retries_ = 0;      // same-path retries of the current path
  uint32_t failovers_ = 0;
  TimePoint submitted_at_{};
  TimePoint queued_at_{};     // when it last entered the requeue list
  TimePoint dispatched_at_{}; // when its current attempt was handed to a path
  // The failover gap's start (mpath/counters.h HeadStats::failover_gap): when its first failed
  // attempt ended, and that attempt's path slot (-1: it has not failed over).
  TimePoint failed_over_at_{};
  int16_t failed_over_from_ = -1;
  bool failover_in_ = false;  // its last attempt failed over: its next dispatch is a failover in
  int16_t retry_slot_ = -1;   // the path slot a same-path retry goes back to
  uint32_t failed_slots_ = 0; // path slots this Bio failed over from; passed over while others serve
  bool range_checked_ = false;
  Ticket head_ticket_;        // head QoS admission, held until the Bio completes
  Bio* next_ = nullptr;       // requeue / wait list link
};

}  // namespace nvmpath::blk
