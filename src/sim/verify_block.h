// The verify workload's block format. Every block written carries who wrote it, where, and which
// write it was, plus a checksum over the whole block, so a read can tell a lost write (older
// generation), a torn one (bad checksum), a misdirected one (wrong LBA or head) and a stale one
// (a generation older than the last acknowledged write) apart.
//
// Layout (little-endian): magic u32 "NVPV" @0, head id u32 @4, LBA u64 @8, generation u64 @16,
// checksum u32 @24 (a 64-bit FNV-style hash over the block's words with these 4 bytes zero, folded
// to 32 bits), pattern @28..end derived from (LBA, generation) a word at a time. An all-zero block is generation 0 (never written, or deallocated).
#pragma once

#include <cstdint>
#include <span>

#include "nvmpath/status.h"

namespace nvmpath::sim {

void FillVerifyBlock(std::span<uint8_t> block, uint32_t head_id, uint64_t lba, uint64_t generation);

// The generation a block holds, or kDataLoss naming what is wrong with it.
Result<uint64_t> ReadVerifyBlock(std::span<const uint8_t> block, uint32_t head_id, uint64_t lba);

}  // namespace nvmpath::sim
