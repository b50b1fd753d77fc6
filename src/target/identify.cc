// Identify data the target returns: controller (NVM and discovery), namespace, active NSID list,
// namespace identification descriptors. Field choices follow what the Linux host checks
// (reference/multipath-and-nvme-tcp-facts.md 5.9 and 2.1).
#include <bit>

#include "nvme/byte_order.h"
#include "nvme/identify.h"
#include "target/commands.h"
#include "target/identify.h"
#include "target/subsystem.h"

namespace nvmpath::target {
namespace {

// Identify Controller bytes 387:386, Command Quiesce Time (TP4129), in milliseconds.
constexpr size_t kIdCtrlOffsetCqt = 386;
// The host may keep an association alive with any command (CTRATT.TBKAS); KAS is 1 s.
constexpr uint16_t kKas = 10;
constexpr uint8_t kAnatt = 10;  // seconds
// ANACAP: reports optimized, non-optimized, inaccessible, persistent loss and change.
constexpr uint8_t kAnacap = 0x1F;
// SGLS: SGLs supported (bits 1:0 = 01b), keyed SGL data block (bit 2), SGL offset (bit 20).
constexpr uint32_t kSgls = (1u << 0) | (1u << 2) | (1u << 20);
// ONCS: Dataset Management (bit 2) and Write Zeroes (bit 3).
constexpr uint16_t kOncs = (1u << 2) | (1u << 3);
// LPA: extended data for Get Log Page (offsets, NUMDU).
constexpr uint8_t kLpa = 1u << 2;

std::string Clip(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n); }

}  // namespace

std::vector<uint8_t> BuildIdentifyController(const Core& core, const Controller& ctrl) {
  const TargetConfig& cfg = core.config();
  const Subsystem& subsys = *ctrl.subsystem();
  nvme::IdentifyController id;
  id.sn = Clip(subsys.config().serial, 20);
  id.mn = Clip(subsys.config().model, 40);
  id.fr = "nvmpath";
  id.rab = 6;
  id.cntlid = ctrl.cntlid();
  id.ver = (1u << 16) | (4u << 8);
  id.ctratt = nvme::kCtrattTbkas;
  id.acl = 3;
  id.aerl = kAerl;
  id.lpa = kLpa;
  id.kas = kKas;
  id.sqes = 0x66;
  id.cqes = 0x44;
  id.maxcmd = cfg.queue_size_max;
  id.sgls = kSgls;
  id.subnqn = subsys.nqn();
  // Fabrics: capsule sizes in 16-byte units, in-capsule data at offset 0, one SGL descriptor.
  id.ioccsz = (cfg.in_capsule_bytes + 64) / 16;
  id.iorcsz = 1;
  id.icdoff = 0;
  id.msdbd = 1;
  if (subsys.is_discovery()) {
    id.cntrltype = nvme::kCntrltypeDiscovery;
    id.oaes = nvme::kOaesDiscoveryLogChange;
    id.maxcmd = 32;
  } else {
    id.cntrltype = nvme::kCntrltypeIo;
    id.cmic = nvme::kCmicMultiPort | nvme::kCmicMultiController | nvme::kCmicAnaReporting;
    id.mdts = static_cast<uint8_t>(subsys.config().mdts_pages);
    id.oaes = nvme::kOaesNsAttribute | nvme::kOaesAnaChange;
    id.anatt = kAnatt;
    id.anacap = kAnacap;
    id.anagrpmax = cfg.ana_groups_max;
    id.nanagrpid = cfg.ana_groups_max;
    id.nn = kMaxNsid;
    id.mnan = kMaxNsid;
    id.oncs = kOncs;
    id.vwc = 1;
  }
  std::vector<uint8_t> out(nvme::kIdentifySize, 0);
  id.Encode(std::span<uint8_t, nvme::kIdentifySize>(out.data(), out.size()));
  if (cfg.cqt.count() > 0 && !subsys.is_discovery()) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.cqt).count();
    nvme::PutLe16(out, kIdCtrlOffsetCqt, static_cast<uint16_t>(std::min<int64_t>(ms, 0xFFFF)));
  }
  return out;
}

std::vector<uint8_t> BuildIdentifyNamespace(const Namespace& ns) {
  nvme::IdentifyNamespace id;
  const uint64_t blocks = ns.blocks();
  id.nsze = blocks;
  id.ncap = blocks;
  id.nuse = blocks;
  id.nlbaf = 0;
  id.flbas = 0;
  id.nmic = nvme::kNmicShared;
  id.anagrpid = ns.config.ana_group;
  if (ns.ids.nguid) id.nguid = *ns.ids.nguid;
  if (ns.ids.eui64) id.eui64 = *ns.ids.eui64;
  id.lbaf[0].lbads = static_cast<uint8_t>(std::countr_zero(ns.block_size()));
  std::vector<uint8_t> out(nvme::kIdentifySize, 0);
  id.Encode(std::span<uint8_t, nvme::kIdentifySize>(out.data(), out.size()));
  return out;
}

std::vector<uint8_t> BuildActiveNsList(const Subsystem& subsys, uint16_t port_id, uint32_t after) {
  std::vector<uint32_t> nsids;
  for (const auto& [nsid, ns] : subsys.namespaces()) {
    if (nsid > after && ns->AttachedThrough(port_id) && nsids.size() < nvme::kActiveNsListMax) {
      nsids.push_back(nsid);
    }
  }
  std::vector<uint8_t> out(nvme::kIdentifySize, 0);
  nvme::EncodeActiveNsList(nsids, std::span<uint8_t, nvme::kIdentifySize>(out.data(), out.size()));
  return out;
}

std::vector<uint8_t> BuildNsDescriptors(const Namespace& ns) {
  std::vector<uint8_t> out(nvme::kIdentifySize, 0);
  ns.ids.Encode(std::span<uint8_t, nvme::kIdentifySize>(out.data(), out.size()));
  return out;
}

}  // namespace nvmpath::target
