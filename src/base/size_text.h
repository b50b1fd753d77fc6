// Sizes as people write them: "4096", "64K", "64KiB", "1GiB". Binary units only — "MB" would be
// ambiguous (10^6 or 2^20), so it is refused with a hint.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nvmpath/status.h"

namespace nvmpath {

// Errors (kInvalidArgument) quote `text` and say what a size looks like; they carry no context,
// so callers add the field or option name.
Result<uint64_t> ParseSizeText(std::string_view text);
// The largest binary unit that divides `bytes` evenly: "64MiB", "1536KiB", "4095".
std::string FormatSizeText(uint64_t bytes);

}  // namespace nvmpath
