// Seed lists on the command line: the forms accepted and the error for each malformed one.
#include "cli/seed_range.h"

#include <gtest/gtest.h>

namespace nvmpath::cli {
namespace {

TEST(SeedRange, AcceptsSingleRangeAndList) {
  EXPECT_EQ(*ParseSeedList("17"), std::vector<uint64_t>{17});
  EXPECT_EQ(*ParseSeedList("1-4"), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(*ParseSeedList("1,5,9-10"), (std::vector<uint64_t>{1, 5, 9, 10}));
  EXPECT_EQ(ParseSeedList("1-1000")->size(), 1000u);
}

TEST(SeedRange, RejectsMalformedWithTheOffendingPart) {
  auto r = ParseSeedList("1-x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'x' in '1-x' is not a number"), std::string::npos);
  EXPECT_FALSE(ParseSeedList("").ok());
  EXPECT_FALSE(ParseSeedList("5,").ok());
  EXPECT_NE(ParseSeedList("9-3").status().message().find("runs backwards"), std::string::npos);
  EXPECT_NE(ParseSeedList("0-99999999999").status().message().find("more than"), std::string::npos);
}

}  // namespace
}  // namespace nvmpath::cli
