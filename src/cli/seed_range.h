// Parsing of seed lists on the command line: "17", "1-1000", "1,5,9-12".
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "nvmpath/status.h"

namespace nvmpath::cli {

// At most 10 million seeds in one list, so a typo cannot ask for 2^64 runs.
Result<std::vector<uint64_t>> ParseSeedList(std::string_view text);

}  // namespace nvmpath::cli
