// sim::InvariantChecker — the guarantees the simulator checks after every event of a scenario:
//   1. every Bio completes exactly once (never twice; by quiesce, none is missing);
//   2. no application-visible error while the head has a usable path;
//   3. every QoS ticket is back with the limiter that issued it once nothing is in flight;
//   4. verify finds no data error (lost, torn, misdirected or stale write).
// It records violations instead of aborting so a scenario can report all of them with the seed
// that replays them. Each check is shown firing on a broken history in tests/sim/.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "blk/qos.h"
#include "nvmpath/status.h"

namespace nvmpath::sim {

class InvariantChecker {
 public:
  // A Bio with this id was submitted.
  void OnSubmit(uint64_t bio_id);
  // The application saw it complete with `status`.
  void OnComplete(uint64_t bio_id, const Status& status);
  // The head decided to fail it; `usable_path` says whether the head had a usable path then.
  void OnFailure(uint64_t bio_id, const Status& status, bool usable_path, const std::string& head);
  // A verify read found a data error.
  void OnDataError(const std::string& what);
  // A limiter's accounting: tickets in flight must equal `holders`, the attempts that hold one.
  void CheckTickets(const blk::Limiter& limiter, uint64_t holders);
  // Everything has quiesced: no Bio may be missing.
  void CheckQuiesced();

  const std::vector<std::string>& violations() const { return violations_; }
  bool ok() const { return violations_.empty(); }
  uint64_t app_errors() const { return app_errors_; }
  uint64_t completions() const { return completions_; }

 private:
  void Violation(std::string what);

  std::unordered_map<uint64_t, uint32_t> completions_by_id_;  // submitted, completed count
  std::vector<std::string> violations_;
  uint64_t app_errors_ = 0;
  uint64_t completions_ = 0;
};

}  // namespace nvmpath::sim
