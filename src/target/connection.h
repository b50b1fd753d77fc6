// target::Connection — one NVMe/TCP connection, which is one queue (admin or I/O) of one
// controller: the IC exchange, PDU decoding, capsule dispatch, in-capsule data and the R2T/H2CData
// flow for writes, C2HData + CapsuleResp for results, digests, and C2HTermReq on fatal errors.
//
// Thread: reactors[0] (it owns its Stream, which belongs to the reactor that accepted it).
// Owned by the Core (shared_ptr); handlers that complete asynchronously hold a weak_ptr.
//
// State machine (explicit transitions only, see CanTransition):
//   kAwaitIcReq --ICReq--> kAwaitConnect --Connect ok--> kLive
//   any --peer close / fatal PDU error / drop / association ended--> kClosed (terminal)
// Invariants: nothing is sent after kClosed; a Request is in outstanding_ from its capsule until
// its response is emitted (or forever, for a late write, until the connection closes).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/reactor.h"
#include "target/request.h"
#include "tcp/pdu_decoder.h"
#include "tcp/pdu_encoder.h"

namespace nvmpath::target {

class Core;
class Controller;

enum class ConnectionState : uint8_t { kAwaitIcReq, kAwaitConnect, kLive, kClosed };
const char* ConnectionStateName(ConnectionState s);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Core* core, uint64_t id, uint16_t port_id, std::unique_ptr<reactor::Stream> stream);
  ~Connection();

  // Installs the stream handlers. REQUIRES: called once, after the shared_ptr exists.
  void Start();
  // Closes the stream (after flushing what is queued); runs the close bookkeeping once.
  void Close(std::string_view why);

  // Completes a request: the response goes out now, after the port's delay, or when the port's
  // stall ends. Safe to call after the connection closed (the response is dropped).
  void Respond(std::shared_ptr<Request> req, CmdResult result);
  // Emits responses held by a stall.
  void ReleaseHeld();
  // Binds this queue to a controller after a successful Connect.
  void Bind(Controller* ctrl, uint16_t qid, uint16_t sqsize, bool sq_flow_control_disabled);
  void Unbind() { ctrl_ = nullptr; }

  uint64_t id() const { return id_; }
  uint16_t port_id() const { return port_id_; }
  uint16_t qid() const { return qid_; }
  Controller* controller() const { return ctrl_; }
  ConnectionState state() const { return state_; }
  std::string description() const;
  bool hdgst() const { return opts_.hdgst; }
  bool ddgst() const { return opts_.ddgst; }
  size_t outstanding() const { return outstanding_.size(); }
  // Late writes parked on this connection.
  size_t late_writes() const { return late_.size(); }

  static bool CanTransition(ConnectionState from, ConnectionState to);

 private:
  struct Held {
    std::shared_ptr<Request> req;
    CmdResult result;
  };

  void TransitionTo(ConnectionState to);
  void OnBytes(std::span<const uint8_t> bytes);
  void OnPdu(const tcp::Pdu& pdu);
  void OnIcReq(const tcp::IcReq& ic);
  void OnCapsule(const tcp::Pdu& pdu);
  void OnH2CData(const tcp::Pdu& pdu);
  void Dispatch(std::shared_ptr<Request> req);
  void Emit(const std::shared_ptr<Request>& req, CmdResult& result);
  void Fatal(const tcp::PduError& error);
  // Immediate error response for a command that never got to a handler.
  void Reject(std::shared_ptr<Request> req, uint16_t code, bool dnr = true);
  void OnClosed(std::string_view why);

  Core* const core_;
  const uint64_t id_;
  const uint16_t port_id_;
  std::unique_ptr<reactor::Stream> stream_;
  tcp::PduDecoder decoder_;
  tcp::EncodeOptions opts_;
  std::vector<uint8_t> scratch_;  // PDU headers on their way to the stream (reused, no malloc)
  ConnectionState state_ = ConnectionState::kAwaitIcReq;
  Controller* ctrl_ = nullptr;
  uint16_t qid_ = 0;
  uint16_t sqsize_ = 0;
  uint16_t sqhd_ = 0;
  bool sq_flow_control_disabled_ = false;
  std::map<uint16_t, std::shared_ptr<Request>> outstanding_;  // by CID
  std::map<uint16_t, std::shared_ptr<Request>> r2t_;          // by TTAG, awaiting H2CData
  uint16_t next_ttag_ = 1;
  std::deque<Held> held_;
  std::vector<std::shared_ptr<Request>> late_;
  uint64_t pending_delayed_ = 0;  // responses waiting on a delay timer
};

}  // namespace nvmpath::target
