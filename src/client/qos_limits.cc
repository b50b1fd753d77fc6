// nvmpath::QosLimits (include/nvmpath/client.h): the "iops=N,bw=SIZE/s,depth=N" text form.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <vector>

#include "base/size_text.h"
#include "nvmpath/client.h"

namespace nvmpath {

namespace {

Status QosError(std::string_view text, std::string_view why) {
  return InvalidArgument(fmt::format("QoS \"{}\": {} (expected iops=N,bw=SIZE/s,depth=N in any "
                                     "combination, e.g. iops=5000,bw=64MiB/s)",
                                     text, why));
}

Result<uint64_t> ParseCount(std::string_view text, std::string_view key, std::string_view value,
                            uint64_t max) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n == 0 ||
      n > max) {
    return QosError(text, fmt::format("{}=\"{}\" is not a number in 1..{}", key, value, max));
  }
  return n;
}

}  // namespace

Result<QosLimits> QosLimits::Parse(std::string_view text) {
  QosLimits q;
  if (text.empty() || text == "none") return q;
  std::vector<std::string_view> seen;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view part = text.substr(pos, comma - pos);
    pos = comma + 1;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return QosError(text, fmt::format("\"{}\" is not KEY=VALUE", part));
    }
    const std::string_view key = part.substr(0, eq);
    std::string_view value = part.substr(eq + 1);
    for (std::string_view k : seen) {
      if (k == key) return QosError(text, fmt::format("{} is given twice", key));
    }
    seen.push_back(key);
    if (key == "iops") {
      auto n = ParseCount(text, key, value, UINT64_MAX);
      if (!n.ok()) return n.status();
      q.iops = *n;
    } else if (key == "depth") {
      auto n = ParseCount(text, key, value, UINT32_MAX);
      if (!n.ok()) return n.status();
      q.depth = static_cast<uint32_t>(*n);
    } else if (key == "bw") {
      if (value.ends_with("/s")) value.remove_suffix(2);
      auto n = ParseSizeText(value);
      if (!n.ok()) return QosError(text, "bw: " + n.status().message());
      if (*n == 0) return QosError(text, "bw=0 (leave bw out for no bandwidth limit)");
      q.bytes_per_s = *n;
    } else {
      return QosError(text, fmt::format("unknown key \"{}\" (keys: iops, bw, depth)", key));
    }
  }
  return q;
}

std::string QosLimits::ToString() const {
  std::vector<std::string> parts;
  if (iops != 0) parts.push_back(fmt::format("iops={}", iops));
  if (bytes_per_s != 0) parts.push_back(fmt::format("bw={}/s", FormatSizeText(bytes_per_s)));
  if (depth != 0) parts.push_back(fmt::format("depth={}", depth));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ","));
}

}  // namespace nvmpath
