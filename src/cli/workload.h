// What `nvmpath bench` sends: the workloads, the I/O sequence each I/O thread generates, and the
// verify workload's block pattern.
//
// Every I/O thread has its own IoGenerator over its own WorkloadRegion; a generator is a few
// integers and Next() never allocates. Random workloads draw chunk-aligned LBAs uniformly from
// the region with a seeded PRNG (the same seed gives the same sequence); sequential ones walk the
// region and wrap. Sequential and verify regions of different threads are disjoint, so two
// threads never race on one block.
//
// Verify: each I/O writes one chunk with the pattern of (LBA, generation, seed) per block — the
// sim verify block (sim/verify_block.h) with the seed in its head-id field — then reads the chunk
// back and checks every block. The generation is the pass over the region (1, 2, ...), so a read
// that returns an older pass's data, another LBA's data, another run's data (seed) or a flipped
// byte (checksum) is a mismatch.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "nvmpath/status.h"

namespace nvmpath::cli {

enum class Workload { kRandRead, kRandWrite, kRead, kWrite, kRandRw, kVerify };
const char* WorkloadName(Workload w);
// Errors name the text and list the valid names.
Result<Workload> ParseWorkload(std::string_view name);

enum class IoOp : uint8_t { kRead, kWrite };

struct IoSpec {
  IoOp op = IoOp::kRead;
  uint64_t lba = 0;
  uint64_t generation = 0;  // verify only: the pass this write belongs to (from 1)
};

// `chunks` transfers of `chunk_blocks` blocks, the first at `first_lba`.
struct WorkloadRegion {
  uint64_t first_lba = 0;
  uint64_t chunks = 0;
  uint32_t chunk_blocks = 1;
};

// Thread `thread`'s share of the first `region_blocks` blocks: the whole region for random
// workloads, a disjoint slice (whole chunks) for sequential and verify ones. A slice may have 0
// chunks when the region has fewer chunks than threads.
WorkloadRegion ThreadRegion(Workload w, uint64_t region_blocks, uint32_t chunk_blocks,
                            unsigned thread, unsigned threads);

class IoGenerator {
 public:
  // REQUIRES: region.chunks > 0; read_percent <= 100 (randrw only).
  IoGenerator(Workload workload, WorkloadRegion region, unsigned read_percent, uint64_t seed);

  IoSpec Next();

 private:
  uint64_t NextRandom();  // splitmix64

  Workload workload_;
  WorkloadRegion region_;
  unsigned read_percent_;
  uint64_t random_state_;
  uint64_t cursor_ = 0;
};

// Fills `chunk` (whole blocks of `block_size`) for a verify write of `lba`.
void FillVerifyChunk(std::span<uint8_t> chunk, uint32_t block_size, uint32_t seed, uint64_t lba,
                     uint64_t generation);

struct VerifyOutcome {
  uint64_t blocks = 0;
  uint64_t mismatches = 0;
  std::string first_error;  // what the first mismatching block held; empty if none
};

// Checks a chunk read back from `lba` against what FillVerifyChunk wrote. Allocates only to
// describe a mismatch.
VerifyOutcome CheckVerifyChunk(std::span<const uint8_t> chunk, uint32_t block_size, uint32_t seed,
                               uint64_t lba, uint64_t generation);

}  // namespace nvmpath::cli
