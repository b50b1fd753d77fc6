#include "cli/seed_range.h"

#include <charconv>
#include <string>

namespace nvmpath::cli {
namespace {

constexpr uint64_t kMaxSeeds = 10'000'000;

Result<uint64_t> ParseNumber(std::string_view s, std::string_view whole) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return InvalidArgument("--seeds: '" + std::string(s) + "' in '" + std::string(whole) +
                           "' is not a number (expected N, A-B or a comma list of those)");
  }
  return v;
}

}  // namespace

Result<std::vector<uint64_t>> ParseSeedList(std::string_view text) {
  std::vector<uint64_t> seeds;
  if (text.empty()) return InvalidArgument("--seeds: empty seed list");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      auto v = ParseNumber(item, text);
      if (!v.ok()) return v.status();
      seeds.push_back(*v);
    } else {
      auto lo = ParseNumber(item.substr(0, dash), text);
      if (!lo.ok()) return lo.status();
      auto hi = ParseNumber(item.substr(dash + 1), text);
      if (!hi.ok()) return hi.status();
      if (*hi < *lo) {
        return InvalidArgument("--seeds: range '" + std::string(item) + "' runs backwards");
      }
      if (*hi - *lo >= kMaxSeeds || seeds.size() + (*hi - *lo + 1) > kMaxSeeds) {
        return InvalidArgument("--seeds: more than 10000000 seeds");
      }
      for (uint64_t s = *lo; s <= *hi; ++s) seeds.push_back(s);
    }
    if (seeds.size() > kMaxSeeds) return InvalidArgument("--seeds: more than 10000000 seeds");
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return seeds;
}

}  // namespace nvmpath::cli
