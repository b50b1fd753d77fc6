// Goal: the Discovery log layout (1024-B header and entries). Method: round trip and
// hand-checked offsets; NUMREC larger than the bytes read is an error naming NUMREC.
#include "nvme/discovery_log.h"

#include <gtest/gtest.h>

namespace nvmpath::nvme {
namespace {

DiscoveryLog Sample() {
  DiscoveryLog log;
  log.genctr = 3;
  DiscoveryLogEntry e;
  e.portid = 1;
  e.cntlid = 0xFFFF;
  e.asqsz = 128;
  e.trsvcid = "4420";
  e.subnqn = "nqn.2024-01.io.nvmpath:sub1";
  e.traddr = "127.0.0.1";
  e.treq = kTreqNotRequired;
  log.entries.push_back(e);
  e.portid = 2;
  e.trsvcid = "4421";
  log.entries.push_back(e);
  return log;
}

TEST(DiscoveryLog, RoundTripAndOffsets) {
  DiscoveryLog log = Sample();
  auto raw = log.Encode();
  ASSERT_EQ(raw.size(), 3u * 1024);
  EXPECT_EQ(raw[0], 3);      // GENCTR
  EXPECT_EQ(raw[8], 2);      // NUMREC
  const size_t e1 = 2048;
  EXPECT_EQ(raw[e1 + 0], 3);  // TRTYPE TCP
  EXPECT_EQ(raw[e1 + 1], 1);  // ADRFAM IPv4
  EXPECT_EQ(raw[e1 + 2], 2);  // SUBTYPE NVM
  EXPECT_EQ(raw[e1 + 3], 2);  // TREQ
  EXPECT_EQ(raw[e1 + 4], 2);  // PORTID
  EXPECT_EQ(raw[e1 + 32], '4');
  EXPECT_EQ(raw[e1 + 35], '1');
  EXPECT_EQ(raw[e1 + 36], ' ');  // TRSVCID space padded
  EXPECT_EQ(raw[e1 + 256], 'n');
  EXPECT_EQ(raw[e1 + 512], '1');
  auto back = DiscoveryLog::Decode(raw);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, log);
  auto header = DiscoveryLogHeader::Decode(std::span<const uint8_t>(raw).first(1024));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->numrec, 2u);
}

TEST(DiscoveryLog, RejectsNumrecBeyondBuffer) {
  auto raw = Sample().Encode();
  raw[8] = 3;
  auto r = DiscoveryLog::Decode(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("NUMREC 3"), std::string::npos);
  raw[15] = 0xFF;  // absurd NUMREC
  EXPECT_FALSE(DiscoveryLog::Decode(raw).ok());
  EXPECT_FALSE(DiscoveryLog::Decode(std::span<const uint8_t>(raw).first(1000)).ok());
}

TEST(DiscoveryLog, RejectsUnterminatedSubnqnNamingEntry) {
  auto raw = Sample().Encode();
  std::fill(raw.begin() + 2048 + 256, raw.begin() + 2048 + 512, 'z');
  auto r = DiscoveryLog::Decode(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("entry 1"), std::string::npos);
}

}  // namespace
}  // namespace nvmpath::nvme
