#include "nvme/ana_log.h"

#include <cstring>
#include <string>

#include "base/assert.h"
#include "nvme/byte_order.h"

namespace nvmpath::nvme {

const char* AnaStateName(AnaState state) {
  switch (state) {
    case AnaState::kOptimized: return "optimized";
    case AnaState::kNonOptimized: return "non-optimized";
    case AnaState::kInaccessible: return "inaccessible";
    case AnaState::kPersistentLoss: return "persistent-loss";
    case AnaState::kChange: return "change";
  }
  return "reserved";
}

size_t AnaLog::EncodedSize(bool groups_only) const {
  size_t n = kAnaLogHeaderSize;
  for (const auto& g : groups) n += kAnaDescSize + (groups_only ? 0 : 4 * g.nsids.size());
  return n;
}

void AnaLog::Encode(std::span<uint8_t> out, bool groups_only) const {
  const size_t size = EncodedSize(groups_only);
  NVMP_ASSERT(out.size() >= size && groups.size() <= 0xFFFF);
  std::memset(out.data(), 0, size);
  PutLe64(out, kAnaLogOffsetChgcnt, chgcnt);
  PutLe16(out, kAnaLogOffsetNgrps, static_cast<uint16_t>(groups.size()));
  size_t off = kAnaLogHeaderSize;
  for (const auto& g : groups) {
    auto desc = out.subspan(off);
    const uint32_t nnsids = groups_only ? 0 : static_cast<uint32_t>(g.nsids.size());
    PutLe32(desc, kAnaDescOffsetGrpid, g.grpid);
    PutLe32(desc, kAnaDescOffsetNnsids, nnsids);
    PutLe64(desc, kAnaDescOffsetChgcnt, g.chgcnt);
    Put8(desc, kAnaDescOffsetState, static_cast<uint8_t>(g.state));
    for (uint32_t i = 0; i < nnsids; ++i) PutLe32(desc, kAnaDescOffsetNsids + 4 * i, g.nsids[i]);
    off += kAnaDescSize + 4 * size_t{nnsids};
  }
}

std::vector<uint8_t> AnaLog::Encode(bool groups_only) const {
  std::vector<uint8_t> out(EncodedSize(groups_only));
  Encode(out, groups_only);
  return out;
}

Result<AnaLog> AnaLog::Decode(std::span<const uint8_t> in, uint32_t anagrpmax) {
  if (in.size() < kAnaLogHeaderSize) {
    return InvalidArgument("ANA log: " + std::to_string(in.size()) +
                           " bytes, shorter than the 16-byte header");
  }
  AnaLog log;
  log.chgcnt = GetLe64(in, kAnaLogOffsetChgcnt);
  const uint16_t ngrps = GetLe16(in, kAnaLogOffsetNgrps);
  size_t off = kAnaLogHeaderSize;
  for (uint32_t i = 0; i < ngrps; ++i) {
    const std::string where = "ANA log descriptor " + std::to_string(i);
    if (in.size() - off < kAnaDescSize) {
      return InvalidArgument(where + ": header at byte " + std::to_string(off) + " overruns the " +
                             std::to_string(in.size()) + "-byte log");
    }
    auto desc = in.subspan(off);
    AnaGroupDescriptor g;
    g.grpid = GetLe32(desc, kAnaDescOffsetGrpid);
    const uint32_t nnsids = GetLe32(desc, kAnaDescOffsetNnsids);
    g.chgcnt = GetLe64(desc, kAnaDescOffsetChgcnt);
    const uint8_t state = Get8(desc, kAnaDescOffsetState);
    if (g.grpid == 0) return InvalidArgument(where + ": ANAGRPID 0 is invalid");
    if (g.grpid > anagrpmax) {
      return InvalidArgument(where + ": ANAGRPID " + std::to_string(g.grpid) +
                             " is greater than ANAGRPMAX " + std::to_string(anagrpmax));
    }
    if (state == 0 || state > 0xF) {
      return InvalidArgument(where + ": ANA state " + std::to_string(state) + " is invalid");
    }
    g.state = static_cast<AnaState>(state);
    off += kAnaDescSize;
    if (nnsids > (in.size() - off) / 4) {
      return InvalidArgument(where + ": NNSIDS " + std::to_string(nnsids) + " overruns the " +
                             std::to_string(in.size()) + "-byte log");
    }
    g.nsids.reserve(nnsids);
    for (uint32_t n = 0; n < nnsids; ++n) g.nsids.push_back(GetLe32(in, off + 4 * size_t{n}));
    off += 4 * size_t{nnsids};
    log.groups.push_back(std::move(g));
  }
  return log;
}

}  // namespace nvmpath::nvme
