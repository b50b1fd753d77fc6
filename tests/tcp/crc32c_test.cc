// Goal: Crc32c is the standard CRC32C whatever ISA-L's seed convention. Method: the published
// check value, the all-zero and all-ones 32-byte vectors of RFC 3720 (iSCSI) B.4, and
// incremental == one-shot.
#include "tcp/crc32c.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace nvmpath::tcp {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Crc32c, CheckValue) { EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u); }

TEST(Crc32c, Rfc3720Vectors) {
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), inc(32);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(inc), 0x46DD794Eu);
}

TEST(Crc32c, EmptyAndIncremental) {
  EXPECT_EQ(Crc32c({}), 0u);
  auto all = Bytes("The quick brown fox jumps over the lazy dog");
  uint32_t crc = 0;
  for (size_t i = 0; i < all.size(); i += 5) crc = Crc32cExtend(crc, all.subspan(i, std::min<size_t>(5, all.size() - i)));
  EXPECT_EQ(crc, Crc32c(all));
}

}  // namespace
}  // namespace nvmpath::tcp
