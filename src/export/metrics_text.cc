#include "export/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "base/assert.h"

namespace nvmpath::exports {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool IsNameChar(char c, bool first, bool colon_ok) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return alpha || (colon_ok && c == ':') || (!first && c >= '0' && c <= '9');
}

bool IsValidName(std::string_view name, bool colon_ok) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, colon_ok)) return false;
  }
  return true;
}

// The length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not one (overlong
// forms, surrogates and code points above U+10FFFF included).
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = b(0);
  if (lead < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((lead & 0xE0) == 0xC0) {
    n = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    n = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    n = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  constexpr std::array<uint32_t, 5> kMinForLength = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void AppendEscapedHelp(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  while (!value.empty()) {
    const size_t n = Utf8SequenceLength(value);
    if (n == 0) {
      out += kReplacement;
      value.remove_prefix(1);
      continue;
    }
    if (n == 1) {
      const char c = value[0];
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '"') {
        out += "\\\"";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    } else {
      out.append(value.substr(0, n));
    }
    value.remove_prefix(n);
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

void MetricsText::Family(std::string_view name, MetricType type, std::string_view help) {
  NVMP_ASSERT(IsValidName(name, true), "metric name is not valid in the text format");
  NVMP_ASSERT(std::find(names_.begin(), names_.end(), name) == names_.end(),
              "a metric family was started twice");
  names_.emplace_back(name);
  family_ = std::string(name);
  type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  AppendEscapedHelp(out_, help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += type == MetricType::kCounter ? " counter\n"
          : type == MetricType::kGauge ? " gauge\n"
                                       : " histogram\n";
}

void MetricsText::Line(std::string_view suffix, const MetricLabels& labels,
                       std::string_view extra_label, std::string_view extra_value,
                       std::string_view value) {
  out_ += family_;
  out_ += suffix;
  if (!labels.empty() || !extra_label.empty()) {
    out_ += '{';
    bool first = true;
    auto add = [&](std::string_view name, std::string_view v) {
      NVMP_ASSERT(IsValidName(name, false) && !name.starts_with("__"),
                  "label name is not valid in the text format");
      if (!first) out_ += ',';
      first = false;
      out_ += name;
      out_ += "=\"";
      out_ += EscapeLabelValue(v);
      out_ += '"';
    };
    for (const auto& [name, v] : labels) add(name, v);
    if (!extra_label.empty()) add(extra_label, extra_value);
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void MetricsText::Sample(const MetricLabels& labels, uint64_t value) {
  NVMP_ASSERT(!family_.empty() && type_ != MetricType::kHistogram);
  Line("", labels, {}, {}, std::to_string(value));
}

void MetricsText::Sample(const MetricLabels& labels, double value) {
  NVMP_ASSERT(!family_.empty() && type_ != MetricType::kHistogram);
  Line("", labels, {}, {}, FormatMetricValue(value));
}

void MetricsText::Histogram(const MetricLabels& labels, const HistogramData& data) {
  NVMP_ASSERT(!family_.empty() && type_ == MetricType::kHistogram);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < data.buckets.size(); ++i) {
    const HistogramBucket& b = data.buckets[i];
    NVMP_ASSERT(std::isfinite(b.upper_bound), "histogram bound is not finite");
    NVMP_ASSERT(i == 0 || b.upper_bound > data.buckets[i - 1].upper_bound,
                "histogram bounds are not strictly ascending");
    cumulative += b.count;
    Line("_bucket", labels, "le", FormatMetricValue(b.upper_bound), std::to_string(cumulative));
  }
  NVMP_ASSERT(data.count >= cumulative, "histogram count is below the sum of its buckets");
  Line("_bucket", labels, "le", "+Inf", std::to_string(data.count));
  Line("_sum", labels, {}, {}, FormatMetricValue(data.sum));
  Line("_count", labels, {}, {}, std::to_string(data.count));
}

}  // namespace nvmpath::exports
