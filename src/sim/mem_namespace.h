// sim::MemNamespace — the data of one namespace held in memory, shared by the in-process paths
// (sim::MemPath) that reach it, the way one target namespace is shared by several ports.
//
// Thread: Execute may run on several reactors at once for disjoint ranges (the block layer above
// never has two overlapping writes in flight); Resize only while no I/O runs on other threads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "blk/bio.h"
#include "nvme/status.h"

namespace nvmpath::sim {

class MemNamespace {
 public:
  MemNamespace(uint64_t capacity_blocks, uint32_t block_size);

  uint64_t capacity_blocks() const { return capacity_blocks_; }
  uint32_t block_size() const { return block_size_; }

  // Grows (new blocks read as zeroes) or shrinks the namespace.
  void Resize(uint64_t capacity_blocks);

  // Executes one command the way a controller would, checking the range against the namespace's
  // own size (LBA Out of Range). Deallocated blocks read as zeroes.
  nvme::NvmeStatus Execute(blk::Op op, uint64_t lba, uint32_t nblocks, std::span<uint8_t> data);

  uint64_t writes_executed() const { return writes_executed_; }

 private:
  uint64_t capacity_blocks_;
  uint32_t block_size_;
  std::vector<uint8_t> data_;
  uint64_t writes_executed_ = 0;
};

}  // namespace nvmpath::sim
