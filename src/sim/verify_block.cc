#include "sim/verify_block.h"

#include <fmt/format.h>

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

// The pattern and the checksum go a 64-bit word at a time: they are most of what a storm's seed
// costs (every block written is filled, every block read is checked), and byte at a time they
// were 70% of the remap storm's CPU time (bench/README.md "The storms in CI").
uint64_t PatternWord(uint64_t lba, uint64_t gen, size_t offset) {
  uint64_t x = lba * 0x9E3779B97F4A7C15ull + gen * 0xC2B2AE3D27D4EB4Full + offset;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 32);
}

// A 64-bit FNV-style hash over the block's words, the checksum's own 4 bytes read as zero, folded
// to 32 bits. Each step (xor, multiply by an odd constant, rotate) is a bijection of the state, so
// a block differing in exactly one word always hashes differently.
uint32_t Checksum(std::span<const uint8_t> b) {
  uint64_t h = 0xCBF29CE484222325ull;
  size_t i = 0;
  for (; i + 8 <= b.size(); i += 8) {
    uint64_t w = Get<uint64_t>(b, i);
    if (i == kChecksumOffset) w &= 0xFFFFFFFF00000000ull;  // bytes 24..27, little-endian
    h = (h ^ w) * 0x100000001B3ull;
    h = (h << 31) | (h >> 33);
  }
  for (; i < b.size(); ++i) h = (h ^ b[i]) * 0x100000001B3ull;
  return static_cast<uint32_t>(h ^ (h >> 32));
}

bool AllZero(std::span<const uint8_t> b) {
  size_t i = 0;
  uint64_t any = 0;
  for (; i + 8 <= b.size(); i += 8) any |= Get<uint64_t>(b, i);
  for (; i < b.size(); ++i) any |= b[i];
  return any == 0;
}

}  // namespace

void FillVerifyBlock(std::span<uint8_t> block, uint32_t head_id, uint64_t lba, uint64_t generation) {
  Put<uint32_t>(block, 0, kMagic);
  Put<uint32_t>(block, 4, head_id);
  Put<uint64_t>(block, 8, lba);
  Put<uint64_t>(block, 16, generation);
  static_assert(kPatternOffset % 8 == 4 && kChecksumOffset % 8 == 0);
  Put<uint32_t>(block, kPatternOffset, static_cast<uint32_t>(PatternWord(lba, generation, 0)));
  size_t i = kPatternOffset + 4;
  for (; i + 8 <= block.size(); i += 8) Put<uint64_t>(block, i, PatternWord(lba, generation, i));
  for (; i < block.size(); ++i) block[i] = static_cast<uint8_t>(PatternWord(lba, generation, i));
  Put<uint32_t>(block, kChecksumOffset, Checksum(block));
}

Result<uint64_t> ReadVerifyBlock(std::span<const uint8_t> block, uint32_t head_id, uint64_t lba) {
  if (Get<uint32_t>(block, 0) != kMagic) {
    if (AllZero(block)) return uint64_t{0};
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
