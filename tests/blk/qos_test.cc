// blk::Limiter and blk::Ticket: each limit alone and combined, FIFO admission of waiters, and the
// accounting guarantee — a ticket returns to its issuer exactly once however it ends (moved,
// released, destroyed). The invariant checks are shown firing with death tests.
#include "blk/qos.h"

#include <gtest/gtest.h>

#include <vector>

#include "reactor/sim.h"

namespace nvmpath::blk {
namespace {

class QosTest : public ::testing::Test {
 protected:
  reactor::SimWorld world_{42};
  reactor::Reactor* r_ = world_.AddReactor();
};

TEST_F(QosTest, MaxInFlightAdmitsUpToTheLimit) {
  Limiter l(*r_, "l", QosLimits{.max_in_flight = 2});
  auto a = l.TryAcquire(4096);
  auto b = l.TryAcquire(4096);
  auto c = l.TryAcquire(4096);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(c);
  EXPECT_EQ(l.in_flight(), 2u);
  a->Release();
  EXPECT_EQ(l.in_flight(), 1u);
  EXPECT_TRUE(l.TryAcquire(4096));  // a temporary: released at once
  EXPECT_EQ(l.issued(), 3u);
  EXPECT_EQ(l.released(), 2u);
}

TEST_F(QosTest, TicketReturnsToItsIssuerExactlyOnce) {
  Limiter a(*r_, "a", QosLimits{.max_in_flight = 4});
  Limiter b(*r_, "b", QosLimits{.max_in_flight = 4});
  {
    Ticket t = std::move(*a.TryAcquire(1));
    Ticket moved = std::move(t);
    EXPECT_FALSE(t.held());
    EXPECT_EQ(moved.issuer(), &a);
    Ticket from_b = std::move(*b.TryAcquire(1));
    // Assigning over a held ticket releases the old one into *its* issuer.
    from_b = std::move(moved);
    EXPECT_EQ(b.in_flight(), 0u);
    EXPECT_EQ(b.released(), 1u);
    EXPECT_EQ(a.in_flight(), 1u);
    from_b.Release();
    from_b.Release();  // a second release of an empty ticket is a no-op
    EXPECT_EQ(a.in_flight(), 0u);
  }
  EXPECT_EQ(a.issued(), 1u);
  EXPECT_EQ(a.released(), 1u);
  EXPECT_EQ(b.issued(), 1u);
  EXPECT_EQ(b.released(), 1u);
}

TEST_F(QosTest, WaitersAreAdmittedInOrderWhenSlotsFree) {
  Limiter l(*r_, "l", QosLimits{.max_in_flight = 1});
  std::vector<int> order;
  std::vector<Ticket> held;
  auto first = l.TryAcquire(1);
  ASSERT_TRUE(first);
  Limiter::Waiter w1, w2;
  w1.on_admit = [&](Ticket t) { order.push_back(1); held.push_back(std::move(t)); };
  w2.on_admit = [&](Ticket t) { order.push_back(2); held.push_back(std::move(t)); };
  ASSERT_FALSE(l.TryAcquire(1));
  l.Wait(&w1);
  l.Wait(&w2);
  EXPECT_FALSE(l.TryAcquire(1)) << "nobody overtakes a waiter";
  first->Release();
  EXPECT_TRUE(order.empty()) << "admission never runs inside Release";
  world_.RunUntilIdle(1000);
  EXPECT_EQ(order, std::vector<int>{1});
  held.clear();
  world_.RunUntilIdle(1000);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  held.clear();
  EXPECT_EQ(l.in_flight(), 0u);
}

TEST_F(QosTest, CancelRemovesAWaiter) {
  Limiter l(*r_, "l", QosLimits{.max_in_flight = 1});
  auto t = l.TryAcquire(1);
  Limiter::Waiter w;
  bool admitted = false;
  w.on_admit = [&](Ticket) { admitted = true; };
  l.Wait(&w);
  EXPECT_TRUE(l.Cancel(&w));
  EXPECT_FALSE(l.Cancel(&w));
  t->Release();
  world_.RunUntilIdle(1000);
  EXPECT_FALSE(admitted);
}

TEST_F(QosTest, IopsBucketPacesAdmissions) {
  // 1000 IOPS with a 10 ms bucket: 10 at once, then one per millisecond.
  Limiter l(*r_, "iops", QosLimits{.iops = 1000});
  int immediate = 0;
  while (l.TryAcquire(512)) ++immediate;
  EXPECT_EQ(immediate, 10);
  int admitted = 0;
  std::vector<Limiter::Waiter> waiters(20);
  for (auto& w : waiters) {
    w.on_admit = [&](Ticket) { ++admitted; };
    l.Wait(&w);
  }
  world_.RunFor(std::chrono::milliseconds(10));
  EXPECT_GE(admitted, 9);
  EXPECT_LE(admitted, 11);
  world_.RunFor(std::chrono::milliseconds(20));
  EXPECT_EQ(admitted, 20);
}

TEST_F(QosTest, BandwidthBucketPacesBytes) {
  // 1 MiB/s with a 10 ms bucket holds ~10 KiB: two 4 KiB I/Os fit, the third waits ~2 ms.
  Limiter l(*r_, "bw", QosLimits{.bytes_per_s = 1 << 20});
  EXPECT_TRUE(l.TryAcquire(4096));
  EXPECT_TRUE(l.TryAcquire(4096));
  EXPECT_FALSE(l.TryAcquire(4096));
  bool admitted = false;
  Limiter::Waiter w;
  w.bytes = 4096;
  w.on_admit = [&](Ticket) { admitted = true; };
  l.Wait(&w);
  world_.RunFor(std::chrono::microseconds(500));
  EXPECT_FALSE(admitted);
  world_.RunFor(std::chrono::milliseconds(5));
  EXPECT_TRUE(admitted);
}

TEST_F(QosTest, CombinedLimitsAllApply) {
  Limiter l(*r_, "all", QosLimits{.max_in_flight = 3, .iops = 100000, .bytes_per_s = 1 << 30});
  auto a = l.TryAcquire(512), b = l.TryAcquire(512), c = l.TryAcquire(512);
  EXPECT_TRUE(a && b && c);
  EXPECT_FALSE(l.TryAcquire(512));
}

using QosDeathTest = QosTest;

TEST_F(QosDeathTest, ReleaseWithoutATicketFires) {
  Limiter l(*r_, "l", QosLimits{.max_in_flight = 1});
  EXPECT_DEATH(l.TEST_ReleaseWithoutTicket(), "released into a limiter that did not issue it");
}

TEST_F(QosDeathTest, DestroyingALimiterWithTicketsOutFires) {
  EXPECT_DEATH(
      {
        auto l = std::make_unique<Limiter>(*r_, "l", QosLimits{.max_in_flight = 1});
        Ticket t = std::move(*l->TryAcquire(1));
        l.reset();
      },
      "destroyed with tickets outstanding");
}

}  // namespace
}  // namespace nvmpath::blk
