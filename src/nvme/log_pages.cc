#include "nvme/log_pages.h"

#include <cstring>
#include <string>

#include "nvme/byte_order.h"

namespace nvmpath::nvme {

void ErrorInfoEntry::Encode(std::span<uint8_t, kErrorInfoEntrySize> out) const {
  std::memset(out.data(), 0, out.size());
  PutLe64(out, kErrorInfoOffsetErrorCount, error_count);
  PutLe16(out, kErrorInfoOffsetSqid, sqid);
  PutLe16(out, kErrorInfoOffsetCid, cid);
  PutLe16(out, kErrorInfoOffsetStatus, status.ToCqeWord());
  PutLe16(out, kErrorInfoOffsetParamLocation, param_location);
  PutLe64(out, kErrorInfoOffsetLba, lba);
  PutLe32(out, kErrorInfoOffsetNsid, nsid);
  Put8(out, kErrorInfoOffsetVsAvailable, vs_available);
  Put8(out, kErrorInfoOffsetTrtype, trtype);
  PutLe64(out, kErrorInfoOffsetCmdSpecific, cmd_specific);
  PutLe16(out, kErrorInfoOffsetTrtypeSpecific, trtype_specific);
}

ErrorInfoEntry ErrorInfoEntry::Decode(std::span<const uint8_t, kErrorInfoEntrySize> in) {
  ErrorInfoEntry e;
  e.error_count = GetLe64(in, kErrorInfoOffsetErrorCount);
  e.sqid = GetLe16(in, kErrorInfoOffsetSqid);
  e.cid = GetLe16(in, kErrorInfoOffsetCid);
  e.status = NvmeStatus::FromCqeWord(GetLe16(in, kErrorInfoOffsetStatus));
  e.param_location = GetLe16(in, kErrorInfoOffsetParamLocation);
  e.lba = GetLe64(in, kErrorInfoOffsetLba);
  e.nsid = GetLe32(in, kErrorInfoOffsetNsid);
  e.vs_available = Get8(in, kErrorInfoOffsetVsAvailable);
  e.trtype = Get8(in, kErrorInfoOffsetTrtype);
  e.cmd_specific = GetLe64(in, kErrorInfoOffsetCmdSpecific);
  e.trtype_specific = GetLe16(in, kErrorInfoOffsetTrtypeSpecific);
  return e;
}

std::vector<ErrorInfoEntry> DecodeErrorInfoLog(std::span<const uint8_t> in) {
  std::vector<ErrorInfoEntry> entries;
  for (size_t off = 0; in.size() - off >= kErrorInfoEntrySize; off += kErrorInfoEntrySize) {
    entries.push_back(
        ErrorInfoEntry::Decode(in.subspan(off).first<kErrorInfoEntrySize>()));
  }
  return entries;
}

namespace {
void Put128(std::span<uint8_t> b, size_t off, Uint128 v) {
  PutLe64(b, off, static_cast<uint64_t>(v));
  PutLe64(b, off + 8, static_cast<uint64_t>(v >> 64));
}
Uint128 Get128(std::span<const uint8_t> b, size_t off) {
  return (Uint128{GetLe64(b, off + 8)} << 64) | GetLe64(b, off);
}
}  // namespace

void SmartLog::Encode(std::span<uint8_t, kSmartLogSize> out) const {
  std::memset(out.data(), 0, out.size());
  Put8(out, kSmartOffsetCriticalWarning, critical_warning);
  PutLe16(out, kSmartOffsetTemperature, temperature_kelvin);
  Put8(out, kSmartOffsetAvailSpare, avail_spare);
  Put8(out, kSmartOffsetSpareThreshold, spare_threshold);
  Put8(out, kSmartOffsetPercentUsed, percent_used);
  Put8(out, kSmartOffsetEnduranceWarning, endurance_warning);
  Put128(out, kSmartOffsetDataUnitsRead, data_units_read);
  Put128(out, kSmartOffsetDataUnitsWritten, data_units_written);
  Put128(out, kSmartOffsetHostReads, host_reads);
  Put128(out, kSmartOffsetHostWrites, host_writes);
  Put128(out, kSmartOffsetBusyTime, busy_time_min);
  Put128(out, kSmartOffsetPowerCycles, power_cycles);
  Put128(out, kSmartOffsetPowerOnHours, power_on_hours);
  Put128(out, kSmartOffsetUnsafeShutdowns, unsafe_shutdowns);
  Put128(out, kSmartOffsetMediaErrors, media_errors);
  Put128(out, kSmartOffsetErrorLogEntries, error_log_entries);
  PutLe32(out, kSmartOffsetWarningTempTime, warning_temp_time_min);
  PutLe32(out, kSmartOffsetCriticalTempTime, critical_temp_time_min);
  for (size_t i = 0; i < temp_sensors.size(); ++i) {
    PutLe16(out, kSmartOffsetTempSensors + 2 * i, temp_sensors[i]);
  }
}

Result<SmartLog> SmartLog::Decode(std::span<const uint8_t> in) {
  if (in.size() < kSmartLogSize) {
    return InvalidArgument("SMART log: " + std::to_string(in.size()) + " bytes, expected 512");
  }
  SmartLog s;
  s.critical_warning = Get8(in, kSmartOffsetCriticalWarning);
  s.temperature_kelvin = GetLe16(in, kSmartOffsetTemperature);
  s.avail_spare = Get8(in, kSmartOffsetAvailSpare);
  s.spare_threshold = Get8(in, kSmartOffsetSpareThreshold);
  s.percent_used = Get8(in, kSmartOffsetPercentUsed);
  s.endurance_warning = Get8(in, kSmartOffsetEnduranceWarning);
  s.data_units_read = Get128(in, kSmartOffsetDataUnitsRead);
  s.data_units_written = Get128(in, kSmartOffsetDataUnitsWritten);
  s.host_reads = Get128(in, kSmartOffsetHostReads);
  s.host_writes = Get128(in, kSmartOffsetHostWrites);
  s.busy_time_min = Get128(in, kSmartOffsetBusyTime);
  s.power_cycles = Get128(in, kSmartOffsetPowerCycles);
  s.power_on_hours = Get128(in, kSmartOffsetPowerOnHours);
  s.unsafe_shutdowns = Get128(in, kSmartOffsetUnsafeShutdowns);
  s.media_errors = Get128(in, kSmartOffsetMediaErrors);
  s.error_log_entries = Get128(in, kSmartOffsetErrorLogEntries);
  s.warning_temp_time_min = GetLe32(in, kSmartOffsetWarningTempTime);
  s.critical_temp_time_min = GetLe32(in, kSmartOffsetCriticalTempTime);
  for (size_t i = 0; i < s.temp_sensors.size(); ++i) {
    s.temp_sensors[i] = GetLe16(in, kSmartOffsetTempSensors + 2 * i);
  }
  return s;
}

void ChangedNsList::Encode(std::span<uint8_t, kChangedNsListSize> out) const {
  std::memset(out.data(), 0, out.size());
  if (overflow || nsids.size() > kChangedNsListMax) {
    PutLe32(out, 0, 0xFFFFFFFF);
    return;
  }
  for (size_t i = 0; i < nsids.size(); ++i) PutLe32(out, 4 * i, nsids[i]);
}

Result<ChangedNsList> ChangedNsList::Decode(std::span<const uint8_t> in) {
  if (in.size() < kChangedNsListSize) {
    return InvalidArgument("Changed Namespace List: " + std::to_string(in.size()) +
                           " bytes, expected 4096");
  }
  ChangedNsList list;
  if (GetLe32(in, 0) == 0xFFFFFFFF) {
    list.overflow = true;
    return list;
  }
  for (size_t i = 0; i < kChangedNsListMax; ++i) {
    const uint32_t nsid = GetLe32(in, 4 * i);
    if (nsid == 0) break;
    if (nsid == 0xFFFFFFFF) {
      return InvalidArgument("Changed Namespace List: entry " + std::to_string(i) +
                             " is FFFFFFFFh (only valid as the first entry)");
    }
    list.nsids.push_back(nsid);
  }
  return list;
}

}  // namespace nvmpath::nvme
