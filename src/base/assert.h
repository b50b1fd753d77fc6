// NVMP_ASSERT: invariants that must never break, checked in every build (Seastar, TigerBeetle).
// An assertion never fires on input from a peer or a user: bad input is an error value.
#pragma once

namespace nvmpath::base {
[[noreturn]] void AssertFail(const char* expr, const char* file, int line, const char* msg);
}  // namespace nvmpath::base

#define NVMP_ASSERT(cond, ...)                                                              \
  do {                                                                                       \
    if (__builtin_expect(!(cond), 0))                                                        \
      ::nvmpath::base::AssertFail(#cond, __FILE__, __LINE__, "" __VA_ARGS__);                \
  } while (0)

#define NVMP_UNREACHABLE(msg) ::nvmpath::base::AssertFail("unreachable", __FILE__, __LINE__, msg)
