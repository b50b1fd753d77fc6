#include "base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace nvmpath::base {

void AssertFail(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "nvmpath: assertion failed: %s at %s:%d%s%s\n", expr, file, line,
               msg[0] ? ": " : "", msg);
  std::fflush(stderr);
  std::abort();
}

}  // namespace nvmpath::base
