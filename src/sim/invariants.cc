#include "sim/invariants.h"

#include <fmt/format.h>

#include <algorithm>

namespace nvmpath::sim {

void InvariantChecker::Violation(std::string what) {
  // Bound the list: one broken invariant tends to repeat thousands of times.
  if (violations_.size() < 50) violations_.push_back(std::move(what));
}

void InvariantChecker::OnSubmit(uint64_t bio_id) {
  auto [it, inserted] = completions_by_id_.emplace(bio_id, 0);
  if (!inserted) Violation(fmt::format("Bio {} submitted twice", bio_id));
}

void InvariantChecker::OnComplete(uint64_t bio_id, const Status& status) {
  ++completions_;
  auto it = completions_by_id_.find(bio_id);
  if (it == completions_by_id_.end()) {
    Violation(fmt::format("Bio {} completed but was never submitted", bio_id));
  } else if (++it->second > 1) {
    Violation(fmt::format("Bio {} completed {} times", bio_id, it->second));
  }
  if (!status.ok()) ++app_errors_;
}

void InvariantChecker::OnFailure(uint64_t bio_id, const Status& status, bool usable_path,
                                 const std::string& head) {
  if (usable_path) {
    Violation(fmt::format("Bio {} failed with \"{}\" while {} had a usable path", bio_id,
                          status.ToString(), head));
  }
}

void InvariantChecker::OnDataError(const std::string& what) { Violation("verify: " + what); }

void InvariantChecker::CheckTickets(const blk::Limiter& limiter, uint64_t holders) {
  if (limiter.in_flight() != holders) {
    Violation(fmt::format("{}: {} tickets outstanding but {} attempts hold one", limiter.name(),
                          limiter.in_flight(), holders));
  }
  if (limiter.issued() != limiter.released() + limiter.in_flight()) {
    Violation(fmt::format("{}: issued {} != released {} + in flight {}", limiter.name(),
                          limiter.issued(), limiter.released(), limiter.in_flight()));
  }
}

void InvariantChecker::CheckQuiesced() {
  std::vector<uint64_t> missing;
  for (auto& [id, n] : completions_by_id_) {
    if (n == 0) missing.push_back(id);
  }
  std::sort(missing.begin(), missing.end());
  for (size_t i = 0; i < missing.size() && i < 5; ++i) {
    Violation(fmt::format("Bio {} never completed", missing[i]));
  }
  if (missing.size() > 5) Violation(fmt::format("... and {} more never completed", missing.size() - 5));
}

}  // namespace nvmpath::sim
