// host::QueuePair — one NVMe/TCP queue (admin QID 0 or an I/O queue) over one reactor::Stream.
//
// Lifecycle: Connect() opens the TCP connection, exchanges ICReq/ICResp, and sends the Fabrics
// Connect command; when Connect's callback reports OK the queue is live and Submit() carries
// commands. Any socket error, protocol error (malformed PDU, unknown or stale CID, bad R2T), a
// C2HTermReq, or Fail() by the owner moves the queue to kFailed: the stream is closed and every
// outstanding command completes at once with 0x371 (Aborted by Host — a path error, so a
// multipath head fails it over). Commands submitted to a queue that is not live complete with
// 0x370 (Host Path Error). Once failed, a queue pair stays failed; reconnecting means a new one.
//
// Data: the caller builds the SQE (any CID and DPTR; the queue sets both) and passes the data
// buffer. Direction comes from the opcode (bits 1:0; Fabrics Connect carries data to the
// controller). Writes up to the in-capsule limit travel in the capsule; larger ones wait for R2Ts
// and are sent as H2CData PDUs of at most MAXH2CDATA. Reads land straight in the caller's buffer
// from C2HData PDUs; a final C2HData with SUCCESS completes the command without a CapsuleResp.
//
// Command identifiers: a preallocated pool of queue_size - 1 requests (one SQ slot stays free, as
// in a ring); CID = generation (bits 15:12) | tag (bits 11:0), the generation bumped on every
// reuse, so a completion for a finished command is caught as stale instead of completing the
// command that reused the tag. No allocation per command once the send scratch has grown.
//
// Timeouts: a sweep timer runs while commands are outstanding; a command older than its timeout
// is reported once through on_timeout (the owner resets the controller, which fails the queue).
// Before the queue is live, a timeout (TCP connect, ICResp, Connect) fails the queue instead.
//
// Thread: a QueuePair lives on one reactor (the one passed in) and is used only there; its stream
// is created there. Callbacks run from that reactor's loop, never inside Submit() or Connect().
// REQUIRES of the owner: do not destroy the QueuePair inside one of its callbacks (post it).
// Invariants (asserted): a request is on the free list xor in flight; in_flight_ counts the
// latter; state changes only along the transitions in QueueStateTransitionAllowed.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/time.h"
#include "nvme/command.h"
#include "nvme/status.h"
#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "tcp/pdu.h"
#include "tcp/pdu_decoder.h"
#include "tcp/pdu_encoder.h"

namespace nvmpath::host {

enum class QueueState : uint8_t {
  kNew,            // constructed, Connect() not called
  kTcpConnecting,  // waiting for the TCP connection
  kIcExchange,     // ICReq sent, waiting for ICResp
  kFabricsConnect, // Connect command sent
  kLive,           // commands flow
  kFailed,         // terminal: outstanding commands were aborted, stream closed
  kClosed,         // terminal: closed by the owner (Close())
};
const char* QueueStateName(QueueState s);
// new → tcp-connecting → ic-exchange → fabrics-connect → live; any non-terminal → failed/closed.
bool QueueStateTransitionAllowed(QueueState from, QueueState to);

struct QueuePairOptions {
  std::string name = "q";  // for messages: "ctrl 127.0.0.1:4420 q0"
  uint16_t qid = 0;
  uint16_t queue_size = 32;  // SQ entries; Connect SQSIZE = queue_size - 1; pool = queue_size - 1
  uint16_t cntlid = nvme::kCntlidDynamic;  // 0xFFFF on the admin queue, the CNTLID on I/O queues
  uint32_t kato_ms = 0;                    // admin queue only
  std::string subnqn;
  std::string hostnqn;
  std::array<uint8_t, 16> hostid{};
  bool hdgst = false;
  bool ddgst = false;
  // Ask the controller not to track SQ head (Connect CATTR bit 2); lets it end reads with a
  // C2HData carrying SUCCESS. The pool never exceeds the SQ, so nothing else depends on it.
  bool disable_sq_flow_control = true;
  // Largest write carried in the capsule (admin: 8 KiB; I/O: IOCCSZ * 16 - 64).
  uint32_t in_capsule_max = 8192;
  // Largest data of one command; C2HData PDUs up to this size are accepted.
  uint32_t max_transfer_bytes = 4u << 20;
  Duration command_timeout = std::chrono::seconds(30);
  // TCP connect + ICReq + Connect must finish within this.
  Duration connect_timeout = std::chrono::seconds(10);
};

// What a command ended with: its status, and DW0/DW1 of its CQE (0 when completed by SUCCESS or
// by the host).
struct CommandResult {
  nvme::NvmeStatus status;
  uint32_t dw0 = 0;
  uint32_t dw1 = 0;
  uint64_t result64() const { return (uint64_t{dw1} << 32) | dw0; }
};

class QueuePair {
 public:
  // A completion. Captures of up to two pointers do not allocate (std::function small buffer).
  using Callback = std::function<void(const CommandResult&)>;
  // Connect's outcome: the CNTLID the controller returned in Connect's DW0.
  using ConnectCallback = std::function<void(Result<uint16_t> cntlid)>;

