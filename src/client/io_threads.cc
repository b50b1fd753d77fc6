#include "client/io_threads.h"

#include <chrono>

#include "base/assert.h"
#include "base/log.h"
#include "client/waiter.h"

namespace nvmpath::client {

Result<std::unique_ptr<IoThreads>> IoThreads::Create(unsigned count) {
  NVMP_ASSERT(count > 0);
  std::unique_ptr<IoThreads> t(new IoThreads());
  for (unsigned i = 0; i < count; ++i) {
    auto r = reactor::Uring::Create(i);
    if (!r.ok()) return r.status().WithContext("I/O thread " + std::to_string(i));
    auto th = std::make_unique<Thread>();
    th->reactor = std::move(r).value();
    th->pool.SetIdleSignal(&t->idle_);
    t->threads_.push_back(std::move(th));
  }
  for (auto& th : t->threads_) th->reactor->StartThread();
  return t;
}

IoThreads::~IoThreads() { StopAndJoin(); }

std::vector<reactor::Reactor*> IoThreads::reactors() const {
  std::vector<reactor::Reactor*> out;
  for (auto& th : threads_) out.push_back(th->reactor.get());
  return out;
}

std::optional<unsigned> IoThreads::Current() const {
  reactor::Reactor* r = reactor::Current();
  if (r == nullptr) return std::nullopt;
  const unsigned i = r->index();
  if (i < threads_.size() && threads_[i]->reactor.get() == r) return i;
  return std::nullopt;
}

bool IoThreads::ReservePost() {
  // Pairs with BeginClose + WaitIdle (all seq_cst): either Close sees this reservation and waits
  // for its task, or this sees `closing_`.
  posts_pending_.fetch_add(1, std::memory_order_seq_cst);
  if (closing_.load(std::memory_order_seq_cst)) {
    if (posts_pending_.fetch_sub(1, std::memory_order_seq_cst) == 1) idle_.Notify();
    return false;
  }
  return true;
}

void IoThreads::PostCounted(unsigned i, std::function<void()> task) {
  posts_pending_.fetch_add(1, std::memory_order_seq_cst);
  PostReserved(i, std::move(task));
}

void IoThreads::PostReserved(unsigned i, std::function<void()> task) {
  threads_[i]->reactor->Post([this, task = std::move(task)] {
    task();
    if (posts_pending_.fetch_sub(1, std::memory_order_seq_cst) == 1) idle_.Notify();
  });
}

void IoThreads::RunAndWait(unsigned i, const std::function<void()>& fn) {
  if (Current() == i) return fn();
  NVMP_ASSERT(!stopped_, "RunAndWait after the I/O threads stopped");
  Waiter w;
  threads_[i]->reactor->Post([&] {
    fn();
    w.Signal();
  });
  w.Wait();
}

bool IoThreads::Idle() {
  idle_looks_.fetch_add(1, std::memory_order_relaxed);
  if (posts_pending_.load(std::memory_order_seq_cst) != 0) return false;
  uint64_t in_flight = 0;
  for (unsigned i = 0; i < size(); ++i) {
    RunAndWait(i, [&] { in_flight += pool(i).in_flight(); });
  }
  // A completion read above may have posted a counted task (a cancellation) meanwhile.
  return in_flight == 0 && posts_pending_.load(std::memory_order_seq_cst) == 0;
}

void IoThreads::WaitIdle() {
  NVMP_ASSERT(!Current().has_value(), "WaitIdle on an I/O thread would wait for itself");
  // Woken by the end of the last counted task or of a thread's last request, never by a clock;
  // the timeout below only words a warning.
  constexpr auto kWarnEvery = std::chrono::seconds(5);
  const auto start = std::chrono::steady_clock::now();
  idle_.BeginWaiting();
  for (;;) {
    const uint64_t seen = idle_.events();
    if (Idle()) break;
    while (!idle_.WaitPast(seen, kWarnEvery)) {
      // An application that resubmits every cancelled I/O from its callback keeps this busy.
      NVMP_LOG_WARN("client close: I/O still in flight after {}s",
                    std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::steady_clock::now() - start)
                        .count());
    }
  }
  idle_.EndWaiting();
}

void IoThreads::Barrier() {
  for (int round = 0; round < 2; ++round) {
    for (unsigned i = 0; i < size(); ++i) RunAndWait(i, [] {});
  }
}

void IoThreads::StopAndJoin() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& th : threads_) th->reactor->Stop();
  for (auto& th : threads_) th->reactor->Join();
}

}  // namespace nvmpath::client
