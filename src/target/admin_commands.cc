// Admin commands: Identify, Get Log Page, Set/Get Features, Asynchronous Event Request, Keep
// Alive, Abort. Run on a bound admin queue of an enabled controller.
#include <algorithm>

#include "nvme/ana_log.h"
#include "nvme/log_pages.h"
#include "target/commands.h"
#include "target/identify.h"

namespace nvmpath::target {
namespace {

using nvme::sc::kInvalidField;

CmdResult Identify(Core& core, Controller& ctrl, const nvme::Command& cmd) {
  const auto f = nvme::IdentifyFields::From(cmd);
  const Subsystem& subsys = *ctrl.subsystem();
  if (f.cns == static_cast<uint8_t>(nvme::Cns::kController)) {
    return CmdResult::WithData(BuildIdentifyController(core, ctrl));
  }
  if (subsys.is_discovery()) return CmdResult::Error(kInvalidField);
  switch (static_cast<nvme::Cns>(f.cns)) {
    case nvme::Cns::kNamespace: {
      if (cmd.nsid == 0 || cmd.nsid > kMaxNsid) {
        return CmdResult::Error(nvme::sc::kInvalidNamespace);
      }
      auto ns = subsys.FindThrough(cmd.nsid, ctrl.port_id());
      // An allocated-but-inactive NSID reads as zeroes (NVMe Base, Identify CNS 00h).
      if (!ns) return CmdResult::WithData(std::vector<uint8_t>(nvme::kIdentifySize, 0));
      return CmdResult::WithData(BuildIdentifyNamespace(*ns));
    }
    case nvme::Cns::kActiveNamespaces:
      if (cmd.nsid >= 0xFFFFFFFEu) return CmdResult::Error(nvme::sc::kInvalidNamespace);
      return CmdResult::WithData(BuildActiveNsList(subsys, ctrl.port_id(), cmd.nsid));
    case nvme::Cns::kNsDescriptors: {
      auto ns = subsys.FindThrough(cmd.nsid, ctrl.port_id());
      if (!ns) return CmdResult::Error(nvme::sc::kInvalidNamespace);
      return CmdResult::WithData(BuildNsDescriptors(*ns));
    }
    default:
      // CNS 06h (I/O command set specific controller, NVM): no NVM-specific limits to report.
      if (f.cns == 0x06 && f.csi == 0) {
        return CmdResult::WithData(std::vector<uint8_t>(nvme::kIdentifySize, 0));
      }
      return CmdResult::Error(kInvalidField);
  }
}

// The whole log page `lid` as this controller sees it, or nullopt if it is not supported.
std::optional<std::vector<uint8_t>> BuildLog(Core& core, Connection& conn, Controller& ctrl,
                                             const nvme::GetLogPageFields& f) {
  const bool discovery = ctrl.subsystem()->is_discovery();
  switch (static_cast<nvme::LogId>(f.lid)) {
    case nvme::LogId::kErrorInfo:
      return std::vector<uint8_t>(nvme::kErrorInfoEntrySize, 0);  // ELPE 0: one (empty) entry
    case nvme::LogId::kSmartHealth: {
      if (discovery) return std::nullopt;
      nvme::SmartLog smart;
      smart.temperature_kelvin = 300;
      smart.avail_spare = 100;
      smart.spare_threshold = 10;
      std::vector<uint8_t> out(nvme::kSmartLogSize, 0);
      smart.Encode(std::span<uint8_t, nvme::kSmartLogSize>(out.data(), out.size()));
      return out;
    }
    case nvme::LogId::kChangedNamespaces: {
      if (discovery) return std::nullopt;
      nvme::ChangedNsList list;
      list.nsids = ctrl.TakeChangedNs(/*clear=*/!f.rae);
      if (!list.nsids.empty() && list.nsids[0] == 0xFFFFFFFFu) {
        list.nsids.clear();
        list.overflow = true;
      }
      std::vector<uint8_t> out(nvme::kChangedNsListSize, 0);
      list.Encode(std::span<uint8_t, nvme::kChangedNsListSize>(out.data(), out.size()));
      return out;
    }
    case nvme::LogId::kAna: {
      if (discovery) return std::nullopt;
      const bool rgo = f.lsp & nvme::kAnaLspRgo;
      return core.ana().BuildLog(conn.port_id(), *ctrl.subsystem()).Encode(rgo);
    }
    case nvme::LogId::kDiscovery:
      if (!discovery) return std::nullopt;
      return BuildDiscoveryLog(core, conn.port_id(), ctrl.hostnqn());
  }
  return std::nullopt;
}

CmdResult GetLogPage(Core& core, Connection& conn, Controller& ctrl, const nvme::Command& cmd) {
  const auto f = nvme::GetLogPageFields::From(cmd);
  if (f.offset % 4 != 0) return CmdResult::Error(kInvalidField);
  // NUMD is 32 bits: bound the buffer a peer can make us allocate.
  if (f.length_bytes() > kMaxTransferNoMdts) return CmdResult::Error(kInvalidField);
  auto page = BuildLog(core, conn, ctrl, f);
  if (!page) return CmdResult::Error(nvme::sc::kInvalidLogPage);
  // An offset past the end reads zeroes rather than failing: nvme-cli reads the ANA log in 4 KiB
  // chunks sized by MNAN/NANAGRPID, far past the page's real end, and Linux nvmet allows it.
  // Reading a log without RAE re-arms the notice it belongs to (NVMe Base, AER).
  if (!f.rae) {
    switch (static_cast<nvme::LogId>(f.lid)) {
      case nvme::LogId::kChangedNamespaces: ctrl.Unmask(EventKind::kNsAttribute); break;
      case nvme::LogId::kAna: ctrl.Unmask(EventKind::kAnaChange); break;
      case nvme::LogId::kDiscovery: ctrl.Unmask(EventKind::kDiscoveryChange); break;
      default: break;
    }
  }
  // Bytes past the end of the page read as zeroes.
  std::vector<uint8_t> out(f.length_bytes(), 0);
  if (f.offset < page->size()) {
    const size_t n = std::min<uint64_t>(out.size(), page->size() - f.offset);
    std::copy_n(page->begin() + static_cast<ptrdiff_t>(f.offset), n, out.begin());
  }
  return CmdResult::WithData(std::move(out));
}

CmdResult Features(Core& core, Controller& ctrl, const nvme::Command& cmd, bool set) {
  const auto f = nvme::FeatureFields::From(cmd);
  if (set && f.save) return CmdResult::Error(nvme::sc::kFeatureNotSaveable);
  const uint32_t supported = ctrl.subsystem()->is_discovery()
                                 ? nvme::kOaesDiscoveryLogChange
                                 : (nvme::kOaesNsAttribute | nvme::kOaesAnaChange);
  switch (static_cast<nvme::FeatureId>(f.fid)) {
    case nvme::FeatureId::kNumberOfQueues: {
      if (ctrl.subsystem()->is_discovery()) return CmdResult::Error(kInvalidField);
      const uint16_t max = static_cast<uint16_t>(core.config().io_queues_max - 1);
      if (set) {
        const uint16_t nsqr = cmd.cdw11 & 0xFFFF;
        const uint16_t ncqr = cmd.cdw11 >> 16;
        if (nsqr == 0xFFFF || ncqr == 0xFFFF) return CmdResult::Error(kInvalidField);
        ctrl.nsq_granted = std::min(nsqr, max);
        ctrl.ncq_granted = std::min(ncqr, max);
        return CmdResult::Ok(ctrl.nsq_granted | (uint32_t{ctrl.ncq_granted} << 16));
      }
      return CmdResult::Ok(max | (uint32_t{max} << 16));
    }
    case nvme::FeatureId::kAsyncEventConfig:
      if (set) {
        ctrl.aec = cmd.cdw11 & supported;
        return CmdResult::Ok();
      }
      return CmdResult::Ok(ctrl.aec & supported);
    case nvme::FeatureId::kKeepAliveTimer:
      if (set) {
        ctrl.set_kato_ms(cmd.cdw11);
        ctrl.Touch(core.reactor()->now());
        core.keep_alive().Arm(ctrl);
        return CmdResult::Ok();
      }
      return CmdResult::Ok(ctrl.kato_ms());
    default:
      return CmdResult::Error(kInvalidField);
  }
}

}  // namespace

void ExecuteAdmin(Core& core, Connection& conn, Controller& ctrl, std::shared_ptr<Request> req) {
  Completer done(conn.weak_from_this(), req);
  const nvme::Command& cmd = req->cmd;
  // Until CC.EN = 1 made the controller ready, only Fabrics commands are allowed.
  if (!ctrl.ready()) return done(CmdResult::Error(nvme::sc::kCommandSequenceError));
  switch (static_cast<nvme::AdminOpcode>(cmd.opcode)) {
    case nvme::AdminOpcode::kIdentify: return done(Identify(core, ctrl, cmd));
    case nvme::AdminOpcode::kGetLogPage: return done(GetLogPage(core, conn, ctrl, cmd));
    case nvme::AdminOpcode::kSetFeatures: return done(Features(core, ctrl, cmd, true));
    case nvme::AdminOpcode::kGetFeatures: return done(Features(core, ctrl, cmd, false));
    case nvme::AdminOpcode::kKeepAlive: return done(CmdResult::Ok());
    case nvme::AdminOpcode::kAbort:
      return done(CmdResult::Ok(1));  // DW0 bit 0: the command was not aborted
    case nvme::AdminOpcode::kAsyncEventRequest:
      if (!ctrl.AddAer(req)) return done(CmdResult::Error(nvme::sc::kAerLimitExceeded));
      ControllerTable::Deliver(ctrl);
      return;
    default:
      return done(CmdResult::Error(nvme::sc::kInvalidOpcode));
  }
}

}  // namespace nvmpath::target
