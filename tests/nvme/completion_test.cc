// Goal: the 16-byte CQE codec. Method: hand-written bytes checked against field offsets from
// the specification, and random round trips.
#include "nvme/completion.h"

#include <gtest/gtest.h>

#include <random>

namespace nvmpath::nvme {
namespace {

TEST(Completion, GoldenBytes) {
  Completion c{0x11223344, 0x55667788, 0x0102, 0x0003, 0xBEEF,
               NvmeStatus::Of(sc::kAnaInaccessible, /*dnr=*/true), true};
  auto b = c.Encode();
  const std::array<uint8_t, 16> want = {0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55,
                                        0x02, 0x01, 0x03, 0x00, 0xEF, 0xBE,
                                        // status field 0x4302 << 1 | phase
                                        0x05, 0x86};
  EXPECT_EQ(b, want);
  Completion d = Completion::Decode(b);
  EXPECT_EQ(d, c);
  EXPECT_TRUE(d.status.dnr());
  EXPECT_EQ(d.status.code(), sc::kAnaInaccessible);
  EXPECT_EQ(d.result64(), 0x5566778811223344ull);
}

TEST(Completion, RoundTripRandom) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::array<uint8_t, 16> raw;
    for (auto& b : raw) b = static_cast<uint8_t>(rng());
    EXPECT_EQ(Completion::Decode(raw).Encode(), raw);
  }
}

}  // namespace
}  // namespace nvmpath::nvme
