#include "host/queue_pair.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"

namespace nvmpath::host {

using nvme::NvmeStatus;
namespace sc = nvme::sc;

namespace {
constexpr uint16_t kTagBits = 12;
constexpr uint16_t kTagMask = (1u << kTagBits) - 1;
constexpr uint32_t kMaxDecoderData = 64u << 20;

bool Terminal(QueueState s) { return s == QueueState::kFailed || s == QueueState::kClosed; }

tcp::PduError OwnerError(tcp::Fes fes, uint32_t fei, std::string message) {
  return tcp::PduError{tcp::DecodeError::kRejectedByOwner, fes, fei, std::move(message)};
}
}  // namespace

const char* QueueStateName(QueueState s) {
  switch (s) {
    case QueueState::kNew: return "new";
    case QueueState::kTcpConnecting: return "tcp-connecting";
    case QueueState::kIcExchange: return "ic-exchange";
    case QueueState::kFabricsConnect: return "fabrics-connect";
    case QueueState::kLive: return "live";
    case QueueState::kFailed: return "failed";
    case QueueState::kClosed: return "closed";
  }
  return "unknown";
}

bool QueueStateTransitionAllowed(QueueState from, QueueState to) {
  if (Terminal(from)) return false;
  if (Terminal(to)) return true;
  switch (to) {
    case QueueState::kTcpConnecting: return from == QueueState::kNew;
    case QueueState::kIcExchange: return from == QueueState::kTcpConnecting;
    case QueueState::kFabricsConnect: return from == QueueState::kIcExchange;
    case QueueState::kLive: return from == QueueState::kFabricsConnect;
    default: return false;
  }
}

// One command slot. Lives in pool_ for the life of the queue pair; either on the free list or in
// flight.
struct QueuePair::Request {
  uint16_t tag = 0;
  uint8_t gen = 0;  // 4 bits, bumped on every allocation
  bool in_flight = false;
  bool timed_out = false;
  bool in_capsule = false;
  Dir dir = Dir::kNone;
  nvme::Command cmd;
  std::span<uint8_t> data;
  uint32_t data_done = 0;  // reads: bytes received; writes by R2T: bytes sent
  bool has_deadline = false;
  TimePoint deadline{0};
  Callback done;
  Request* next_free = nullptr;

