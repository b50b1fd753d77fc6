#include "blk/capacity.h"

#include <fmt/format.h>

namespace nvmpath::blk {

Status CheckRange(const Bio& bio, uint64_t capacity_blocks, uint32_t block_size) {
  if (!HasRange(bio.op)) return Status::Ok();
  if (bio.nblocks == 0) {
    return InvalidArgument(fmt::format("{} of 0 blocks at LBA {}", OpName(bio.op), bio.lba));
  }
  if (bio.lba >= capacity_blocks || capacity_blocks - bio.lba < bio.nblocks) {
    return Status(Code::kOutOfRange,
                  fmt::format("{} of LBA {}+{} beyond capacity {} blocks", OpName(bio.op), bio.lba,
                              bio.nblocks, capacity_blocks));
  }
  if ((bio.op == Op::kRead || bio.op == Op::kWrite) &&
      bio.data.size() < bio.bytes(block_size)) {
    return InvalidArgument(fmt::format("{} of {} blocks needs {} bytes, buffer has {}",
                                       OpName(bio.op), bio.nblocks, bio.bytes(block_size),
                                       bio.data.size()));
  }
  return Status::Ok();
}

}  // namespace nvmpath::blk
