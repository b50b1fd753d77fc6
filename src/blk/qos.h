// blk::Limiter and blk::Ticket — QoS admission with accounting that cannot leak.
//
// A Limiter admits I/O under any combination of three limits: at most N in flight, an IOPS token
// bucket and a bandwidth token bucket. Admission yields a Ticket: a move-only object that gives
// its slot back to the Limiter that issued it when it is destroyed or released, exactly once.
// A Ticket cannot be copied, re-pointed or released into another Limiter, so however an attempt
// ends (completion, failover, teardown) the accounting returns to its issuer and nowhere else.
//
// Thread: a Limiter lives on one reactor and is used only there (one per path per reactor, one per
// head per reactor). Waiters are admitted FIFO from a task on that reactor, never re-entrantly
// from inside Release().
// Invariants: issued() == released() + in_flight(); in_flight() <= max_in_flight when set;
// destroyed only with nothing in flight and nobody waiting.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/time.h"
#include "reactor/reactor.h"

namespace nvmpath::blk {

struct QosLimits {
  uint32_t max_in_flight = 0;  // 0: unlimited
  uint64_t iops = 0;           // 0: unlimited
  uint64_t bytes_per_s = 0;    // 0: unlimited
  Duration burst = std::chrono::milliseconds(10);  // bucket depth, as time at the full rate

  bool unlimited() const { return max_in_flight == 0 && iops == 0 && bytes_per_s == 0; }
};

// Splits `limits` across `n` per-reactor limiters (limiters are per reactor so the data path
// shares nothing): each gets 1/n of every limit, rounded up so that no share becomes 0 (which
// would mean unlimited); the shares then sum to at most n - 1 units above the limit. The burst is
// unchanged; a limit of 0 (unlimited) stays 0.
QosLimits SplitAcross(const QosLimits& limits, unsigned n);

// A limiter's accounting, or the sum over several: tickets issued, released, and admissions
// queued now. issued == released + in flight.
struct QosCounters {
  uint64_t issued = 0;
  uint64_t released = 0;
  uint64_t waiting = 0;

  uint64_t in_flight() const { return issued - released; }
  void Add(const QosCounters& o) {
    issued += o.issued;
    released += o.released;
    waiting += o.waiting;
  }
};

class Limiter;

class Ticket {
 public:
  Ticket() = default;
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;
  Ticket(Ticket&& other) noexcept : issuer_(other.issuer_) { other.issuer_ = nullptr; }
  Ticket& operator=(Ticket&& other) noexcept;
  ~Ticket() { Release(); }

  // Gives the slot back to the issuer; a no-op on an empty Ticket.
  void Release();
  bool held() const { return issuer_ != nullptr; }
  const Limiter* issuer() const { return issuer_; }

 private:
  friend class Limiter;
  explicit Ticket(Limiter* issuer) : issuer_(issuer) {}
  Limiter* issuer_ = nullptr;
};

class Limiter {
 public:
  // A queued admission request. The owner keeps it alive until on_admit runs or Cancel() succeeds.
  struct Waiter {
    uint64_t bytes = 0;
    std::function<void(Ticket)> on_admit;
    Waiter* next = nullptr;
  };

  Limiter(reactor::Reactor& reactor, std::string name, QosLimits limits);
  ~Limiter();
  Limiter(const Limiter&) = delete;
  Limiter& operator=(const Limiter&) = delete;

  // A Ticket now if the limits allow and nobody waits ahead (FIFO fairness), else nullopt.
  std::optional<Ticket> TryAcquire(uint64_t bytes);
  // Queues `w`; its on_admit runs on this reactor when the limits allow.
  // REQUIRES: TryAcquire(w->bytes) just failed; w is not queued already.
  void Wait(Waiter* w);
  // Removes a queued waiter; false if it was not queued (already admitted).
  bool Cancel(Waiter* w);

  const std::string& name() const { return name_; }
  const QosLimits& limits() const { return limits_; }
  uint64_t issued() const { return issued_; }
  uint64_t released() const { return released_; }
  uint64_t in_flight() const { return issued_ - released_; }
  uint64_t waiting() const { return waiting_; }
  QosCounters counters() const { return {issued_, released_, waiting_}; }

  // Releases a slot that no Ticket holds — only to show the invariant check firing (tests).
  void TEST_ReleaseWithoutTicket() { Release(); }

 private:
  friend class Ticket;
  void Release();
  void Refill();
  bool HasRoom(uint64_t bytes) const;
  Ticket Take(uint64_t bytes);
  void ScheduleKick();
  void Kick();
  Duration TimeUntilRoom(uint64_t bytes) const;

  reactor::Reactor& reactor_;
  const std::string name_;
  const QosLimits limits_;
  uint64_t issued_ = 0;
  uint64_t released_ = 0;
  double io_tokens_ = 0;
  double byte_tokens_ = 0;
  TimePoint last_refill_{};
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  uint64_t waiting_ = 0;
  bool kick_posted_ = false;
  reactor::TimerId refill_timer_ = reactor::kNoTimer;
  // Set while alive; posted kicks hold a copy and do nothing once the Limiter is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nvmpath::blk
