// blk::AttemptList: recycling without allocation, the live list teardown walks, and its checks.
#include "blk/attempt_list.h"

#include <gtest/gtest.h>

namespace nvmpath::blk {
namespace {

struct FakeAttempt {
  int id = 0;
  FakeAttempt* prev = nullptr;
  FakeAttempt* next = nullptr;
};

TEST(AttemptList, AcquireReleaseRecyclesAndTracksLive) {
  AttemptList<FakeAttempt> list;
  FakeAttempt* a = list.Acquire();
  FakeAttempt* b = list.Acquire();
  FakeAttempt* c = list.Acquire();
  EXPECT_EQ(list.size(), 3u);
  list.Release(b);  // from the middle
  EXPECT_EQ(list.Live(), (std::vector<FakeAttempt*>{c, a}));
  FakeAttempt* again = list.Acquire();
  EXPECT_EQ(again, b) << "a released attempt is reused";
  for (FakeAttempt* x : list.Live()) list.Release(x);
  EXPECT_EQ(list.size(), 0u);
  EXPECT_TRUE(list.Live().empty());
}

TEST(AttemptListDeathTest, DestroyedWithLiveAttemptsFires) {
  EXPECT_DEATH(
      {
        AttemptList<FakeAttempt> list;
        list.Acquire();
      },
      "attempt list destroyed with live attempts");
}

TEST(AttemptListDeathTest, ReleasingMoreThanAcquiredFires) {
  EXPECT_DEATH(
      {
        AttemptList<FakeAttempt> list;
        FakeAttempt* a = list.Acquire();
        list.Release(a);
        list.Release(a);
      },
      "attempt released twice");
}

}  // namespace
}  // namespace nvmpath::blk
