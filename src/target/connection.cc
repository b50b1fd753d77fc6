#include "target/connection.h"

#include <algorithm>

#include "base/assert.h"
#include "base/log.h"
#include "target/commands.h"
#include "target/controller.h"
#include "target/core.h"
#include "target/subsystem.h"

namespace nvmpath::target {
namespace {

// Largest C2HData PDU the target sends; a read larger than this goes out in several PDUs.
constexpr uint32_t kC2HChunk = 128 * 1024;
// Admin and Fabrics commands may carry up to 8 KiB in the capsule (NVMe/TCP).
constexpr uint32_t kAdminInCapsule = 8192;

tcp::DecoderConfig MakeDecoderConfig(const TargetConfig& c) {
  tcp::DecoderConfig d;
  d.role = tcp::Role::kController;
  d.pda = 0;
  d.max_data_per_pdu = c.max_h2c_data;
  d.max_in_capsule_data = std::max(c.in_capsule_bytes, kAdminInCapsule);
  d.expect_ic = true;
  // A bad data digest fails the command (transient transport error), not the connection.
  d.data_digest_error_fatal = false;
  return d;
}

}  // namespace

const char* ConnectionStateName(ConnectionState s) {
  switch (s) {
    case ConnectionState::kAwaitIcReq: return "await-icreq";
    case ConnectionState::kAwaitConnect: return "await-connect";
    case ConnectionState::kLive: return "live";
    case ConnectionState::kClosed: return "closed";
  }
  return "unknown";
}

bool Connection::CanTransition(ConnectionState from, ConnectionState to) {
  using S = ConnectionState;
  if (to == S::kClosed) return from != S::kClosed;
  return (from == S::kAwaitIcReq && to == S::kAwaitConnect) ||
         (from == S::kAwaitConnect && to == S::kLive);
}

Connection::Connection(Core* core, uint64_t id, uint16_t port_id,
                       std::unique_ptr<reactor::Stream> stream)
    : core_(core),
      id_(id),
      port_id_(port_id),
      stream_(std::move(stream)),
      decoder_(MakeDecoderConfig(core->config())) {}

Connection::~Connection() = default;

void Connection::TransitionTo(ConnectionState to) {
  NVMP_ASSERT(CanTransition(state_, to), "connection state transition not allowed");
  state_ = to;
}

std::string Connection::description() const {
  return stream_ ? stream_->description() : std::string("(no stream)");
}

void Connection::Start() {
  // The stream belongs to this connection and dies with it, so `this` outlives every callback.
  stream_->SetHandlers([this](std::span<const uint8_t> bytes) { OnBytes(bytes); },
                       [this](const Status& why) {
                         OnClosed(why.ok() ? std::string("closed by the host")
                                           : "broken: " + why.ToString());
                       });
}

void Connection::Close(std::string_view why) {
  if (state_ == ConnectionState::kClosed) return;
  stream_->Close();
  OnClosed(why);
}

void Connection::OnClosed(std::string_view why) {
  if (state_ == ConnectionState::kClosed) return;
  TransitionTo(ConnectionState::kClosed);
  NVMP_LOG_DEBUG("target: connection {} ({}) qid {} closed: {}", id_, description(), qid_, why);
  // Late writes run now that their connection is gone: a stale write reaching the media after
  // the host saw the path die (what CQT-based fencing on the host must absorb).
  if (ctrl_ != nullptr) {
    for (auto& req : late_) {
      core_->late_writes().Schedule(ctrl_->subsystem()->nqn(), req->cmd.nsid, req->late_offset,
                               std::move(req->data), req->late_delay);
    }
  }
  late_.clear();
  held_.clear();
  r2t_.clear();
  outstanding_.clear();
  core_->OnConnectionClosed(*this);
}

void Connection::Fatal(const tcp::PduError& error) {
  NVMP_LOG_INFO("target: connection {} ({}): {}", id_, description(), error.ToStatus().ToString());
  if (error.fes != tcp::Fes::kNone && state_ != ConnectionState::kClosed) {
    std::vector<uint8_t> out;
    tcp::AppendTermReq(out, tcp::PduType::kC2HTermReq, error.ToTermReq(), {});
    stream_->Send(out);
  }
  Close(error.message);
}

void Connection::OnBytes(std::span<const uint8_t> bytes) {
  if (state_ == ConnectionState::kClosed) return;
  Status s = decoder_.Feed(bytes, [this](const tcp::Pdu& pdu) {
    if (state_ != ConnectionState::kClosed) OnPdu(pdu);
  });
  if (!s.ok() && state_ != ConnectionState::kClosed && decoder_.error()) Fatal(*decoder_.error());
}

void Connection::OnPdu(const tcp::Pdu& pdu) {
  switch (pdu.type) {
    case tcp::PduType::kIcReq:
      OnIcReq(pdu.as<tcp::IcReq>());
      return;
    case tcp::PduType::kCapsuleCmd:
      OnCapsule(pdu);
      return;
    case tcp::PduType::kH2CData:
      OnH2CData(pdu);
      return;
    case tcp::PduType::kH2CTermReq:
      Close("the host sent H2CTermReq");
      return;
    default:
      // The decoder only delivers PDUs valid for the controller role.
      decoder_.Fail({tcp::DecodeError::kRejectedByOwner, tcp::Fes::kInvalidHeaderField, 0,
                     "unexpected PDU type"});
      Fatal(*decoder_.error());
      return;
  }
}

void Connection::OnIcReq(const tcp::IcReq& ic) {
  // Digests are whatever the host asked for; the Linux host fails the connection otherwise.
  opts_.hdgst = ic.hdgst;
  opts_.ddgst = ic.ddgst;
  opts_.pda = ic.hpda;
  tcp::IcResp resp;
  resp.pfv = 0;
  resp.cpda = 0;
  resp.hdgst = ic.hdgst;
  resp.ddgst = ic.ddgst;
  resp.maxh2cdata = core_->config().max_h2c_data;
  std::vector<uint8_t> out;
  tcp::AppendIcResp(out, resp);
  stream_->Send(out);
  decoder_.set_digests(ic.hdgst, ic.ddgst);
  TransitionTo(ConnectionState::kAwaitConnect);
}

void Connection::Reject(std::shared_ptr<Request> req, uint16_t code, bool dnr) {
  Respond(std::move(req), CmdResult::Error(code, dnr));
}

void Connection::OnCapsule(const tcp::Pdu& pdu) {
  auto req = std::make_shared<Request>();
  req->cmd = pdu.as<tcp::CapsuleCmd>().sqe;
  req->qid = qid_;
  const nvme::Command& cmd = req->cmd;
  if (ctrl_ != nullptr) ctrl_->Touch(core_->reactor()->now());

  if (outstanding_.count(cmd.cid) != 0) {
    // A CID still in use: answer without disturbing the command that owns it.
    CmdResult r = CmdResult::Error(nvme::sc::kCidConflict);
    Emit(req, r);
    return;
  }
  outstanding_[cmd.cid] = req;

  if (!pdu.data_digest_ok) return Reject(req, nvme::sc::kTransientTransportError, false);
  if (cmd.psdt() != nvme::kPsdtSgl) return Reject(req, nvme::sc::kInvalidField);

  const uint8_t dir = cmd.is_fabrics() ? (cmd.fctype() & 3) : (cmd.opcode & 3);
  req->host_to_ctrl = dir == 1;
  const nvme::SglDescriptor sgl = cmd.sgl1();
  req->transfer_len = sgl.length;

  if (!pdu.data.empty()) {
    const uint32_t limit = (state_ != ConnectionState::kLive || qid_ == 0)
                               ? std::max(kAdminInCapsule, core_->config().in_capsule_bytes)
                               : core_->config().in_capsule_bytes;
    if (!req->host_to_ctrl || !sgl.IsInCapsule()) {
      return Reject(req, nvme::sc::kSglDescriptorTypeInvalid);
    }
    if (pdu.data.size() > limit) return Reject(req, nvme::sc::kDataSglLengthInvalid);
    if (sgl.address > pdu.data.size() || sgl.length > pdu.data.size() - sgl.address) {
      return Reject(req, nvme::sc::kSglOffsetInvalid);
    }
    req->data.assign(pdu.data.begin() + static_cast<ptrdiff_t>(sgl.address),
                     pdu.data.begin() + static_cast<ptrdiff_t>(sgl.address + sgl.length));
    req->received = sgl.length;
    return Dispatch(req);
  }

  if (sgl.length == 0) return Dispatch(req);
  if (req->host_to_ctrl) {
    if (sgl.IsInCapsule()) return Reject(req, nvme::sc::kDataSglLengthInvalid);
    if (!sgl.IsTransport()) return Reject(req, nvme::sc::kSglDescriptorTypeInvalid);
    if (ctrl_ == nullptr) return Reject(req, nvme::sc::kCommandSequenceError);
    if (sgl.length > MaxTransferBytes(*ctrl_->subsystem())) {
      return Reject(req, nvme::sc::kInvalidField);
    }
    // One R2T for the whole transfer; the host splits it into H2CData PDUs of MAXH2CDATA.
    while (next_ttag_ == 0 || next_ttag_ == 0xFFFF || r2t_.count(next_ttag_) != 0) ++next_ttag_;
    req->ttag = next_ttag_++;
    req->data.resize(sgl.length);
    req->state = Request::State::kAwaitingData;
    r2t_[req->ttag] = req;
    std::vector<uint8_t> out;
    tcp::AppendR2T(out, {cmd.cid, req->ttag, 0, sgl.length}, opts_);
    stream_->Send(out);
    return;
  }
  if (!sgl.IsTransport()) return Reject(req, nvme::sc::kSglDescriptorTypeInvalid);
  Dispatch(req);
}

void Connection::OnH2CData(const tcp::Pdu& pdu) {
  const auto& h = pdu.as<tcp::H2CData>();
  auto it = r2t_.find(h.ttag);
  if (it == r2t_.end() || it->second->cmd.cid != h.cccid) {
    decoder_.Fail({tcp::DecodeError::kRejectedByOwner, tcp::Fes::kInvalidHeaderField,
                   static_cast<uint32_t>(tcp::kDataOffsetTtag),
                   "H2CData for an unknown TTAG/CCCID"});
    return Fatal(*decoder_.error());
  }
  auto req = it->second;
  if (h.datao != req->received ||
      uint64_t{h.datao} + pdu.data.size() > uint64_t{req->transfer_len}) {
    decoder_.Fail({tcp::DecodeError::kRejectedByOwner, tcp::Fes::kDataOutOfRange,
                   static_cast<uint32_t>(tcp::kDataOffsetDatao),
                   "H2CData offset is not the next byte of the transfer"});
    return Fatal(*decoder_.error());
  }
  std::copy(pdu.data.begin(), pdu.data.end(), req->data.begin() + h.datao);
  req->received += static_cast<uint32_t>(pdu.data.size());
  if (!pdu.data_digest_ok) req->data_digest_failed = true;
  if (req->received < req->transfer_len) {
    if (h.last) {
      decoder_.Fail({tcp::DecodeError::kRejectedByOwner, tcp::Fes::kPduSequenceError, 0,
                     "LAST_PDU before the whole R2T was sent"});
      return Fatal(*decoder_.error());
    }
    return;
  }
  r2t_.erase(it);
  if (req->data_digest_failed) return Reject(req, nvme::sc::kTransientTransportError, false);
  Dispatch(req);
}

void Connection::Dispatch(std::shared_ptr<Request> req) {
  req->state = Request::State::kExecuting;
  if (req->cmd.is_fabrics()) return ExecuteFabrics(*core_, *this, std::move(req));
  if (state_ != ConnectionState::kLive || ctrl_ == nullptr) {
    return Reject(std::move(req), nvme::sc::kCommandSequenceError);
  }
  if (qid_ == 0) return ExecuteAdmin(*core_, *this, *ctrl_, std::move(req));
  // Late writes: valid writes through the port are parked instead of executed.
  if (req->cmd.opcode == static_cast<uint8_t>(nvme::IoOpcode::kWrite)) {
    if (auto ns = ctrl_->subsystem()->FindThrough(req->cmd.nsid, port_id_)) {
      const auto rw = nvme::RwFields::From(req->cmd);
      if (rw.slba + rw.nlb <= ns->blocks() &&
          req->data.size() == uint64_t{rw.nlb} * ns->block_size()) {
        if (auto delay = core_->faults().TakeLateWrite(port_id_)) {
          req->state = Request::State::kLate;
          req->late_offset = rw.slba * ns->block_size();
          req->late_delay = *delay;
          late_.push_back(std::move(req));
          return;
        }
      }
    }
  }
  ExecuteIo(*core_, *this, *ctrl_, std::move(req));
}

void Connection::Bind(Controller* ctrl, uint16_t qid, uint16_t sqsize,
                      bool sq_flow_control_disabled) {
  ctrl_ = ctrl;
  qid_ = qid;
  sqsize_ = sqsize;
  sq_flow_control_disabled_ = sq_flow_control_disabled;
  TransitionTo(ConnectionState::kLive);
}

void Connection::Respond(std::shared_ptr<Request> req, CmdResult result) {
  if (state_ == ConnectionState::kClosed || req->state == Request::State::kDone) return;
  if (core_->faults().StalledFor(port_id_)) {
    held_.push_back({std::move(req), std::move(result)});
    return;
  }
  const Duration delay = core_->faults().DelayFor(port_id_);
  if (delay.count() > 0) {
    ++pending_delayed_;
    core_->reactor()->AddTimer(delay, [weak = weak_from_this(), req, result]() mutable {
      auto self = weak.lock();
      if (!self || self->state_ == ConnectionState::kClosed) return;
      --self->pending_delayed_;
      if (self->core_->faults().StalledFor(self->port_id_)) {
        self->held_.push_back({std::move(req), std::move(result)});
        return;
      }
      self->Emit(req, result);
    });
    return;
  }
  Emit(req, result);
}

void Connection::ReleaseHeld() {
  if (core_->faults().StalledFor(port_id_)) return;
  std::deque<Held> held;
  held.swap(held_);
  for (auto& h : held) Emit(h.req, h.result);
}

void Connection::Emit(const std::shared_ptr<Request>& req, CmdResult& result) {
  if (state_ == ConnectionState::kClosed) return;
  req->state = Request::State::kDone;
  auto it = outstanding_.find(req->cmd.cid);
  if (it != outstanding_.end() && it->second == req) outstanding_.erase(it);

  nvme::Completion cqe;
  cqe.cid = req->cmd.cid;
  cqe.sqid = qid_;
  // SQ head: one entry consumed per command, modulo the queue size (0's based SQSIZE).
  sqhd_ = static_cast<uint16_t>((sqhd_ + 1) % (uint32_t{sqsize_} + 1));
  cqe.sqhd = sq_flow_control_disabled_ ? 0 : sqhd_;
  cqe.status = result.status;
  cqe.dw0 = result.dw0;
  cqe.dw1 = result.dw1;

  // Header, data and digest go to the stream one by one: the stream copies each into its send
  // blocks, so the data is copied once here, not again into a PDU buffer first.
  bool success_sent = false;
  if (result.status.ok() && !result.data.empty() && !req->host_to_ctrl) {
    const uint32_t total =
        static_cast<uint32_t>(std::min<uint64_t>(result.data.size(), req->transfer_len));
    for (uint32_t off = 0; off < total;) {
      const uint32_t n = std::min(kC2HChunk, total - off);
      const bool last = off + n == total;
      tcp::C2HData c2h;
      c2h.cccid = req->cmd.cid;
      c2h.datao = off;
      c2h.last = last;
      // SUCCESS replaces the CapsuleResp only when the host disabled SQ flow control (there is no
      // SQHD to report) and the result carries nothing else; Linux nvmet never does it.
      c2h.success = last && core_->config().c2h_success && sq_flow_control_disabled_ &&
                    result.dw0 == 0 && result.dw1 == 0;
      success_sent = c2h.success;
      const auto chunk = std::span<const uint8_t>(result.data.data() + off, n);
      scratch_.clear();
      tcp::AppendC2HDataPrefix(scratch_, c2h, n, opts_);
      stream_->Send(scratch_);
      stream_->Send(chunk);
      if (opts_.ddgst) {
        scratch_.clear();
        tcp::AppendDataDigest(scratch_, chunk);
        stream_->Send(scratch_);
      }
      off += n;
    }
  }
  if (!success_sent) {
    scratch_.clear();
    tcp::AppendCapsuleResp(scratch_, cqe, opts_);
    stream_->Send(scratch_);
  }
}

}  // namespace nvmpath::target