  struct Events {
    // The queue failed after it was live (socket error, protocol error, TermReq, Fail()). Runs
    // after every outstanding command completed with 0x371.
    std::function<void(const Status& why)> on_failed;
    // A command has been outstanding longer than its timeout (reported once per command).
    std::function<void(const Status& what)> on_timeout;
  };

  static constexpr Duration kDefaultTimeout = Duration(-1);
  static constexpr Duration kNoTimeout = Duration(0);

  // REQUIRES: reactor outlives the queue pair; 2 <= queue_size <= 4096.
  QueuePair(reactor::Reactor* reactor, QueuePairOptions options, Events events);
  ~QueuePair();
  QueuePair(const QueuePair&) = delete;
  QueuePair& operator=(const QueuePair&) = delete;

  // TCP connect to address:port, IC exchange, Fabrics Connect. `done` runs once: OK with the
  // CNTLID (the queue is live), or an error: kUnavailable (refused, reset, closed), kProtocol
  // (bad ICResp or PDU: the message names the field), kTimedOut, or kIoError for a Connect that
  // The connection's local IP address ("" on simulated streams or when not connected).
  std::string local_address() const { return stream_ ? stream_->local_address() : ""; }
  // completed with an error status (connect_status() holds it, e.g. to see DNR).
  // REQUIRES: state() == kNew; called on the queue's reactor.
  void Connect(const std::string& address, uint16_t port, ConnectCallback done);

  // Sends `cmd` with `data`. Returns kUnavailable ("queue full") when all requests are in
  // flight; then `done` is not called. Otherwise `done` runs exactly once, later: with the
  // controller's status; 0x370 if the queue is not live; 0x371 if the queue fails first.
  // `timeout`: kDefaultTimeout = options.command_timeout; kNoTimeout = never (AERs).
  // REQUIRES: `data` stays valid until `done` runs; data.size() <= max_transfer_bytes.
  Status Submit(const nvme::Command& cmd, std::span<uint8_t> data, Callback done,
                Duration timeout = kDefaultTimeout);

  // Fails the queue as if the connection broke: every outstanding command completes with 0x371
  // now. on_failed is not called (the owner asked). No-op when already terminal.
  void Fail(const Status& why);
  // Orderly close by the owner: like Fail but the queue ends kClosed.
  void Close();

  QueueState state() const { return state_; }
  bool live() const { return state_ == QueueState::kLive; }
  uint16_t qid() const { return options_.qid; }
  uint16_t cntlid() const { return cntlid_; }
  const QueuePairOptions& options() const { return options_; }
  // Negotiated in ICResp.
  uint32_t maxh2cdata() const { return maxh2cdata_; }
  uint8_t cpda() const { return encode_.pda; }
  // The status the Connect command completed with (0 until it completes).
  nvme::NvmeStatus connect_status() const { return connect_status_; }
  // Why the queue failed (OK while not failed).
  const Status& failure() const { return failure_; }
  uint32_t in_flight() const { return in_flight_; }
  uint32_t capacity() const;  // commands that can be outstanding
  uint64_t stale_completions() const { return stale_completions_; }

 private:
  struct Request;
  enum class Dir : uint8_t { kNone, kToController, kFromController };

  void SetState(QueueState to);
  void OnConnected(Result<std::unique_ptr<reactor::Stream>> stream);
  void OnReceive(std::span<const uint8_t> bytes);
  void OnStreamClosed(const Status& why);
  void HandlePdu(const tcp::Pdu& pdu);
  void HandleIcResp(const tcp::Pdu& pdu);
  void HandleCapsuleResp(const tcp::CapsuleResp& resp);
  void HandleC2HData(const tcp::Pdu& pdu, const tcp::C2HData& data);
  void HandleR2T(const tcp::R2T& r2t);
  void SendConnect();
  // Looks up an in-flight request by CID; nullptr and a protocol failure if unknown or stale.
  Request* FindInFlight(uint16_t cid, const char* what);
  Request* Allocate();
  void SendCommand(Request* r);
  void Complete(Request* r, const CommandResult& result);
  // Fatal protocol error found by this side: H2CTermReq (when fes != none), then Teardown.
  void ProtocolFailure(const tcp::PduError& error);
  void Teardown(QueueState to, const Status& why, bool notify);
  void ArmSweep();
  void Sweep();
  void PostCompletion(Callback done, CommandResult result);
  std::string Describe() const;

  reactor::Reactor* const reactor_;
  const QueuePairOptions options_;
  const Events events_;
  QueueState state_ = QueueState::kNew;
  std::unique_ptr<reactor::Stream> stream_;
  tcp::PduDecoder decoder_;
  tcp::EncodeOptions encode_;
  ConnectCallback connect_done_;
  reactor::TimerId connect_timer_ = reactor::kNoTimer;
  reactor::TimerId sweep_timer_ = reactor::kNoTimer;
  std::string peer_;
  uint16_t cntlid_ = 0;
  uint32_t maxh2cdata_ = 0;
  nvme::NvmeStatus connect_status_;
  Status failure_;
  std::array<uint8_t, nvme::kConnectDataSize> connect_data_{};

  std::vector<Request> pool_;
  Request* free_ = nullptr;
  uint32_t in_flight_ = 0;
  uint64_t stale_completions_ = 0;
  std::vector<uint8_t> scratch_;  // one PDU being built; reused
  // Guards callbacks that may arrive after destruction (TCP connect, posted completions).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nvmpath::host
