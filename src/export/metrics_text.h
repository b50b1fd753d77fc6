// exports::MetricsText — the Prometheus text exposition format (version 0.0.4), written family by
// family: a "# HELP" and a "# TYPE" line, then the family's samples, so every sample of a metric
// stays together as the format requires.
//
// Escaping as the format says: in label values a backslash, a double quote and a line feed become
// \\, \" and \n; in HELP text a backslash and a line feed. Label values come from the network (a
// subsystem NQN read from a discovery log), so bytes that are not valid UTF-8 are replaced by
// U+FFFD rather than passed on to a scraper that rejects them.
//
// Histograms take a simple bucket list (HistogramData): per-bucket counts with ascending upper
// bounds; the writer makes them cumulative, adds the +Inf bucket, _sum and _count.
//
// Metric and label names are the program's own constants: a malformed one is a bug (asserted).
// Thread: one writer per thread; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nvmpath::exports {

enum class MetricType { kCounter, kGauge, kHistogram };

// Label name → value, in the order they are written.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

struct HistogramBucket {
  double upper_bound = 0;  // "le", in the metric's unit (seconds for a latency)
  uint64_t count = 0;      // observations in this bucket alone (not cumulative)
};

// One histogram's state. `count` is every observation, those above the last bound included (they
// show in the +Inf bucket only).
// REQUIRES (asserted when written): bounds strictly ascending and finite; count >= the sum of the
// buckets' counts.
struct HistogramData {
  std::vector<HistogramBucket> buckets;
  uint64_t count = 0;
  double sum = 0;
};

class MetricsText {
 public:
  // Starts a family: HELP and TYPE lines. REQUIRES: a valid metric name not begun before.
  void Family(std::string_view name, MetricType type, std::string_view help);
  // One sample of the current family (counter or gauge). Integers are written exactly.
  void Sample(const MetricLabels& labels, uint64_t value);
  void Sample(const MetricLabels& labels, double value);
  // One histogram of the current family (a kHistogram family): _bucket lines (cumulative, with
  // le="+Inf"), _sum and _count.
  void Histogram(const MetricLabels& labels, const HistogramData& data);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Line(std::string_view suffix, const MetricLabels& labels, std::string_view extra_label,
            std::string_view extra_value, std::string_view value);

  std::string out_;
  std::string family_;
  MetricType type_ = MetricType::kGauge;
  std::vector<std::string> names_;  // every family begun, to refuse a second start
};

// Escapes a label value (and repairs invalid UTF-8) as the text format requires.
std::string EscapeLabelValue(std::string_view value);
// A float as the format writes it: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string FormatMetricValue(double value);

}  // namespace nvmpath::exports
