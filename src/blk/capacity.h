// The end-of-device check. It runs once, at the head, against the head's capacity; a Bio that a
// head dispatched to a path is never checked against that path's capacity again. A path being
// removed reports capacity 0 — checking there would turn a removal race into an application
// error while another path could serve the I/O (shared/seeds/001_aba0d76cf883c16f.txt).
#pragma once

#include <cstdint>

#include "blk/bio.h"
#include "nvmpath/status.h"

namespace nvmpath::blk {

// OK if the Bio's range lies within [0, capacity_blocks) and its buffer fits the range.
// Returns kOutOfRange ("read of LBA 100+8 beyond capacity 64 blocks") or kInvalidArgument.
Status CheckRange(const Bio& bio, uint64_t capacity_blocks, uint32_t block_size);

}  // namespace nvmpath::blk
