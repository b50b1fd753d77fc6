#include "tcp/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace nvmpath::tcp {

// crc32_iscsi works on the raw CRC register: it neither inverts the seed nor the result (SPDK
// wraps it the same way). The standard CRC32C inverts both, hence the ~ on the way in and out.
// Its length is an int, so very large buffers go in slices.
uint32_t Crc32cExtend(uint32_t crc, std::span<const uint8_t> data) {
  uint32_t reg = ~crc;
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), size_t{1} << 30);
    reg = crc32_iscsi(const_cast<unsigned char*>(data.data()), static_cast<int>(n), reg);
    data = data.subspan(n);
  }
  return ~reg;
}

}  // namespace nvmpath::tcp
