#include "sim/verify_block.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace nvmpath::sim {
namespace {

constexpr uint32_t kMagic = 0x5650564E;  // "NVPV"
constexpr size_t kChecksumOffset = 24;
constexpr size_t kPatternOffset = 28;

template <typename T>
void Put(std::span<uint8_t> b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);  // the machines are little-endian (x86-64)
}
template <typename T>
T Get(std::span<const uint8_t> b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

uint32_t Checksum(std::span<const uint8_t> b) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < b.size(); ++i) {
    uint8_t c = (i >= kChecksumOffset && i < kChecksumOffset + 4) ? 0 : b[i];
    h = (h ^ c) * 16777619u;
  }
  return h;
}

uint8_t PatternByte(uint64_t lba, uint64_t gen, size_t i) {
  uint64_t x = lba * 0x9E3779B97F4A7C15ull + gen * 0xC2B2AE3D27D4EB4Full + i;
  return static_cast<uint8_t>((x ^ (x >> 29)) & 0xFF);
}

}  // namespace

void FillVerifyBlock(std::span<uint8_t> block, uint32_t head_id, uint64_t lba, uint64_t generation) {
  Put<uint32_t>(block, 0, kMagic);
  Put<uint32_t>(block, 4, head_id);
  Put<uint64_t>(block, 8, lba);
  Put<uint64_t>(block, 16, generation);
  for (size_t i = kPatternOffset; i < block.size(); ++i) block[i] = PatternByte(lba, generation, i);
  Put<uint32_t>(block, kChecksumOffset, Checksum(block));
}

Result<uint64_t> ReadVerifyBlock(std::span<const uint8_t> block, uint32_t head_id, uint64_t lba) {
  if (std::all_of(block.begin(), block.end(), [](uint8_t b) { return b == 0; })) return uint64_t{0};
  if (Get<uint32_t>(block, 0) != kMagic) {
    return Status(Code::kDataLoss, fmt::format("LBA {}: not a verify block (bad magic)", lba));
  }
  if (Get<uint32_t>(block, kChecksumOffset) != Checksum(block)) {
    return Status(Code::kDataLoss, fmt::format("LBA {}: checksum mismatch (torn or corrupted)", lba));
  }
  if (Get<uint32_t>(block, 4) != head_id) {
    return Status(Code::kDataLoss, fmt::format("LBA {}: block of head {} found on head {}", lba,
                                               Get<uint32_t>(block, 4), head_id));
  }
  if (Get<uint64_t>(block, 8) != lba) {
    return Status(Code::kDataLoss, fmt::format("LBA {}: holds the block written for LBA {} "
                                               "(misdirected write)", lba, Get<uint64_t>(block, 8)));
  }
  return Get<uint64_t>(block, 16);
}

}  // namespace nvmpath::sim