  uint16_t cid() const { return static_cast<uint16_t>((uint16_t{gen} << kTagBits) | tag); }
};

QueuePair::QueuePair(reactor::Reactor* reactor, QueuePairOptions options, Events events)
    : reactor_(reactor),
      options_(std::move(options)),
      events_(std::move(events)),
      decoder_(tcp::DecoderConfig{
          .role = tcp::Role::kHost,
          .pda = 0,
          .max_data_per_pdu = std::min(options_.max_transfer_bytes, kMaxDecoderData),
          .expect_ic = true,
          .data_digest_error_fatal = true,
          .transfer_length = [this](uint16_t cid) -> std::optional<uint64_t> {
            const uint16_t tag = cid & kTagMask;
            if (tag >= pool_.size()) return std::nullopt;
            const Request& r = pool_[tag];
            if (!r.in_flight || r.cid() != cid) return std::nullopt;
            return r.data.size();
          },
      }) {
  NVMP_ASSERT(reactor_ != nullptr);
  NVMP_ASSERT(options_.queue_size >= 2 && options_.queue_size <= 4096, "queue_size out of range");
  pool_.resize(options_.queue_size - 1u);
  for (size_t i = pool_.size(); i-- > 0;) {
    pool_[i].tag = static_cast<uint16_t>(i);
    pool_[i].next_free = free_;
    free_ = &pool_[i];
  }
  scratch_.reserve(256);
}

QueuePair::~QueuePair() {
  *alive_ = false;
  connect_done_ = nullptr;  // the owner is going away; it does not want to hear
  Teardown(QueueState::kClosed, Status(Code::kCancelled, "queue pair destroyed"), false);
}

uint32_t QueuePair::capacity() const { return static_cast<uint32_t>(pool_.size()); }

std::string QueuePair::Describe() const {
  return peer_.empty() ? options_.name : options_.name + " (" + peer_ + ")";
}

void QueuePair::SetState(QueueState to) {
  NVMP_ASSERT(QueueStateTransitionAllowed(state_, to), "queue state transition not allowed");
  state_ = to;
}

void QueuePair::Connect(const std::string& address, uint16_t port, ConnectCallback done) {
  NVMP_ASSERT(state_ == QueueState::kNew);
  connect_done_ = std::move(done);
  peer_ = fmt::format("{}:{}", address, port);
  SetState(QueueState::kTcpConnecting);
  std::weak_ptr<bool> alive = alive_;
  connect_timer_ = reactor_->AddTimer(options_.connect_timeout, [this, alive] {
    if (alive.expired()) return;
    connect_timer_ = reactor::kNoTimer;
    Teardown(QueueState::kFailed,
             Status(Code::kTimedOut, fmt::format("{}: not connected within {}s ({})", Describe(),
                                                 ToSeconds(options_.connect_timeout),
                                                 QueueStateName(state_))),
             true);
  });
  reactor_->Connect(address, port, [this, alive](Result<std::unique_ptr<reactor::Stream>> s) {
    if (alive.expired()) return;  // the stream (if any) closes as it is dropped
    OnConnected(std::move(s));
  });
}

void QueuePair::OnConnected(Result<std::unique_ptr<reactor::Stream>> stream) {
  if (state_ != QueueState::kTcpConnecting) return;  // failed or closed meanwhile
  if (!stream.ok()) {
    Teardown(QueueState::kFailed, stream.status().WithContext(Describe()), true);
    return;
  }
  stream_ = std::move(stream).value();
  SetState(QueueState::kIcExchange);
  stream_->SetHandlers([this](std::span<const uint8_t> b) { OnReceive(b); },
                       [this](const Status& why) { OnStreamClosed(why); });
  // Linux and SPDK hosts: PFV 0, HPDA 0, MAXR2T 0 (one R2T outstanding per command).
  scratch_.clear();
  tcp::AppendIcReq(scratch_, tcp::IcReq{.pfv = 0,
                                        .hpda = 0,
                                        .hdgst = options_.hdgst,
                                        .ddgst = options_.ddgst,
                                        .maxr2t = 0});
  stream_->Send(scratch_);
}

void QueuePair::OnReceive(std::span<const uint8_t> bytes) {
  if (Terminal(state_)) return;
  Status st = decoder_.Feed(bytes, [this](const tcp::Pdu& pdu) { HandlePdu(pdu); });
  if (st.ok() || Terminal(state_)) return;
  ProtocolFailure(*decoder_.error());
}

void QueuePair::OnStreamClosed(const Status& why) {
  if (Terminal(state_)) return;
  Teardown(QueueState::kFailed,
           why.ok() ? Unavailable(Describe() + ": connection closed by the controller")
                    : why.WithContext(Describe()),
           true);
}

void QueuePair::HandlePdu(const tcp::Pdu& pdu) {
  if (Terminal(state_)) return;
  switch (pdu.type) {
    case tcp::PduType::kIcResp: return HandleIcResp(pdu);
    case tcp::PduType::kC2HTermReq: {
      const auto& t = pdu.as<tcp::TermReq>();
      return Teardown(QueueState::kFailed,
                      ProtocolError(fmt::format("{}: controller terminated the connection: {} "
                                                "(FES {}, FEI {})",
                                                Describe(), tcp::FesName(t.fes),
                                                static_cast<unsigned>(t.fes), t.fei)),
                      true);
    }
    default: break;
  }
  if (state_ != QueueState::kFabricsConnect && state_ != QueueState::kLive) {
    return ProtocolFailure(OwnerError(tcp::Fes::kPduSequenceError, 0,
                                      fmt::format("{} before the connection was set up",
                                                  tcp::PduTypeName(pdu.type))));
  }
  switch (pdu.type) {
    case tcp::PduType::kCapsuleResp: return HandleCapsuleResp(pdu.as<tcp::CapsuleResp>());
    case tcp::PduType::kC2HData: return HandleC2HData(pdu, pdu.as<tcp::C2HData>());
    case tcp::PduType::kR2T: return HandleR2T(pdu.as<tcp::R2T>());
    default:
      // The decoder only delivers controller-to-host types; anything else is a decoder bug.
      NVMP_UNREACHABLE("host decoder delivered a host-to-controller PDU");
  }
}

void QueuePair::HandleIcResp(const tcp::Pdu& pdu) {
  const auto& ic = pdu.as<tcp::IcResp>();
  auto reject = [&](std::string what) {
    Teardown(QueueState::kFailed, ProtocolError(fmt::format("{}: ICResp rejected: {}", Describe(), what)),
             true);
  };
  // The decoder checked PFV, CPDA <= 31 and MAXH2CDATA; these are the host's own rules.
  if (ic.pfv != 0) return reject(fmt::format("PFV {} is not 0", ic.pfv));
  if (ic.hdgst != options_.hdgst) {
    return reject(fmt::format("header digest {} but the host requested it {}",
                              ic.hdgst ? "enabled" : "disabled", options_.hdgst ? "on" : "off"));
  }
  if (ic.ddgst != options_.ddgst) {
    return reject(fmt::format("data digest {} but the host requested it {}",
                              ic.ddgst ? "enabled" : "disabled", options_.ddgst ? "on" : "off"));
  }
  if (ic.maxh2cdata < tcp::kMinMaxH2CData || ic.maxh2cdata % 4 != 0) {
    return reject(fmt::format("MAXH2CDATA {} is not a multiple of 4 of at least 4096", ic.maxh2cdata));
  }
  if (ic.cpda > tcp::kPdaMax) return reject(fmt::format("CPDA {} is over 31", ic.cpda));
  maxh2cdata_ = ic.maxh2cdata;
  // CPDA is honoured: our H2C data starts at the alignment the controller asked for.
  encode_ = tcp::EncodeOptions{.hdgst = ic.hdgst, .ddgst = ic.ddgst, .pda = ic.cpda};
  decoder_.set_digests(ic.hdgst, ic.ddgst);
  SetState(QueueState::kFabricsConnect);
  SendConnect();
}

void QueuePair::SendConnect() {
  nvme::ConnectData data;
  data.hostid = options_.hostid;
  data.cntlid = options_.cntlid;
  data.subnqn = options_.subnqn;
  data.hostnqn = options_.hostnqn;
  data.Encode(std::span<uint8_t, nvme::kConnectDataSize>(connect_data_));
  const nvme::Command cmd = nvme::MakeConnect(
      0, nvme::ConnectArgs{.qid = options_.qid,
                           .sqsize = static_cast<uint16_t>(options_.queue_size - 1),
                           .cattr = options_.disable_sq_flow_control
                                        ? nvme::kCattrDisableSqFlowControl
                                        : uint8_t{0},
                           .kato_ms = options_.qid == 0 ? options_.kato_ms : 0});
  Request* r = Allocate();
  NVMP_ASSERT(r != nullptr, "pool empty at Connect");
  r->cmd = cmd;
  r->data = connect_data_;
  r->dir = Dir::kToController;
  r->in_capsule = true;
  r->cmd.set_sgl1(nvme::SglDescriptor::InCapsule(nvme::kConnectDataSize));
  r->done = [this](const CommandResult& res) {
    if (Terminal(state_)) return;  // Teardown reports to connect_done_
    connect_status_ = res.status;
    if (!res.status.ok()) {
      Teardown(QueueState::kFailed,
               IoError(fmt::format("{}: Connect (QID {}) failed: {}", Describe(), options_.qid,
                                   res.status.ToString())),
               true);
      return;
    }
    cntlid_ = static_cast<uint16_t>(res.dw0 & 0xFFFF);
    SetState(QueueState::kLive);
    if (connect_timer_ != reactor::kNoTimer) reactor_->CancelTimer(connect_timer_);
    connect_timer_ = reactor::kNoTimer;
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    if (done) done(cntlid_);
  };
  r->has_deadline = false;  // covered by the connect timer
  SendCommand(r);
}

QueuePair::Request* QueuePair::Allocate() {
  Request* r = free_;
  if (r == nullptr) return nullptr;
  free_ = r->next_free;
  r->next_free = nullptr;
  NVMP_ASSERT(!r->in_flight);
  r->gen = static_cast<uint8_t>((r->gen + 1) & 0xF);
  r->in_flight = true;
  r->timed_out = false;
  r->in_capsule = false;
  r->dir = Dir::kNone;
  r->data = {};
  r->data_done = 0;
  r->has_deadline = false;
  ++in_flight_;
  return r;
}

Status QueuePair::Submit(const nvme::Command& cmd, std::span<uint8_t> data, Callback done,
                         Duration timeout) {
  NVMP_ASSERT(data.size() <= options_.max_transfer_bytes, "data over max_transfer_bytes");
  Dir dir = Dir::kNone;
  if (!data.empty()) {
    if (cmd.is_fabrics()) {
      dir = Dir::kToController;
    } else {
      switch (cmd.opcode & 3) {
        case 1: dir = Dir::kToController; break;
        case 2: dir = Dir::kFromController; break;
        default:
          return InvalidArgument(fmt::format("opcode {:#04x} with data has no single direction",
                                             cmd.opcode));
      }
    }
  }
  if (state_ != QueueState::kLive) {
    PostCompletion(std::move(done), CommandResult{NvmeStatus::Of(sc::kHostPathError)});
    return Status::Ok();
  }
  Request* r = Allocate();
  if (r == nullptr) {
    return Unavailable(fmt::format("{}: queue full ({} commands outstanding)", Describe(),
                                   in_flight_));
  }
  r->cmd = cmd;
  r->data = data;
  r->dir = dir;
  r->done = std::move(done);
  const uint32_t len = static_cast<uint32_t>(data.size());
  r->in_capsule = dir == Dir::kToController && len <= options_.in_capsule_max;
  r->cmd.set_sgl1(r->in_capsule ? nvme::SglDescriptor::InCapsule(len)
                                : nvme::SglDescriptor::Transport(len));
  const Duration t = timeout == kDefaultTimeout ? options_.command_timeout : timeout;
  if (t > Duration::zero()) {
    r->has_deadline = true;
    r->deadline = reactor_->now() + t;
    ArmSweep();
  }
  SendCommand(r);
  return Status::Ok();
}

void QueuePair::SendCommand(Request* r) {
  r->cmd.cid = r->cid();
  scratch_.clear();
  tcp::AppendCapsuleCmd(scratch_, r->cmd,
                        r->in_capsule ? std::span<const uint8_t>(r->data) : std::span<const uint8_t>(),
                        encode_);
  stream_->Send(scratch_);
}

QueuePair::Request* QueuePair::FindInFlight(uint16_t cid, const char* what) {
  const uint16_t tag = cid & kTagMask;
  if (tag < pool_.size() && pool_[tag].in_flight && pool_[tag].cid() == cid) return &pool_[tag];
  ++stale_completions_;
  const bool stale = tag < pool_.size() && pool_[tag].in_flight;
  ProtocolFailure(OwnerError(
      tcp::Fes::kInvalidHeaderField, tcp::kDataOffsetCccid,
      fmt::format("{} for CID {:#06x}, which is not outstanding ({})", what, cid,
                  stale ? fmt::format("stale generation {}, current {:#06x}", cid >> kTagBits,
                                      pool_[tag].cid())
                        : "unknown tag")));
  return nullptr;
}

void QueuePair::HandleCapsuleResp(const tcp::CapsuleResp& resp) {
  Request* r = FindInFlight(resp.cqe.cid, "CapsuleResp");
  if (r == nullptr) return;
  CommandResult res{resp.cqe.status, resp.cqe.dw0, resp.cqe.dw1};
  if (res.status.ok() && r->dir == Dir::kFromController && r->data_done != r->data.size()) {
    // A success that did not deliver the data would hand the caller a stale buffer.
    NVMP_LOG_WARN("{}: CID {:#06x} succeeded with {} of {} data bytes", Describe(), r->cid(),
                  r->data_done, r->data.size());
    res.status = NvmeStatus::Of(sc::kDataTransferError);
  }
  Complete(r, res);
}

void QueuePair::HandleC2HData(const tcp::Pdu& pdu, const tcp::C2HData& d) {
  Request* r = FindInFlight(d.cccid, "C2HData");
  if (r == nullptr) return;
  if (r->dir != Dir::kFromController) {
    return ProtocolFailure(OwnerError(tcp::Fes::kInvalidHeaderField, tcp::kDataOffsetCccid,
                                      fmt::format("C2HData for CID {:#06x}, which reads no data",
                                                  d.cccid)));
  }
  const uint32_t n = static_cast<uint32_t>(pdu.data.size());
  if (d.datao != r->data_done || uint64_t{d.datao} + n > r->data.size()) {
    return ProtocolFailure(OwnerError(
        tcp::Fes::kDataOutOfRange, 0,
        fmt::format("C2HData for CID {:#06x}: DATAO {} DATAL {}, expected offset {} of {} bytes",
                    d.cccid, d.datao, n, r->data_done, r->data.size())));
  }
  std::memcpy(r->data.data() + d.datao, pdu.data.data(), n);
  r->data_done += n;
  if (d.success) {
    if (r->data_done != r->data.size()) {
      return ProtocolFailure(OwnerError(
          tcp::Fes::kInvalidHeaderField, tcp::kChOffsetFlags,
          fmt::format("C2HData SUCCESS for CID {:#06x} after {} of {} bytes", d.cccid,
                      r->data_done, r->data.size())));
    }
    Complete(r, CommandResult{});
  }
}

void QueuePair::HandleR2T(const tcp::R2T& t) {
  Request* r = FindInFlight(t.cccid, "R2T");
  if (r == nullptr) return;
  if (r->dir != Dir::kToController || r->in_capsule) {
    return ProtocolFailure(OwnerError(
        tcp::Fes::kInvalidHeaderField, tcp::kDataOffsetCccid,
        fmt::format("R2T for CID {:#06x}, which has no data to transfer by R2T", t.cccid)));
  }
  // Linux host rules: R2TL not 0 (decoder), not behind what was sent, not past the end.
  if (t.r2to < r->data_done || uint64_t{t.r2to} + t.r2tl > r->data.size()) {
    return ProtocolFailure(OwnerError(
        tcp::Fes::kDataOutOfRange, 0,
        fmt::format("R2T for CID {:#06x}: R2TO {} R2TL {} with {} of {} bytes sent", t.cccid,
                    t.r2to, t.r2tl, r->data_done, r->data.size())));
  }
  uint32_t offset = t.r2to;
  uint32_t left = t.r2tl;
  while (left > 0) {
    const uint32_t n = std::min(left, maxh2cdata_);
    const auto chunk = std::span<const uint8_t>(r->data).subspan(offset, n);
    scratch_.clear();
    tcp::AppendH2CDataPrefix(
        scratch_, tcp::H2CData{.cccid = t.cccid, .ttag = t.ttag, .datao = offset, .last = n == left},
        n, encode_);
    stream_->Send(scratch_);
    stream_->Send(chunk);
    if (encode_.ddgst) {
      scratch_.clear();
      tcp::AppendDataDigest(scratch_, chunk);
      stream_->Send(scratch_);
    }
    offset += n;
    left -= n;
  }
  r->data_done = t.r2to + t.r2tl;
}

void QueuePair::Complete(Request* r, const CommandResult& result) {
  NVMP_ASSERT(r->in_flight);
  Callback done = std::move(r->done);
  r->done = nullptr;
  r->in_flight = false;
  r->data = {};
  r->next_free = free_;
  free_ = r;
  --in_flight_;
  if (done) done(result);
}

void QueuePair::ProtocolFailure(const tcp::PduError& error) {
  if (Terminal(state_)) return;
  if (error.fes != tcp::Fes::kNone && stream_ && stream_->is_open()) {
    scratch_.clear();
    tcp::AppendTermReq(scratch_, tcp::PduType::kH2CTermReq, error.ToTermReq(), {});
    stream_->Send(scratch_);
  }
  Teardown(QueueState::kFailed,
           ProtocolError(fmt::format("{}: {} (FES {}, FEI {})", Describe(), error.message,
                                     static_cast<unsigned>(error.fes), error.fei)),
           true);
}

void QueuePair::Fail(const Status& why) { Teardown(QueueState::kFailed, why, false); }

void QueuePair::Close() {
  Teardown(QueueState::kClosed, Status(Code::kCancelled, Describe() + ": closed by the host"), false);
}

void QueuePair::Teardown(QueueState to, const Status& why, bool notify) {
  if (Terminal(state_)) return;
  const bool was_connecting = state_ != QueueState::kLive;
  SetState(to);
  failure_ = why;
  if (connect_timer_ != reactor::kNoTimer) reactor_->CancelTimer(connect_timer_);
  if (sweep_timer_ != reactor::kNoTimer) reactor_->CancelTimer(sweep_timer_);
  connect_timer_ = sweep_timer_ = reactor::kNoTimer;
  if (!decoder_.failed()) {
    // Stops a Feed() in progress from delivering the rest of its bytes.
    decoder_.Fail(OwnerError(tcp::Fes::kNone, 0, "queue torn down"));
  }
  if (stream_) {
    stream_->Close();
    // We may be inside the stream's own callback: destroy it from a later loop turn.
    reactor_->Post([s = std::shared_ptr<reactor::Stream>(std::move(stream_))] {});
  }
  if (state_ == QueueState::kFailed) {
    NVMP_LOG_INFO("{} failed: {}", Describe(), why.ToString());
  }
  // Every outstanding command ends now, as a path error the head fails over.
  for (Request& r : pool_) {
    if (r.in_flight) Complete(&r, CommandResult{NvmeStatus::Of(sc::kAbortedByHost)});
  }
  if (connect_done_) {
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    done(why);
  } else if (notify && !was_connecting && events_.on_failed) {
    events_.on_failed(why);
  }
}

void QueuePair::ArmSweep() {
  if (sweep_timer_ != reactor::kNoTimer) return;
  const Duration period = std::clamp<Duration>(options_.command_timeout / 8,
                                               std::chrono::milliseconds(1),
                                               std::chrono::milliseconds(500));
  std::weak_ptr<bool> alive = alive_;
  sweep_timer_ = reactor_->AddTimer(period, [this, alive] {
    if (alive.expired()) return;
    sweep_timer_ = reactor::kNoTimer;
    Sweep();
  });
}

void QueuePair::Sweep() {
  if (Terminal(state_)) return;
  const TimePoint now = reactor_->now();
  bool pending = false;
  for (Request& r : pool_) {
    if (!r.in_flight || !r.has_deadline || r.timed_out) continue;
    if (now < r.deadline) {
      pending = true;
      continue;
    }
    r.timed_out = true;
    Status what(Code::kTimedOut,
                fmt::format("{}: command {:#04x} CID {:#06x} timed out", Describe(), r.cmd.opcode,
                            r.cid()));
    NVMP_LOG_WARN("{}", what.message());
    if (state_ != QueueState::kLive) return Teardown(QueueState::kFailed, what, true);
    if (events_.on_timeout) events_.on_timeout(what);
    if (Terminal(state_)) return;  // the owner failed the queue
  }
  if (pending) ArmSweep();
}

void QueuePair::PostCompletion(Callback done, CommandResult result) {
  reactor_->Post([done = std::move(done), result] {
    if (done) done(result);
  });
}

}  // namespace nvmpath::host
