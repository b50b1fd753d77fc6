// Little-endian field access on byte buffers. Every NVMe and NVMe/TCP structure is little-endian
// on the wire; reading through memcpy (never a cast to a packed struct) keeps the code free of
// alignment and aliasing traps, and lets the compiler emit a plain load on x86.
//
// REQUIRES (all functions): offset + sizeof(field) <= buffer size. Callers check lengths of
// untrusted input before calling these; an out-of-range access here is a bug and asserts.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "base/assert.h"

namespace nvmpath::nvme {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);

namespace internal {
template <typename T>
constexpr T ByteSwap(T v) {
  if constexpr (sizeof(T) == 1) return v;
  else if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
  else if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
  else return __builtin_bswap64(v);
}
template <typename T>
T LoadLe(std::span<const uint8_t> buf, size_t offset) {
  NVMP_ASSERT(offset <= buf.size() && buf.size() - offset >= sizeof(T));
  T v;
  std::memcpy(&v, buf.data() + offset, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) v = ByteSwap(v);
  return v;
}
template <typename T>
void StoreLe(std::span<uint8_t> buf, size_t offset, T v) {
  NVMP_ASSERT(offset <= buf.size() && buf.size() - offset >= sizeof(T));
  if constexpr (std::endian::native == std::endian::big) v = ByteSwap(v);
  std::memcpy(buf.data() + offset, &v, sizeof(T));
}
}  // namespace internal

inline uint8_t Get8(std::span<const uint8_t> b, size_t off) { return internal::LoadLe<uint8_t>(b, off); }
inline uint16_t GetLe16(std::span<const uint8_t> b, size_t off) { return internal::LoadLe<uint16_t>(b, off); }
inline uint32_t GetLe32(std::span<const uint8_t> b, size_t off) { return internal::LoadLe<uint32_t>(b, off); }
inline uint64_t GetLe64(std::span<const uint8_t> b, size_t off) { return internal::LoadLe<uint64_t>(b, off); }

inline void Put8(std::span<uint8_t> b, size_t off, uint8_t v) { internal::StoreLe(b, off, v); }
inline void PutLe16(std::span<uint8_t> b, size_t off, uint16_t v) { internal::StoreLe(b, off, v); }
inline void PutLe32(std::span<uint8_t> b, size_t off, uint32_t v) { internal::StoreLe(b, off, v); }
inline void PutLe64(std::span<uint8_t> b, size_t off, uint64_t v) { internal::StoreLe(b, off, v); }

// Copies `n` raw bytes at `off` into `out` (fixed arrays: GUIDs, EUI64, UUIDs).
inline void GetBytes(std::span<const uint8_t> b, size_t off, std::span<uint8_t> out) {
  NVMP_ASSERT(off <= b.size() && b.size() - off >= out.size());
  if (!out.empty()) std::memcpy(out.data(), b.data() + off, out.size());
}
inline void PutBytes(std::span<uint8_t> b, size_t off, std::span<const uint8_t> in) {
  NVMP_ASSERT(off <= b.size() && b.size() - off >= in.size());
  if (!in.empty()) std::memcpy(b.data() + off, in.data(), in.size());
}

// ASCII string fields that NVMe pads with spaces (SN, MN, FR) and NUL-padded ones (NQNs,
// TRADDR, TRSVCID). Get* trims the padding; Put* truncates to `width` and pads.
inline std::string GetPaddedString(std::span<const uint8_t> b, size_t off, size_t width) {
  NVMP_ASSERT(off <= b.size() && b.size() - off >= width);
  std::string s(reinterpret_cast<const char*>(b.data() + off), width);
  size_t end = s.find_last_not_of(std::string_view(" \0", 2));
  return end == std::string::npos ? std::string() : s.substr(0, end + 1);
}
inline std::string GetNulString(std::span<const uint8_t> b, size_t off, size_t width) {
  NVMP_ASSERT(off <= b.size() && b.size() - off >= width);
  const char* p = reinterpret_cast<const char*>(b.data() + off);
  return std::string(p, strnlen(p, width));
}
inline void PutPaddedString(std::span<uint8_t> b, size_t off, size_t width, std::string_view s,
                            char pad) {
  NVMP_ASSERT(off <= b.size() && b.size() - off >= width);
  size_t n = std::min(width, s.size());
  std::memcpy(b.data() + off, s.data(), n);
  std::memset(b.data() + off + n, pad, width - n);
}
inline void PutSpaceString(std::span<uint8_t> b, size_t off, size_t width, std::string_view s) {
  PutPaddedString(b, off, width, s, ' ');
}
inline void PutNulString(std::span<uint8_t> b, size_t off, size_t width, std::string_view s) {
  PutPaddedString(b, off, width, s, '\0');
}

}  // namespace nvmpath::nvme
