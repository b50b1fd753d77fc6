// Controller registers reached through Fabrics Property Get/Set: offsets and bit fields of CAP,
// VS, CC and CSTS (NVMe Base "Controller Registers"). Each register is a value type with
// accessors, so the host reads fields by name and the target composes values the same way.
#pragma once

#include <cstdint>

namespace nvmpath::nvme {

inline constexpr uint32_t kRegCap = 0x00;   // 8 bytes
inline constexpr uint32_t kRegVs = 0x08;    // 4 bytes
inline constexpr uint32_t kRegCc = 0x14;    // 4 bytes
inline constexpr uint32_t kRegCsts = 0x1C;  // 4 bytes
inline constexpr uint32_t kRegNssr = 0x20;  // 4 bytes
inline constexpr uint32_t kRegCrto = 0x68;  // 4 bytes

namespace internal {
constexpr uint64_t Bits(uint64_t v, unsigned hi, unsigned lo) {
  return (v >> lo) & ((uint64_t{1} << (hi - lo + 1)) - 1);
}
constexpr uint64_t SetBits(uint64_t v, unsigned hi, unsigned lo, uint64_t field) {
  const uint64_t mask = ((uint64_t{1} << (hi - lo + 1)) - 1) << lo;
  return (v & ~mask) | ((field << lo) & mask);
}
}  // namespace internal

#define NVMP_REG_FIELD(Name, name, hi, lo)                                                        \
  constexpr uint64_t name() const { return internal::Bits(raw, hi, lo); }                         \
  constexpr auto& set_##name(uint64_t v) {                                                        \
    raw = static_cast<decltype(raw)>(internal::SetBits(raw, hi, lo, v));                          \
    return *this;                                                                                 \
  }

// Controller Capabilities (CAP).
struct CapRegister {
  uint64_t raw = 0;
  NVMP_REG_FIELD(Mqes, mqes, 15, 0)      // max queue entries, 0's based
  NVMP_REG_FIELD(Cqr, cqr, 16, 16)       // contiguous queues required
  NVMP_REG_FIELD(Ams, ams, 18, 17)
  NVMP_REG_FIELD(To, to, 31, 24)         // ready timeout, units of 500 ms
  NVMP_REG_FIELD(Dstrd, dstrd, 35, 32)
  NVMP_REG_FIELD(Nssrs, nssrs, 36, 36)
  NVMP_REG_FIELD(Css, css, 44, 37)       // bit 37 NVM command set, bit 43 I/O command sets
  NVMP_REG_FIELD(Mpsmin, mpsmin, 51, 48) // 2^(12+MPSMIN)
  NVMP_REG_FIELD(Mpsmax, mpsmax, 55, 52)
  NVMP_REG_FIELD(Crwms, crwms, 59, 59)
  NVMP_REG_FIELD(Crims, crims, 60, 60)
  constexpr uint64_t ready_timeout_ms() const { return to() * 500; }
};

// Version (VS): MJR 31:16, MNR 15:8, TER 7:0.
struct VsRegister {
  uint32_t raw = 0;
  static constexpr VsRegister Of(uint16_t major, uint8_t minor, uint8_t tertiary = 0) {
    return {(uint32_t{major} << 16) | (uint32_t{minor} << 8) | tertiary};
  }
  NVMP_REG_FIELD(Mjr, mjr, 31, 16)
  NVMP_REG_FIELD(Mnr, mnr, 15, 8)
  NVMP_REG_FIELD(Ter, ter, 7, 0)
};

// Controller Configuration (CC).
struct CcRegister {
  uint32_t raw = 0;
  NVMP_REG_FIELD(En, en, 0, 0)
  NVMP_REG_FIELD(Css, css, 6, 4)
  NVMP_REG_FIELD(Mps, mps, 10, 7)
  NVMP_REG_FIELD(Ams, ams, 13, 11)
  NVMP_REG_FIELD(Shn, shn, 15, 14)       // 1 normal, 2 abrupt shutdown notification
  NVMP_REG_FIELD(Iosqes, iosqes, 19, 16) // 6 = 64-byte SQE
  NVMP_REG_FIELD(Iocqes, iocqes, 23, 20) // 4 = 16-byte CQE
  NVMP_REG_FIELD(Crime, crime, 24, 24)
};

// Controller Status (CSTS).
struct CstsRegister {
  uint32_t raw = 0;
  NVMP_REG_FIELD(Rdy, rdy, 0, 0)
  NVMP_REG_FIELD(Cfs, cfs, 1, 1)
  NVMP_REG_FIELD(Shst, shst, 3, 2)  // 0 normal, 1 shutdown in progress, 2 complete
  NVMP_REG_FIELD(Nssro, nssro, 4, 4)
  NVMP_REG_FIELD(Pp, pp, 5, 5)
};

#undef NVMP_REG_FIELD

inline constexpr uint32_t kShutdownNormal = 1;
inline constexpr uint32_t kShutdownStatusComplete = 2;

static_assert(CapRegister{}.set_mqes(127).set_to(30).mqes() == 127);
static_assert(CcRegister{}.set_iosqes(6).set_iocqes(4).raw == 0x460000);

}  // namespace nvmpath::nvme
