#include "nvme/discovery_log.h"

#include <cstring>

#include "base/assert.h"
#include "nvme/byte_order.h"

namespace nvmpath::nvme {

namespace {
// TRADDR and TRSVCID are ASCII; Linux's target pads them with spaces, others with NULs. Read up
// to the first NUL and drop trailing spaces.
std::string GetAscii(std::span<const uint8_t> b, size_t off, size_t width) {
  std::string s = GetNulString(b, off, width);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}
}  // namespace

void DiscoveryLogEntry::Encode(std::span<uint8_t, kDiscoveryEntrySize> out) const {
  NVMP_ASSERT(trsvcid.size() <= kDiscTrsvcidSize && subnqn.size() <= 223 &&
              traddr.size() <= kDiscTraddrSize);
  std::memset(out.data(), 0, out.size());
  Put8(out, kDiscEntryOffsetTrtype, trtype);
  Put8(out, kDiscEntryOffsetAdrfam, adrfam);
  Put8(out, kDiscEntryOffsetSubtype, subtype);
  Put8(out, kDiscEntryOffsetTreq, treq);
  PutLe16(out, kDiscEntryOffsetPortid, portid);
  PutLe16(out, kDiscEntryOffsetCntlid, cntlid);
  PutLe16(out, kDiscEntryOffsetAsqsz, asqsz);
  PutLe16(out, kDiscEntryOffsetEflags, eflags);
  PutSpaceString(out, kDiscEntryOffsetTrsvcid, kDiscTrsvcidSize, trsvcid);
  PutNulString(out, kDiscEntryOffsetSubnqn, 256, subnqn);
  PutSpaceString(out, kDiscEntryOffsetTraddr, kDiscTraddrSize, traddr);
  PutBytes(out, kDiscEntryOffsetTsas, tsas);
}

Result<DiscoveryLogEntry> DiscoveryLogEntry::Decode(std::span<const uint8_t, kDiscoveryEntrySize> in) {
  DiscoveryLogEntry e;
  e.trtype = Get8(in, kDiscEntryOffsetTrtype);
  e.adrfam = Get8(in, kDiscEntryOffsetAdrfam);
  e.subtype = Get8(in, kDiscEntryOffsetSubtype);
  e.treq = Get8(in, kDiscEntryOffsetTreq);
  e.portid = GetLe16(in, kDiscEntryOffsetPortid);
  e.cntlid = GetLe16(in, kDiscEntryOffsetCntlid);
  e.asqsz = GetLe16(in, kDiscEntryOffsetAsqsz);
  e.eflags = GetLe16(in, kDiscEntryOffsetEflags);
  e.trsvcid = GetAscii(in, kDiscEntryOffsetTrsvcid, kDiscTrsvcidSize);
  e.subnqn = GetNulString(in, kDiscEntryOffsetSubnqn, 256);
  if (e.subnqn.size() == 256) return InvalidArgument("SUBNQN is not NUL-terminated");
  e.traddr = GetAscii(in, kDiscEntryOffsetTraddr, kDiscTraddrSize);
  GetBytes(in, kDiscEntryOffsetTsas, e.tsas);
  return e;
}

Result<DiscoveryLogHeader> DiscoveryLogHeader::Decode(std::span<const uint8_t> in) {
  if (in.size() < kDiscoveryHeaderSize) {
    return InvalidArgument("Discovery log: " + std::to_string(in.size()) +
                           " bytes, shorter than the 1024-byte header");
  }
  return DiscoveryLogHeader{GetLe64(in, kDiscoveryOffsetGenctr), GetLe64(in, kDiscoveryOffsetNumrec),
                            GetLe16(in, kDiscoveryOffsetRecfmt)};
}

std::vector<uint8_t> DiscoveryLog::Encode() const {
  std::vector<uint8_t> out(EncodedSize(), 0);
  std::span<uint8_t> b(out);
  PutLe64(b, kDiscoveryOffsetGenctr, genctr);
  PutLe64(b, kDiscoveryOffsetNumrec, entries.size());
  PutLe16(b, kDiscoveryOffsetRecfmt, recfmt);
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].Encode(b.subspan(kDiscoveryHeaderSize + i * kDiscoveryEntrySize)
                          .first<kDiscoveryEntrySize>());
  }
  return out;
}

Result<DiscoveryLog> DiscoveryLog::Decode(std::span<const uint8_t> in) {
  auto header = DiscoveryLogHeader::Decode(in);
  if (!header.ok()) return header.status();
  const size_t available = (in.size() - kDiscoveryHeaderSize) / kDiscoveryEntrySize;
  if (header->numrec > available) {
    return InvalidArgument("Discovery log: NUMREC " + std::to_string(header->numrec) +
                           " needs more than the " + std::to_string(in.size()) + " bytes read");
  }
  DiscoveryLog log;
  log.genctr = header->genctr;
  log.recfmt = header->recfmt;
  for (size_t i = 0; i < header->numrec; ++i) {
    auto entry = DiscoveryLogEntry::Decode(
        in.subspan(kDiscoveryHeaderSize + i * kDiscoveryEntrySize).first<kDiscoveryEntrySize>());
    if (!entry.ok()) {
      return entry.status().WithContext("Discovery log entry " + std::to_string(i));
    }
    log.entries.push_back(std::move(*entry));
  }
  return log;
}

}  // namespace nvmpath::nvme
