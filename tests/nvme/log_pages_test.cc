// Goal: Error Information, SMART / Health and Changed Namespace List layouts. Method: round
// trips with every field set, plus hand-checked offsets for a few fields.
#include "nvme/log_pages.h"

#include <gtest/gtest.h>

namespace nvmpath::nvme {
namespace {

TEST(ErrorInfo, RoundTripAndOffsets) {
  ErrorInfoEntry e{5, 1, 0x10, NvmeStatus::Of(sc::kLbaOutOfRange), 0x28, 0x1000, 1, 0, 3, 7, 9};
  std::array<uint8_t, 128> raw{};
  e.Encode(std::span<uint8_t>(raw).first<64>());
  EXPECT_EQ(raw[0], 5);
  EXPECT_EQ(raw[10], 0x10);
  EXPECT_EQ(raw[12], 0x00);  // 0x080 << 1 = 0x100
  EXPECT_EQ(raw[13], 0x01);
  EXPECT_EQ(raw[24], 1);
  EXPECT_EQ(raw[29], 3);
  auto all = DecodeErrorInfoLog(raw);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], e);
  EXPECT_EQ(all[1].error_count, 0u);
  EXPECT_EQ(DecodeErrorInfoLog(std::span<const uint8_t>(raw).first(100)).size(), 1u);
}

TEST(SmartLog, RoundTripIncluding128BitCounters) {
  SmartLog s;
  s.critical_warning = 1;
  s.temperature_kelvin = 310;
  s.avail_spare = 100;
  s.spare_threshold = 10;
  s.percent_used = 3;
  s.data_units_read = (Uint128{1} << 64) + 5;
  s.data_units_written = 7;
  s.host_reads = 8;
  s.host_writes = 9;
  s.power_cycles = 10;
  s.media_errors = 11;
  s.error_log_entries = 12;
  s.warning_temp_time_min = 13;
  s.critical_temp_time_min = 14;
  s.temp_sensors[7] = 300;
  std::array<uint8_t, 512> raw{};
  s.Encode(raw);
  EXPECT_EQ(raw[1] | raw[2] << 8, 310);
  EXPECT_EQ(raw[32], 5);
  EXPECT_EQ(raw[40], 1);  // high half of DATA UNITS READ
  EXPECT_EQ(raw[160], 11);
  EXPECT_EQ(raw[214] | raw[215] << 8, 300);
  auto back = SmartLog::Decode(raw);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
  EXPECT_FALSE(SmartLog::Decode(std::span<const uint8_t>(raw).first(511)).ok());
}

TEST(ChangedNsList, RoundTripOverflowAndErrors) {
  std::array<uint8_t, 4096> raw{};
  ChangedNsList l{false, {4, 9}};
  l.Encode(raw);
  auto back = ChangedNsList::Decode(raw);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, l);

  ChangedNsList big;
  big.nsids.resize(1025, 1);
  big.Encode(raw);
  back = ChangedNsList::Decode(raw);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->overflow);
  EXPECT_TRUE(back->nsids.empty());

  raw.fill(0);
  raw[0] = 1;
  raw[4] = raw[5] = raw[6] = raw[7] = 0xFF;
  EXPECT_FALSE(ChangedNsList::Decode(raw).ok());
}

}  // namespace
}  // namespace nvmpath::nvme
