#include "cli/workload.h"

#include <fmt/format.h>

#include "base/assert.h"
#include "sim/verify_block.h"

namespace nvmpath::cli {

const char* WorkloadName(Workload w) {
  switch (w) {
    case Workload::kRandRead:
      return "randread";
    case Workload::kRandWrite:
      return "randwrite";
    case Workload::kRead:
      return "read";
    case Workload::kWrite:
      return "write";
    case Workload::kRandRw:
      return "randrw";
    case Workload::kVerify:
      return "verify";
  }
  return "?";
}

Result<Workload> ParseWorkload(std::string_view name) {
  for (Workload w : {Workload::kRandRead, Workload::kRandWrite, Workload::kRead, Workload::kWrite,
                     Workload::kRandRw, Workload::kVerify}) {
    if (name == WorkloadName(w)) return w;
  }
  return InvalidArgument(fmt::format(
      "unknown workload '{}' (expected randread, randwrite, read, write, randrw or verify)", name));
}

WorkloadRegion ThreadRegion(Workload w, uint64_t region_blocks, uint32_t chunk_blocks,
                            unsigned thread, unsigned threads) {
  NVMP_ASSERT(chunk_blocks > 0 && threads > 0 && thread < threads);
  const uint64_t chunks = region_blocks / chunk_blocks;
  if (w == Workload::kRandRead || w == Workload::kRandWrite || w == Workload::kRandRw) {
    return {.first_lba = 0, .chunks = chunks, .chunk_blocks = chunk_blocks};
  }
  const uint64_t first = chunks * thread / threads;
  const uint64_t end = chunks * (thread + 1) / threads;
  return {.first_lba = first * chunk_blocks, .chunks = end - first, .chunk_blocks = chunk_blocks};
}

IoGenerator::IoGenerator(Workload workload, WorkloadRegion region, unsigned read_percent,
                         uint64_t seed)
    : workload_(workload), region_(region), read_percent_(read_percent), random_state_(seed) {
  NVMP_ASSERT(region.chunks > 0, "IoGenerator over an empty region");
  NVMP_ASSERT(read_percent <= 100);
}

uint64_t IoGenerator::NextRandom() {
  uint64_t z = (random_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

IoSpec IoGenerator::Next() {
  auto random_chunk = [this] {
    // Lemire's multiply-shift: uniform enough for a benchmark, no division.
    return static_cast<uint64_t>((static_cast<unsigned __int128>(NextRandom()) * region_.chunks) >>
                                 64);
  };
  auto lba_of = [this](uint64_t chunk) { return region_.first_lba + chunk * region_.chunk_blocks; };
  switch (workload_) {
    case Workload::kRandRead:
      return {IoOp::kRead, lba_of(random_chunk())};
    case Workload::kRandWrite:
      return {IoOp::kWrite, lba_of(random_chunk())};
    case Workload::kRandRw: {
      const IoOp op = NextRandom() % 100 < read_percent_ ? IoOp::kRead : IoOp::kWrite;
      return {op, lba_of(random_chunk())};
    }
    case Workload::kRead:
    case Workload::kWrite: {
      const uint64_t chunk = cursor_++ % region_.chunks;
      return {workload_ == Workload::kRead ? IoOp::kRead : IoOp::kWrite, lba_of(chunk)};
    }
    case Workload::kVerify: {
      const uint64_t chunk = cursor_ % region_.chunks;
      const uint64_t generation = cursor_ / region_.chunks + 1;
      ++cursor_;
      return {IoOp::kWrite, lba_of(chunk), generation};
    }
  }
  NVMP_ASSERT(false, "unknown workload");
  return {};
}

void FillVerifyChunk(std::span<uint8_t> chunk, uint32_t block_size, uint32_t seed, uint64_t lba,
                     uint64_t generation) {
  NVMP_ASSERT(block_size > 0 && chunk.size() % block_size == 0);
  for (size_t off = 0, i = 0; off < chunk.size(); off += block_size, ++i) {
    sim::FillVerifyBlock(chunk.subspan(off, block_size), seed, lba + i, generation);
  }
}

VerifyOutcome CheckVerifyChunk(std::span<const uint8_t> chunk, uint32_t block_size, uint32_t seed,
                               uint64_t lba, uint64_t generation) {
  NVMP_ASSERT(block_size > 0 && chunk.size() % block_size == 0);
  VerifyOutcome out;
  for (size_t off = 0, i = 0; off < chunk.size(); off += block_size, ++i) {
    ++out.blocks;
    auto held = sim::ReadVerifyBlock(chunk.subspan(off, block_size), seed, lba + i);
    if (held.ok() && *held == generation) continue;
    ++out.mismatches;
    if (out.first_error.empty()) {
      out.first_error = held.ok() ? fmt::format("LBA {}: holds generation {}, expected {}", lba + i,
                                                *held, generation)
                                  : held.status().message();
    }
  }
  return out;
}

}  // namespace nvmpath::cli
