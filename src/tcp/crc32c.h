// CRC32C (Castagnoli), the NVMe/TCP header and data digest: reflected polynomial 0x82F63B78,
// initial value FFFFFFFFh, final XOR FFFFFFFFh; stored little-endian in the 4 digest bytes.
// Computed by ISA-L's crc32_iscsi (SSE4.2 / PCLMUL where the CPU has them).
#pragma once

#include <cstdint>
#include <span>

namespace nvmpath::tcp {

// Continues a CRC32C: Crc32cExtend(Crc32cExtend(0, a), b) == Crc32c(a ++ b).
uint32_t Crc32cExtend(uint32_t crc, std::span<const uint8_t> data);

// The CRC32C of `data`. Crc32c("123456789") == 0xE3069283 (the standard check value).
inline uint32_t Crc32c(std::span<const uint8_t> data) { return Crc32cExtend(0, data); }

}  // namespace nvmpath::tcp
