#include "nvme/identify.h"

#include <cstring>

#include "base/assert.h"
#include "nvme/byte_order.h"

namespace nvmpath::nvme {

namespace {

Status ShortBuffer(const char* what, size_t got, size_t want) {
  return InvalidArgument(std::string(what) + ": " + std::to_string(got) + " bytes, expected " +
                         std::to_string(want));
}

void Zero(std::span<uint8_t> out) { std::memset(out.data(), 0, out.size()); }

}  // namespace

void IdentifyController::Encode(std::span<uint8_t, kIdentifySize> out) const {
  NVMP_ASSERT(sn.size() <= 20 && mn.size() <= 40 && fr.size() <= 8 && subnqn.size() <= 223);
  Zero(out);
  PutLe16(out, kIdCtrlOffsetVid, vid);
  PutLe16(out, kIdCtrlOffsetSsvid, ssvid);
  PutSpaceString(out, kIdCtrlOffsetSn, 20, sn);
  PutSpaceString(out, kIdCtrlOffsetMn, 40, mn);
  PutSpaceString(out, kIdCtrlOffsetFr, 8, fr);
  Put8(out, kIdCtrlOffsetRab, rab);
  PutBytes(out, kIdCtrlOffsetIeee, ieee);
  Put8(out, kIdCtrlOffsetCmic, cmic);
  Put8(out, kIdCtrlOffsetMdts, mdts);
  PutLe16(out, kIdCtrlOffsetCntlid, cntlid);
  PutLe32(out, kIdCtrlOffsetVer, ver);
  PutLe32(out, kIdCtrlOffsetOaes, oaes);
  PutLe32(out, kIdCtrlOffsetCtratt, ctratt);
  Put8(out, kIdCtrlOffsetCntrltype, cntrltype);
  PutBytes(out, kIdCtrlOffsetFguid, fguid);
  PutLe16(out, kIdCtrlOffsetCrdt1, crdt[0]);
  PutLe16(out, kIdCtrlOffsetCrdt2, crdt[1]);
  PutLe16(out, kIdCtrlOffsetCrdt3, crdt[2]);
  PutLe16(out, kIdCtrlOffsetOacs, oacs);
  Put8(out, kIdCtrlOffsetAcl, acl);
  Put8(out, kIdCtrlOffsetAerl, aerl);
  Put8(out, kIdCtrlOffsetLpa, lpa);
  PutLe16(out, kIdCtrlOffsetKas, kas);
  Put8(out, kIdCtrlOffsetAnatt, anatt);
  Put8(out, kIdCtrlOffsetAnacap, anacap);
  PutLe32(out, kIdCtrlOffsetAnagrpmax, anagrpmax);
  PutLe32(out, kIdCtrlOffsetNanagrpid, nanagrpid);
  PutLe16(out, kIdCtrlOffsetCqt, cqt);
  Put8(out, kIdCtrlOffsetSqes, sqes);
  Put8(out, kIdCtrlOffsetCqes, cqes);
  PutLe16(out, kIdCtrlOffsetMaxcmd, maxcmd);
  PutLe32(out, kIdCtrlOffsetNn, nn);
  PutLe16(out, kIdCtrlOffsetOncs, oncs);
  Put8(out, kIdCtrlOffsetVwc, vwc);
  PutLe32(out, kIdCtrlOffsetSgls, sgls);
  PutLe32(out, kIdCtrlOffsetMnan, mnan);
  PutNulString(out, kIdCtrlOffsetSubnqn, 256, subnqn);
  PutLe32(out, kIdCtrlOffsetIoccsz, ioccsz);
  PutLe32(out, kIdCtrlOffsetIorcsz, iorcsz);
  PutLe16(out, kIdCtrlOffsetIcdoff, icdoff);
  Put8(out, kIdCtrlOffsetCtrattr, ctrattr);
  Put8(out, kIdCtrlOffsetMsdbd, msdbd);
  PutLe16(out, kIdCtrlOffsetOfcs, ofcs);
}

Result<IdentifyController> IdentifyController::Decode(std::span<const uint8_t> in) {
  if (in.size() < kIdentifySize) return ShortBuffer("Identify Controller", in.size(), kIdentifySize);
  IdentifyController c;
  c.vid = GetLe16(in, kIdCtrlOffsetVid);
  c.ssvid = GetLe16(in, kIdCtrlOffsetSsvid);
  c.sn = GetPaddedString(in, kIdCtrlOffsetSn, 20);
  c.mn = GetPaddedString(in, kIdCtrlOffsetMn, 40);
  c.fr = GetPaddedString(in, kIdCtrlOffsetFr, 8);
  c.rab = Get8(in, kIdCtrlOffsetRab);
  GetBytes(in, kIdCtrlOffsetIeee, c.ieee);
  c.cmic = Get8(in, kIdCtrlOffsetCmic);
  c.mdts = Get8(in, kIdCtrlOffsetMdts);
  c.cntlid = GetLe16(in, kIdCtrlOffsetCntlid);
  c.ver = GetLe32(in, kIdCtrlOffsetVer);
  c.oaes = GetLe32(in, kIdCtrlOffsetOaes);
  c.ctratt = GetLe32(in, kIdCtrlOffsetCtratt);
  c.cntrltype = Get8(in, kIdCtrlOffsetCntrltype);
  GetBytes(in, kIdCtrlOffsetFguid, c.fguid);
  c.crdt = {GetLe16(in, kIdCtrlOffsetCrdt1), GetLe16(in, kIdCtrlOffsetCrdt2),
            GetLe16(in, kIdCtrlOffsetCrdt3)};
  c.oacs = GetLe16(in, kIdCtrlOffsetOacs);
  c.acl = Get8(in, kIdCtrlOffsetAcl);
  c.aerl = Get8(in, kIdCtrlOffsetAerl);
  c.lpa = Get8(in, kIdCtrlOffsetLpa);
  c.kas = GetLe16(in, kIdCtrlOffsetKas);
  c.anatt = Get8(in, kIdCtrlOffsetAnatt);
  c.anacap = Get8(in, kIdCtrlOffsetAnacap);
  c.anagrpmax = GetLe32(in, kIdCtrlOffsetAnagrpmax);
  c.nanagrpid = GetLe32(in, kIdCtrlOffsetNanagrpid);
  c.cqt = GetLe16(in, kIdCtrlOffsetCqt);
  c.sqes = Get8(in, kIdCtrlOffsetSqes);
  c.cqes = Get8(in, kIdCtrlOffsetCqes);
  c.maxcmd = GetLe16(in, kIdCtrlOffsetMaxcmd);
  c.nn = GetLe32(in, kIdCtrlOffsetNn);
  c.oncs = GetLe16(in, kIdCtrlOffsetOncs);
  c.vwc = Get8(in, kIdCtrlOffsetVwc);
  c.sgls = GetLe32(in, kIdCtrlOffsetSgls);
  c.mnan = GetLe32(in, kIdCtrlOffsetMnan);
  c.subnqn = GetNulString(in, kIdCtrlOffsetSubnqn, 256);
  if (c.subnqn.size() == 256) {
    return InvalidArgument("Identify Controller: SUBNQN is not NUL-terminated");
  }
  c.ioccsz = GetLe32(in, kIdCtrlOffsetIoccsz);
  c.iorcsz = GetLe32(in, kIdCtrlOffsetIorcsz);
  c.icdoff = GetLe16(in, kIdCtrlOffsetIcdoff);
  c.ctrattr = Get8(in, kIdCtrlOffsetCtrattr);
  c.msdbd = Get8(in, kIdCtrlOffsetMsdbd);
  c.ofcs = GetLe16(in, kIdCtrlOffsetOfcs);
  return c;
}

Result<uint32_t> IdentifyNamespace::BlockSize() const {
  const uint8_t index = format_index();
  if (index > nlbaf || index >= kIdNsLbafCount) {
    return InvalidArgument("Identify Namespace: FLBAS format " + std::to_string(index) +
                           " is beyond NLBAF " + std::to_string(nlbaf));
  }
  const uint8_t lbads = lbaf[index].lbads;
  if (lbads < 9 || lbads > 16) {
    return InvalidArgument("Identify Namespace: LBAF" + std::to_string(index) + " LBADS " +
                           std::to_string(lbads) + " is outside 9..16");
  }
  return uint32_t{1} << lbads;
}

void IdentifyNamespace::Encode(std::span<uint8_t, kIdentifySize> out) const {
  Zero(out);
  PutLe64(out, kIdNsOffsetNsze, nsze);
  PutLe64(out, kIdNsOffsetNcap, ncap);
  PutLe64(out, kIdNsOffsetNuse, nuse);
  Put8(out, kIdNsOffsetNsfeat, nsfeat);
  Put8(out, kIdNsOffsetNlbaf, nlbaf);
  Put8(out, kIdNsOffsetFlbas, flbas);
  Put8(out, kIdNsOffsetNmic, nmic);
  Put8(out, kIdNsOffsetRescap, rescap);
  PutLe32(out, kIdNsOffsetAnagrpid, anagrpid);
  Put8(out, kIdNsOffsetNsattr, nsattr);
  PutLe16(out, kIdNsOffsetNvmsetid, nvmsetid);
  PutLe16(out, kIdNsOffsetEndgid, endgid);
  PutBytes(out, kIdNsOffsetNguid, nguid);
  PutBytes(out, kIdNsOffsetEui64, eui64);
  for (size_t i = 0; i < kIdNsLbafCount; ++i) {
    const LbaFormat& f = lbaf[i];
    PutLe32(out, kIdNsOffsetLbaf + 4 * i,
            uint32_t{f.ms} | (uint32_t{f.lbads} << 16) | (uint32_t{f.rp & 3u} << 24));
  }
}

Result<IdentifyNamespace> IdentifyNamespace::Decode(std::span<const uint8_t> in) {
  if (in.size() < kIdentifySize) return ShortBuffer("Identify Namespace", in.size(), kIdentifySize);
  IdentifyNamespace n;
  n.nsze = GetLe64(in, kIdNsOffsetNsze);
  n.ncap = GetLe64(in, kIdNsOffsetNcap);
  n.nuse = GetLe64(in, kIdNsOffsetNuse);
  n.nsfeat = Get8(in, kIdNsOffsetNsfeat);
  n.nlbaf = Get8(in, kIdNsOffsetNlbaf);
  n.flbas = Get8(in, kIdNsOffsetFlbas);
  n.nmic = Get8(in, kIdNsOffsetNmic);
  n.rescap = Get8(in, kIdNsOffsetRescap);
  n.anagrpid = GetLe32(in, kIdNsOffsetAnagrpid);
  n.nsattr = Get8(in, kIdNsOffsetNsattr);
  n.nvmsetid = GetLe16(in, kIdNsOffsetNvmsetid);
  n.endgid = GetLe16(in, kIdNsOffsetEndgid);
  GetBytes(in, kIdNsOffsetNguid, n.nguid);
  GetBytes(in, kIdNsOffsetEui64, n.eui64);
  for (size_t i = 0; i < kIdNsLbafCount; ++i) {
    const uint32_t v = GetLe32(in, kIdNsOffsetLbaf + 4 * i);
    n.lbaf[i] = {static_cast<uint16_t>(v), static_cast<uint8_t>(v >> 16),
                 static_cast<uint8_t>((v >> 24) & 3)};
  }
  return n;
}

void EncodeActiveNsList(std::span<const uint32_t> nsids, std::span<uint8_t, kIdentifySize> out) {
  NVMP_ASSERT(nsids.size() <= kActiveNsListMax);
  Zero(out);
  for (size_t i = 0; i < nsids.size(); ++i) PutLe32(out, 4 * i, nsids[i]);
}

Result<std::vector<uint32_t>> DecodeActiveNsList(std::span<const uint8_t> in) {
  if (in.size() < kIdentifySize) return ShortBuffer("Active Namespace ID list", in.size(), kIdentifySize);
  std::vector<uint32_t> nsids;
  for (size_t i = 0; i < kActiveNsListMax; ++i) {
    const uint32_t nsid = GetLe32(in, 4 * i);
    if (nsid == 0) break;
    if (nsid == 0xFFFFFFFF) {
      return InvalidArgument("Active Namespace ID list: entry " + std::to_string(i) +
                             " is the broadcast NSID FFFFFFFFh");
    }
    if (!nsids.empty() && nsid <= nsids.back()) {
      return InvalidArgument("Active Namespace ID list: entry " + std::to_string(i) + " (NSID " +
                             std::to_string(nsid) + ") is not greater than the one before it (" +
                             std::to_string(nsids.back()) + ")");
    }
    nsids.push_back(nsid);
  }
  return nsids;
}

void NsIdentifiers::Encode(std::span<uint8_t, kIdentifySize> out) const {
  Zero(out);
  size_t off = 0;
  auto put = [&](NidType type, std::span<const uint8_t> nid) {
    Put8(out, off, static_cast<uint8_t>(type));
    Put8(out, off + 1, static_cast<uint8_t>(nid.size()));
    PutBytes(out, off + kNsDescHeaderSize, nid);
    off += kNsDescHeaderSize + nid.size();
  };
  if (eui64) put(NidType::kEui64, *eui64);
  if (nguid) put(NidType::kNguid, *nguid);
  if (uuid) put(NidType::kUuid, *uuid);
  if (csi) {
    const uint8_t v = *csi;
    put(NidType::kCsi, std::span<const uint8_t>(&v, 1));
  }
}

Result<NsIdentifiers> NsIdentifiers::Decode(std::span<const uint8_t> in) {
  NsIdentifiers ids;
  size_t off = 0;
  for (int index = 0; off + kNsDescHeaderSize <= in.size(); ++index) {
    const uint8_t nidt = Get8(in, off);
    const uint8_t nidl = Get8(in, off + 1);
    if (nidt == 0) break;
    const std::string where = "NS descriptor " + std::to_string(index);
    if (nidl > in.size() - off - kNsDescHeaderSize) {
      return InvalidArgument(where + ": NIDL " + std::to_string(nidl) + " overruns the " +
                             std::to_string(in.size()) + "-byte list");
    }
    auto nid = in.subspan(off + kNsDescHeaderSize, nidl);
    auto expect = [&](const char* name, uint8_t want) -> Status {
      if (nidl != want) {
        return InvalidArgument(where + ": " + name + " with NIDL " + std::to_string(nidl) +
                               ", expected " + std::to_string(want));
      }
      return Status::Ok();
    };
    auto dup = [&](const char* name) {
      return InvalidArgument(where + ": second " + name + " descriptor");
    };
    switch (static_cast<NidType>(nidt)) {
      case NidType::kEui64:
        NVMP_RETURN_IF_ERROR(expect("EUI64", kNidlEui64));
        if (ids.eui64) return dup("EUI64");
        ids.eui64.emplace();
        GetBytes(nid, 0, *ids.eui64);
        break;
      case NidType::kNguid:
        NVMP_RETURN_IF_ERROR(expect("NGUID", kNidlNguid));
        if (ids.nguid) return dup("NGUID");
        ids.nguid.emplace();
        GetBytes(nid, 0, *ids.nguid);
        break;
      case NidType::kUuid:
        NVMP_RETURN_IF_ERROR(expect("UUID", kNidlUuid));
        if (ids.uuid) return dup("UUID");
        ids.uuid.emplace();
        GetBytes(nid, 0, *ids.uuid);
        break;
      case NidType::kCsi:
        NVMP_RETURN_IF_ERROR(expect("CSI", kNidlCsi));
        if (ids.csi) return dup("CSI");
        ids.csi = nid[0];
        break;
      default:
        break;  // unknown NIDT: skip it, as Linux does
    }
    off += kNsDescHeaderSize + nidl;
  }
  return ids;
}

}  // namespace nvmpath::nvme
