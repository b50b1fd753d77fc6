// Small log pages: Error Information (LID 01h), SMART / Health Information (02h) and Changed
// Namespace List (04h). The ANA and Discovery logs have files of their own (ana_log.h,
// discovery_log.h). Offsets are named constants pinned by static_assert to the NVMe Base
// specification; encoders and decoders use only them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nvme/status.h"
#include "nvmpath/status.h"

namespace nvmpath::nvme {

// ---- Error Information entry (64 B each; the log is an array of them) ----
inline constexpr size_t kErrorInfoEntrySize = 64;
inline constexpr size_t kErrorInfoOffsetErrorCount = 0;
inline constexpr size_t kErrorInfoOffsetSqid = 8;
inline constexpr size_t kErrorInfoOffsetCid = 10;
inline constexpr size_t kErrorInfoOffsetStatus = 12;  // status field << 1 | phase
inline constexpr size_t kErrorInfoOffsetParamLocation = 14;
inline constexpr size_t kErrorInfoOffsetLba = 16;
inline constexpr size_t kErrorInfoOffsetNsid = 24;
inline constexpr size_t kErrorInfoOffsetVsAvailable = 28;
inline constexpr size_t kErrorInfoOffsetTrtype = 29;
inline constexpr size_t kErrorInfoOffsetCmdSpecific = 32;
inline constexpr size_t kErrorInfoOffsetTrtypeSpecific = 40;
static_assert(kErrorInfoOffsetSqid == 8 && kErrorInfoOffsetCid == 10 && kErrorInfoOffsetStatus == 12 &&
              kErrorInfoOffsetParamLocation == 14 && kErrorInfoOffsetLba == 16 &&
              kErrorInfoOffsetNsid == 24 && kErrorInfoOffsetVsAvailable == 28 &&
              kErrorInfoOffsetTrtype == 29 && kErrorInfoOffsetCmdSpecific == 32 &&
              kErrorInfoOffsetTrtypeSpecific == 40);
static_assert(kErrorInfoOffsetTrtypeSpecific + 2 <= kErrorInfoEntrySize);

struct ErrorInfoEntry {
  uint64_t error_count = 0;  // 0 = entry unused
  uint16_t sqid = 0;
  uint16_t cid = 0;
  NvmeStatus status;
  uint16_t param_location = 0;
  uint64_t lba = 0;
  uint32_t nsid = 0;
  uint8_t vs_available = 0;
  uint8_t trtype = 0;
  uint64_t cmd_specific = 0;
  uint16_t trtype_specific = 0;

  void Encode(std::span<uint8_t, kErrorInfoEntrySize> out) const;
  static ErrorInfoEntry Decode(std::span<const uint8_t, kErrorInfoEntrySize> in);
  friend bool operator==(const ErrorInfoEntry&, const ErrorInfoEntry&) = default;
};
// Decodes the whole entries contained in `in` (a trailing partial entry is ignored).
std::vector<ErrorInfoEntry> DecodeErrorInfoLog(std::span<const uint8_t> in);

// ---- SMART / Health Information (512 B) ----
inline constexpr size_t kSmartLogSize = 512;
inline constexpr size_t kSmartOffsetCriticalWarning = 0;
inline constexpr size_t kSmartOffsetTemperature = 1;  // Kelvin
inline constexpr size_t kSmartOffsetAvailSpare = 3;
inline constexpr size_t kSmartOffsetSpareThreshold = 4;
inline constexpr size_t kSmartOffsetPercentUsed = 5;
inline constexpr size_t kSmartOffsetEnduranceWarning = 6;
inline constexpr size_t kSmartOffsetDataUnitsRead = 32;  // 16-byte counters from here
inline constexpr size_t kSmartOffsetDataUnitsWritten = 48;
inline constexpr size_t kSmartOffsetHostReads = 64;
inline constexpr size_t kSmartOffsetHostWrites = 80;
inline constexpr size_t kSmartOffsetBusyTime = 96;
inline constexpr size_t kSmartOffsetPowerCycles = 112;
inline constexpr size_t kSmartOffsetPowerOnHours = 128;
inline constexpr size_t kSmartOffsetUnsafeShutdowns = 144;
inline constexpr size_t kSmartOffsetMediaErrors = 160;
inline constexpr size_t kSmartOffsetErrorLogEntries = 176;
inline constexpr size_t kSmartOffsetWarningTempTime = 192;
inline constexpr size_t kSmartOffsetCriticalTempTime = 196;
inline constexpr size_t kSmartOffsetTempSensors = 200;  // 8 x u16
static_assert(kSmartOffsetDataUnitsRead == 32 && kSmartOffsetMediaErrors == 160 &&
              kSmartOffsetErrorLogEntries == 176 && kSmartOffsetWarningTempTime == 192 &&
              kSmartOffsetTempSensors == 200);
static_assert(kSmartOffsetErrorLogEntries + 16 == kSmartOffsetWarningTempTime);

using Uint128 = unsigned __int128;

struct SmartLog {
  uint8_t critical_warning = 0;
  uint16_t temperature_kelvin = 0;
  uint8_t avail_spare = 0;
  uint8_t spare_threshold = 0;
  uint8_t percent_used = 0;
  uint8_t endurance_warning = 0;
  Uint128 data_units_read = 0;  // units of 1000 x 512 B
  Uint128 data_units_written = 0;
  Uint128 host_reads = 0;
  Uint128 host_writes = 0;
  Uint128 busy_time_min = 0;
  Uint128 power_cycles = 0;
  Uint128 power_on_hours = 0;
  Uint128 unsafe_shutdowns = 0;
  Uint128 media_errors = 0;
  Uint128 error_log_entries = 0;
  uint32_t warning_temp_time_min = 0;
  uint32_t critical_temp_time_min = 0;
  std::array<uint16_t, 8> temp_sensors{};

  void Encode(std::span<uint8_t, kSmartLogSize> out) const;
  // Errors: buffer shorter than 512 B.
  static Result<SmartLog> Decode(std::span<const uint8_t> in);
  friend bool operator==(const SmartLog&, const SmartLog&) = default;
};

// ---- Changed Namespace List (up to 1024 NSIDs, 0-terminated; 4096 B) ----
inline constexpr size_t kChangedNsListSize = 4096;
inline constexpr size_t kChangedNsListMax = kChangedNsListSize / 4;

struct ChangedNsList {
  // More than 1024 namespaces changed: the list is just FFFFFFFFh and the host must rescan all.
  bool overflow = false;
  std::vector<uint32_t> nsids;

  // More than 1024 entries encode as the overflow marker.
  void Encode(std::span<uint8_t, kChangedNsListSize> out) const;
  // Errors: buffer short; NSID FFFFFFFFh other than as the first entry.
  static Result<ChangedNsList> Decode(std::span<const uint8_t> in);
  friend bool operator==(const ChangedNsList&, const ChangedNsList&) = default;
};

}  // namespace nvmpath::nvme
