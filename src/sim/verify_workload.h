// sim::VerifyWorkload — I/O against a head whose every read is checked against the last
// acknowledged write (shared/DESIGN.md "Simulation and verification").
//
// It keeps `queue_depth` Bios in flight over its LBA range, never two on overlapping blocks, so
// the expected content of each block is well defined: the generation of the last acknowledged
// write, or — after a write that failed — either that or the failed write's generation. A read
// that finds anything else is a data error (lost, torn, misdirected or stale write).
//
// Thread: runs on one reactor; Start, Stop and VerifyAll are called there. With a checker it
// installs the head's failure probe, which reads the head's home view: simulator only. Bio ids
// travel in Bio::user_tag.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "mpath/head.h"
#include "reactor/reactor.h"
#include "sim/invariants.h"
#include "reactor/sim_random.h"

namespace nvmpath::sim {

struct VerifyWorkloadOptions {
  uint32_t head_id = 0;
  uint64_t first_lba = 0;
  uint64_t blocks = 256;
  uint32_t block_size = 512;
  uint32_t max_blocks_per_io = 4;
  uint32_t queue_depth = 4;
  double write_fraction = 0.5;
  double write_zeroes_fraction = 0.05;
  uint64_t seed = 1;
  // After an error the slot waits this long before its next I/O, as an application would; without
  // it a head with no path at all would fail and reissue in zero virtual time forever.
  Duration error_backoff = std::chrono::microseconds(100);
};

struct VerifyStats {
  uint64_t ios = 0;
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t errors = 0;
  uint64_t blocks_verified = 0;
  uint64_t mismatches = 0;
};

class VerifyWorkload {
 public:
  // `checker` and `next_bio_id` may be null; ids are shared between workloads when given.
  VerifyWorkload(mpath::Head& head, reactor::Reactor& reactor, VerifyWorkloadOptions options,
                 InvariantChecker* checker, uint64_t* next_bio_id);
  ~VerifyWorkload();

  void Start();
  // Stops issuing; `drained` runs once nothing is in flight.
  void Stop(std::function<void()> drained);
  // After Stop has drained: reads every block once and verifies it; `done` runs at the end.
  void VerifyAll(std::function<void()> done);

  const VerifyStats& stats() const { return stats_; }
  uint64_t in_flight() const { return in_flight_; }

 private:
  struct Slot;
  struct BlockModel {
    uint64_t acked = 0;
    std::vector<uint64_t> possible;  // generations of failed writes that may have landed
    bool busy = false;
  };

  void Issue(Slot& slot);
  bool IssueVerifyRead(Slot& slot);
  void OnDone(Slot& slot);
  void CheckRead(Slot& slot);
  void MaybeFinish();

  mpath::Head& head_;
  mpath::HeadChannel& channel_;
  reactor::Reactor& reactor_;
  VerifyWorkloadOptions options_;
  InvariantChecker* checker_;
  uint64_t* next_bio_id_;
  uint64_t own_ids_ = 1;
  reactor::SimRandom rng_;
  std::vector<BlockModel> model_;
  std::vector<std::unique_ptr<Slot>> slots_;
  uint64_t next_generation_ = 1;
  uint64_t in_flight_ = 0;
  uint64_t backing_off_ = 0;  // slots waiting out error_backoff
  bool running_ = false;
  bool verifying_ = false;
  uint64_t verify_cursor_ = 0;
  std::function<void()> on_idle_;
  VerifyStats stats_;
};

}  // namespace nvmpath::sim
