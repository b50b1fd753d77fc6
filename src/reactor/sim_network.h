// SimNetwork: the in-memory TCP network of a SimWorld, and its fault controls.
//
// Streams are pipes with TCP semantics: ordered, reliable until cut. Bytes sent during one event
// travel as one segment and arrive one link latency later (default kDefaultLatency), possibly
// handed to on_receive in several random-size chunks (so parsers see partial PDUs). Close() sends
// an orderly end: the peer gets on_close(OK) after the bytes sent before it.
//
// Controls are keyed by the LISTENING endpoint (address, port), because in nvmpath a listening
// port is a path; they apply to both directions of every stream accepted on that endpoint:
//   SetLatency   one-way delay for new bytes and connects (bytes never overtake earlier bytes)
//   Cut          breaks every established stream: both ends get on_close(kUnavailable
//                "connection reset: ..."), undelivered bytes are lost; the listener stays up
//   SetRefuse    new connects get kUnavailable "connection refused: a:p"
//   Stall        bytes (and connects) are held, not delivered, until un-stalled; the streams stay
//                up: a black-holed link
// Controls may be set before anything listens on the endpoint.
//
// Thread: the thread that drives the SimWorld.
// REQUIRES: every Stream and Listener is destroyed before its SimWorld.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/time.h"
#include "reactor/reactor.h"

namespace nvmpath::reactor {

class Sim;
class SimWorld;
struct SimConnection;
struct SimListenerState;

class SimNetwork {
 public:
  static constexpr Duration kDefaultLatency = std::chrono::microseconds(5);
  static constexpr uint16_t kFirstEphemeralPort = 40000;

  explicit SimNetwork(SimWorld* world);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // ---- Controls (see the file comment). ----
  void SetDefaultLatency(Duration latency) { default_latency_ = latency; }
  void SetLatency(const std::string& address, uint16_t port, Duration latency);
  // Returns the number of streams broken.
  size_t Cut(const std::string& address, uint16_t port);
  void SetRefuse(const std::string& address, uint16_t port, bool refuse);
  void Stall(const std::string& address, uint16_t port, bool stall);
  // Random splitting of received bytes into chunks (on by default).
  void SetChunking(bool on) { chunking_ = on; }

  // Gathered sends: segments put on the wire (one per stream per event that sent bytes).
  uint64_t sends_issued() const { return sends_issued_; }
  void CountSend() { ++sends_issued_; }

  // Established streams (both ends not yet closed) to an endpoint; all endpoints if port is 0.
  size_t open_streams(const std::string& address = "", uint16_t port = 0);

  // ---- Used by Sim. ----
  Result<std::unique_ptr<Listener>> Listen(Sim* reactor, const std::string& address,
                                           uint16_t port, Reactor::OnAccept on_accept);
  void Connect(Sim* reactor, const std::string& address, uint16_t port,
               Reactor::OnConnect on_connect);

  // ---- Used by the stream implementation (sim_network.cc). ----
  using Key = std::pair<std::string, uint16_t>;
  SimWorld& world() { return *world_; }
  Duration LatencyTo(const Key& key) const;
  bool Stalled(const Key& key) const;
  bool chunking() const { return chunking_; }
  void Unlisten(const Key& key);

 private:
  struct Control {
    bool has_latency = false;
    Duration latency{0};
    bool refuse = false;
    bool stall = false;
    // Connects that reached a stalled endpoint; replayed when it is un-stalled.
    std::vector<std::pair<Sim*, Reactor::OnConnect>> held_connects;
  };
  void ConnectArrive(Sim* reactor, const Key& key, Reactor::OnConnect on_connect);
  template <typename Fn>
  void ForEachConnection(const Key& key, Fn fn);

  SimWorld* const world_;
  Duration default_latency_ = kDefaultLatency;
  bool chunking_ = true;
  uint16_t next_listen_port_ = kFirstEphemeralPort;
  uint16_t next_client_port_ = 50000;
  uint64_t next_connection_id_ = 1;
  uint64_t sends_issued_ = 0;
  std::map<Key, Control> controls_;
  std::map<Key, std::shared_ptr<SimListenerState>> listeners_;
  std::map<uint64_t, std::weak_ptr<SimConnection>> connections_;  // by id: replayable order
};

}  // namespace nvmpath::reactor
