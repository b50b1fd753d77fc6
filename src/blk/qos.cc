#include "blk/qos.h"

#include <algorithm>
#include <cmath>

#include "base/assert.h"

namespace nvmpath::blk {

Ticket& Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    issuer_ = other.issuer_;
    other.issuer_ = nullptr;
  }
  return *this;
}

void Ticket::Release() {
  if (issuer_ == nullptr) return;
  Limiter* l = issuer_;
  issuer_ = nullptr;
  l->Release();
}

namespace {
double BucketDepth(uint64_t rate_per_s, Duration burst, double at_least) {
  return std::max(at_least, static_cast<double>(rate_per_s) * ToSeconds(burst));
}
}  // namespace

QosLimits SplitAcross(const QosLimits& limits, unsigned n) {
  NVMP_ASSERT(n > 0);
  auto share = [n](uint64_t v) { return v == 0 ? 0 : (v + n - 1) / n; };
  QosLimits out = limits;
  out.max_in_flight = static_cast<uint32_t>(share(limits.max_in_flight));
  out.iops = share(limits.iops);
  out.bytes_per_s = share(limits.bytes_per_s);
  return out;
}

Limiter::Limiter(reactor::Reactor& reactor, std::string name, QosLimits limits)
    : reactor_(reactor), name_(std::move(name)), limits_(limits) {
  last_refill_ = reactor_.now();
  io_tokens_ = limits_.iops ? BucketDepth(limits_.iops, limits_.burst, 1) : 0;
  byte_tokens_ = limits_.bytes_per_s ? BucketDepth(limits_.bytes_per_s, limits_.burst, 1) : 0;
}

Limiter::~Limiter() {
  NVMP_ASSERT(in_flight() == 0, "a QoS limiter destroyed with tickets outstanding");
  NVMP_ASSERT(head_ == nullptr, "a QoS limiter destroyed with waiters");
  *alive_ = false;
  if (refill_timer_ != reactor::kNoTimer) reactor_.CancelTimer(refill_timer_);
}

void Limiter::Refill() {
  if (limits_.iops == 0 && limits_.bytes_per_s == 0) return;
  TimePoint now = reactor_.now();
  double dt = ToSeconds(now - last_refill_);
  last_refill_ = now;
  if (limits_.iops) {
    io_tokens_ = std::min(BucketDepth(limits_.iops, limits_.burst, 1),
                          io_tokens_ + dt * static_cast<double>(limits_.iops));
  }
  if (limits_.bytes_per_s) {
    byte_tokens_ = std::min(BucketDepth(limits_.bytes_per_s, limits_.burst, 1),
                            byte_tokens_ + dt * static_cast<double>(limits_.bytes_per_s));
  }
}

bool Limiter::HasRoom(uint64_t bytes) const {
  if (limits_.max_in_flight && in_flight() >= limits_.max_in_flight) return false;
  if (limits_.iops && io_tokens_ < 1.0) return false;
  // A request larger than the whole bucket is admitted when the bucket is full (it goes into
  // debt), so an oversized I/O cannot wait forever.
  if (limits_.bytes_per_s) {
    double depth = BucketDepth(limits_.bytes_per_s, limits_.burst, 1);
    if (byte_tokens_ < std::min(static_cast<double>(bytes), depth)) return false;
  }
  return true;
}

Ticket Limiter::Take(uint64_t bytes) {
  if (limits_.iops) io_tokens_ -= 1.0;
  if (limits_.bytes_per_s) byte_tokens_ -= static_cast<double>(bytes);
  ++issued_;
  NVMP_ASSERT(limits_.max_in_flight == 0 || in_flight() <= limits_.max_in_flight);
  return Ticket(this);
}

std::optional<Ticket> Limiter::TryAcquire(uint64_t bytes) {
  if (head_ != nullptr) return std::nullopt;  // FIFO: nobody overtakes a waiter
  Refill();
  if (!HasRoom(bytes)) return std::nullopt;
  return Take(bytes);
}

void Limiter::Wait(Waiter* w) {
  NVMP_ASSERT(w->next == nullptr && w != tail_, "waiter queued twice");
  if (tail_) {
    tail_->next = w;
  } else {
    head_ = w;
  }
  tail_ = w;
  ++waiting_;
  ScheduleKick();
}

bool Limiter::Cancel(Waiter* w) {
  Waiter** link = &head_;
  Waiter* prev = nullptr;
  while (*link && *link != w) {
    prev = *link;
    link = &(*link)->next;
  }
  if (*link == nullptr) return false;
  *link = w->next;
  if (tail_ == w) tail_ = prev;
  w->next = nullptr;
  --waiting_;
  return true;
}

void Limiter::Release() {
  NVMP_ASSERT(released_ < issued_, "QoS ticket released into a limiter that did not issue it");
  ++released_;
  if (head_ != nullptr) ScheduleKick();
}

void Limiter::ScheduleKick() {
  if (kick_posted_) return;
  kick_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  reactor_.Post([this, alive] {
    auto a = alive.lock();
    if (!a || !*a) return;
    kick_posted_ = false;
    Kick();
  });
}

Duration Limiter::TimeUntilRoom(uint64_t bytes) const {
  double wait_s = 0;
  if (limits_.iops && io_tokens_ < 1.0) {
    wait_s = std::max(wait_s, (1.0 - io_tokens_) / static_cast<double>(limits_.iops));
  }
  if (limits_.bytes_per_s) {
    double need = std::min(static_cast<double>(bytes),
                           BucketDepth(limits_.bytes_per_s, limits_.burst, 1));
    if (byte_tokens_ < need) {
      wait_s = std::max(wait_s, (need - byte_tokens_) / static_cast<double>(limits_.bytes_per_s));
    }
  }
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(wait_s)) + 1us;
}

void Limiter::Kick() {
  Refill();
  while (head_ != nullptr && HasRoom(head_->bytes)) {
    Waiter* w = head_;
    head_ = w->next;
    if (head_ == nullptr) tail_ = nullptr;
    w->next = nullptr;
    --waiting_;
    auto on_admit = std::move(w->on_admit);
    on_admit(Take(w->bytes));
  }
  // Blocked only by the token buckets: nothing will release a ticket, so wake on refill.
  bool in_flight_blocked = limits_.max_in_flight && in_flight() >= limits_.max_in_flight;
  if (head_ != nullptr && !in_flight_blocked && refill_timer_ == reactor::kNoTimer) {
    std::weak_ptr<bool> alive = alive_;
    refill_timer_ = reactor_.AddTimer(TimeUntilRoom(head_->bytes), [this, alive] {
      auto a = alive.lock();
      if (!a || !*a) return;
      refill_timer_ = reactor::kNoTimer;
      Kick();
    });
  }
}

}  // namespace nvmpath::blk
