#include "sim/mem_namespace.h"

#include <cstring>

#include "base/assert.h"

namespace nvmpath::sim {

MemNamespace::MemNamespace(uint64_t capacity_blocks, uint32_t block_size)
    : capacity_blocks_(capacity_blocks), block_size_(block_size) {
  NVMP_ASSERT(block_size >= 512 && (block_size & (block_size - 1)) == 0);
  data_.resize(capacity_blocks * block_size);
}

void MemNamespace::Resize(uint64_t capacity_blocks) {
  capacity_blocks_ = capacity_blocks;
  data_.resize(capacity_blocks * block_size_);
}

nvme::NvmeStatus MemNamespace::Execute(blk::Op op, uint64_t lba, uint32_t nblocks,
                                       std::span<uint8_t> data) {
  using nvme::NvmeStatus;
  if (op == blk::Op::kFlush) return NvmeStatus();
  if (lba >= capacity_blocks_ || capacity_blocks_ - lba < nblocks) {
    return NvmeStatus::Of(nvme::sc::kLbaOutOfRange, /*dnr=*/true);
  }
  size_t off = lba * block_size_;
  size_t len = size_t{nblocks} * block_size_;
  switch (op) {
    case blk::Op::kRead:
      if (data.size() < len) return NvmeStatus::Of(nvme::sc::kDataSglLengthInvalid, true);
      std::memcpy(data.data(), data_.data() + off, len);
      break;
    case blk::Op::kWrite:
      if (data.size() < len) return NvmeStatus::Of(nvme::sc::kDataSglLengthInvalid, true);
      std::memcpy(data_.data() + off, data.data(), len);
      ++writes_executed_;
      break;
    case blk::Op::kWriteZeroes:
    case blk::Op::kDeallocate:
      std::memset(data_.data() + off, 0, len);
      ++writes_executed_;
      break;
    case blk::Op::kFlush:
      break;
  }
  return NvmeStatus();
}

}  // namespace nvmpath::sim
