#include "base/size_text.h"

#include <fmt/format.h>

#include <charconv>

namespace nvmpath {

namespace {

struct Unit {
  std::string_view name;
  unsigned shift;
};

constexpr Unit kUnits[] = {{"", 0},     {"B", 0},  {"K", 10},   {"KiB", 10}, {"M", 20},
                           {"MiB", 20}, {"G", 30}, {"GiB", 30}, {"T", 40},   {"TiB", 40}};

}  // namespace

Result<uint64_t> ParseSizeText(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view number = text.substr(0, digits);
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (number.empty()) {
    return InvalidArgument(
        fmt::format("\"{}\" is not a size (examples: 4096, \"64MiB\", \"1GiB\")", text));
  }
  const Unit* found = nullptr;
  for (const Unit& u : kUnits) {
    if (u.name == unit) found = &u;
  }
  if (found == nullptr) {
    return InvalidArgument(fmt::format(
        "unknown unit \"{}\" in \"{}\" (use B, KiB, MiB, GiB or TiB)", unit, text));
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc() || end != number.data() + number.size() ||
      (found->shift > 0 && n > (UINT64_MAX >> found->shift))) {
    return InvalidArgument(fmt::format("\"{}\" is too large", text));
  }
  return n << found->shift;
}

std::string FormatSizeText(uint64_t bytes) {
  static constexpr Unit kShown[] = {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  for (const Unit& u : kShown) {
    const uint64_t mask = (uint64_t{1} << u.shift) - 1;
    if (bytes != 0 && (bytes & mask) == 0) return fmt::format("{}{}", bytes >> u.shift, u.name);
  }
  return fmt::format("{}", bytes);
}

}  // namespace nvmpath
