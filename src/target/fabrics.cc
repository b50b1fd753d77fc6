// Fabrics commands: Connect (admin and I/O queues), Property Get/Set, Disconnect.
//
// Connect takes what the Linux and SPDK initiators send (docs/target-config.md, "What Connect
// accepts"): an empty HOSTNQN is a host like any other, allowed only where the subsystem allows
// any host; KATO counts on the admin queue only (SPDK also sends it on I/O queues); CATTR's SQ
// flow control bit is honoured and its priority class ignored; the admin queue always takes 32
// entries, the minimum every initiator asks for, whatever MQES says.
#include <algorithm>
#include <string>

#include "base/log.h"
#include "nvme/byte_order.h"
#include "nvme/registers.h"
#include "target/commands.h"
#include "target/subsystem.h"

namespace nvmpath::target {
namespace {

// Connect Invalid Parameters: DW0 bits 15:0 hold the byte offset of the bad field (IPO) and
// bit 16 (IATTR) says whether it is in the Connect data (1) or the SQE (0).
CmdResult InvalidParam(bool in_data, uint16_t offset) {
  CmdResult r = CmdResult::Error(nvme::sc::kConnectInvalidParameters);
  r.dw0 = (in_data ? 1u << 16 : 0u) | offset;
  return r;
}

uint64_t CapValue(const TargetConfig& c) {
  nvme::CapRegister cap;
  cap.set_mqes(c.queue_size_max - 1u);
  cap.set_cqr(1);
  cap.set_to(15);            // 7.5 s to become ready (we are ready at once)
  cap.set_css(1);            // NVM command set
  cap.set_mpsmin(0);         // 4 KiB
  cap.set_mpsmax(0);
  return cap.raw;
}

constexpr uint32_t kVersion = (1u << 16) | (4u << 8);  // NVMe 1.4: ANA, TBKAS

// How a host names itself in the log: SPDK's initiator sends no HOSTNQN at all.
std::string HostName(const std::string& hostnqn) {
  return hostnqn.empty() ? "(empty HOSTNQN)" : hostnqn;
}

void Connect(Core& core, Connection& conn, const std::shared_ptr<Request>& req) {
  Completer done(conn.weak_from_this(), req);
  if (conn.state() != ConnectionState::kAwaitConnect) {
    return done(CmdResult::Error(nvme::sc::kCommandSequenceError));
  }
  const nvme::ConnectArgs args = nvme::ConnectFieldsFrom(req->cmd);
  if (args.recfmt != 0) return done(CmdResult::Error(nvme::sc::kConnectIncompatibleFormat));
  if (req->data.size() < nvme::kConnectDataSize) {
    return done(CmdResult::Error(nvme::sc::kDataSglLengthInvalid));
  }
  auto data = nvme::ConnectData::Decode(req->data);
  if (!data.ok()) {
    const bool host = data.status().message().find("HOSTNQN") != std::string::npos;
    return done(InvalidParam(true, host ? nvme::kConnectDataOffsetHostnqn
                                        : nvme::kConnectDataOffsetSubnqn));
  }
  Subsystem* subsys = core.model().FindSubsystem(data->subnqn);
  if (subsys == nullptr) return done(InvalidParam(true, nvme::kConnectDataOffsetSubnqn));
  if (!subsys->HostAllowed(data->hostnqn)) {
    NVMP_LOG_INFO("target: host {} is not allowed on {}", HostName(data->hostnqn), data->subnqn);
    return done(CmdResult::Error(nvme::sc::kConnectInvalidHost));
  }
  const uint16_t sqsize_max = args.qid == 0 ? AdminQueueEntriesMax(core.config()) - 1u
                                            : core.config().queue_size_max - 1u;
  if (args.sqsize == 0 || args.sqsize > sqsize_max) {
    return done(InvalidParam(false, nvme::kConnectOffsetSqsize));
  }
  const bool no_sqfc = args.cattr & nvme::kCattrDisableSqFlowControl;

  if (args.qid == 0) {
    if (data->cntlid != nvme::kCntlidDynamic) {
      return done(InvalidParam(true, nvme::kConnectDataOffsetCntlid));
    }
    Controller* ctrl = core.controllers().Create(subsys, conn.port_id(), data->hostnqn,
                                             data->hostid, args.kato_ms);
    if (ctrl == nullptr) return done(CmdResult::Error(nvme::sc::kConnectControllerBusy, false));
    ctrl->admin = conn.weak_from_this();
    ctrl->Touch(core.reactor()->now());
    conn.Bind(ctrl, 0, args.sqsize, no_sqfc);
    core.keep_alive().Arm(*ctrl);
    return done(CmdResult::Ok(ctrl->cntlid()));
  }

  Controller* ctrl = core.controllers().Find(data->cntlid);
  if (ctrl == nullptr || ctrl->subsystem() != subsys || ctrl->hostnqn() != data->hostnqn ||
      ctrl->state() == ControllerState::kDead) {
    return done(InvalidParam(true, nvme::kConnectDataOffsetCntlid));
  }
  if (subsys->is_discovery() || args.qid > core.config().io_queues_max) {
    return done(InvalidParam(false, nvme::kConnectOffsetQid));
  }
  auto existing = ctrl->io_queues.find(args.qid);
  if (existing != ctrl->io_queues.end() && !existing->second.expired()) {
    return done(CmdResult::Error(nvme::sc::kConnectControllerBusy));
  }
  ctrl->io_queues[args.qid] = conn.weak_from_this();
  ctrl->Touch(core.reactor()->now());
  conn.Bind(ctrl, args.qid, args.sqsize, no_sqfc);
  done(CmdResult::Ok(ctrl->cntlid()));
}

void PropertyGet(Core& core, Connection& conn, const std::shared_ptr<Request>& req) {
  Completer done(conn.weak_from_this(), req);
  Controller* ctrl = conn.controller();
  if (ctrl == nullptr || conn.qid() != 0) {
    return done(CmdResult::Error(nvme::sc::kCommandSequenceError));
  }
  const auto f = nvme::PropertyFields::From(req->cmd);
  if (f.attrib > 1) return done(CmdResult::Error(nvme::sc::kInvalidField));
  uint64_t value = 0;
  switch (f.offset) {
    case nvme::kRegCap: value = CapValue(core.config()); break;
    case nvme::kRegVs: value = kVersion; break;
    case nvme::kRegCc: value = ctrl->cc(); break;
    case nvme::kRegCsts: value = ctrl->csts(); break;
    default: return done(CmdResult::Error(nvme::sc::kInvalidField));
  }
  if (!f.eight_bytes) value &= 0xFFFFFFFFu;
  done(CmdResult::Ok(static_cast<uint32_t>(value), static_cast<uint32_t>(value >> 32)));
}

void PropertySet(Core&, Connection& conn, const std::shared_ptr<Request>& req) {
  Completer done(conn.weak_from_this(), req);
  Controller* ctrl = conn.controller();
  if (ctrl == nullptr || conn.qid() != 0) {
    return done(CmdResult::Error(nvme::sc::kCommandSequenceError));
  }
  const auto f = nvme::PropertyFields::From(req->cmd);
  if (f.attrib != 0 || f.offset != nvme::kRegCc) {
    return done(CmdResult::Error(nvme::sc::kInvalidField));
  }
  ctrl->SetCc(static_cast<uint32_t>(f.value));
  done(CmdResult::Ok());
}

}  // namespace

uint16_t AdminQueueEntriesMax(const TargetConfig& config) {
  return std::max(config.queue_size_max, kAdminQueueEntriesMin);
}

uint32_t MaxTransferBytes(const Subsystem& subsystem) {
  const uint32_t mdts = subsystem.config().mdts_pages;
  if (mdts == 0 || mdts > 13) return kMaxTransferNoMdts;
  return 4096u << mdts;
}

void ExecuteFabrics(Core& core, Connection& conn, std::shared_ptr<Request> req) {
  switch (static_cast<nvme::FabricsType>(req->cmd.fctype())) {
    case nvme::FabricsType::kConnect: return Connect(core, conn, req);
    case nvme::FabricsType::kPropertyGet: return PropertyGet(core, conn, req);
    case nvme::FabricsType::kPropertySet: return PropertySet(core, conn, req);
    case nvme::FabricsType::kDisconnect: {
      Completer(conn.weak_from_this(), req)(CmdResult::Ok());
      conn.Close("Disconnect");
      return;
    }
    default:
      Completer(conn.weak_from_this(), req)(CmdResult::Error(nvme::sc::kInvalidOpcode));
      return;
  }
}

}  // namespace nvmpath::target
