// SimRandom: the simulation's one source of randomness, a xoshiro256** generator seeded through
// splitmix64. Written out here (instead of std:: distributions, whose output is
// implementation-defined) so a seed replays the same run on every platform and compiler.
// Thread: owned by the SimWorld; used only by the thread running the world.
#pragma once

#include <cstdint>

#include "base/assert.h"

namespace nvmpath::reactor {

class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& s : s_) s = SplitMix(x);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n). REQUIRES: n > 0. Multiply-high mapping: tiny bias, fully portable.
  uint64_t Below(uint64_t n) {
    NVMP_ASSERT(n > 0);
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

  // True with probability 1/n.
  bool OneIn(uint64_t n) { return Below(n) == 0; }
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  // True with probability p.
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t s_[4];
};

}  // namespace nvmpath::reactor
