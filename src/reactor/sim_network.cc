#include "reactor/sim_network.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "base/assert.h"
#include "reactor/sim.h"

namespace nvmpath::reactor {

namespace {
std::string EndpointName(const SimNetwork::Key& key) {
  return fmt::format("{}:{}", key.first, key.second);
}
}  // namespace

struct SimListenerState {
  Sim* reactor;
  Reactor::OnAccept on_accept;
};

// One connection: two ends, each with the bytes in flight towards it.
// Kept alive by its two SimStreams and by the events that deliver to it.
struct SimConnection {
  enum class State : uint8_t { kOpen, kPeerClosed, kBroken, kClosedByUser };

  struct Segment {
    TimePoint arrival;
    std::vector<uint8_t> bytes;
    size_t offset = 0;
    bool fin = false;         // the orderly end of the stream; no bytes
    uint64_t serial = 0;      // SimWorld::event_serial() when created: same event coalesces
  };

  struct End {
    Sim* reactor = nullptr;
    SimWorld::LaneId lane = 0;  // events delivering to this end keep their order
    std::string description;
    Stream::OnReceive on_receive;
    Stream::OnClose on_close;
    bool handlers_set = false;
    State state = State::kOpen;
    int in_callback = 0;        // handlers are released only outside their own calls
    bool release_handlers = false;
    std::optional<Status> unreported_close;  // the end learnt of a close before handlers were set
    std::deque<Segment> inbound;
    TimePoint last_arrival{0};
  };

  SimNetwork* net = nullptr;
  uint64_t id = 0;
  SimNetwork::Key server;
  bool reset = false;
  End ends[2];  // 0: the connecting side, 1: the accepted side

  SimWorld& world() { return net->world(); }

  void Send(std::shared_ptr<SimConnection> self, int from, std::span<const uint8_t> bytes) {
    if (ends[from].state != State::kOpen || reset || bytes.empty()) return;
    End& to = ends[1 - from];
    const uint64_t serial = world().event_serial();
    if (!to.inbound.empty()) {
      Segment& back = to.inbound.back();
      if (back.serial == serial && !back.fin && back.offset == 0) {
        back.bytes.insert(back.bytes.end(), bytes.begin(), bytes.end());
        return;
      }
    }
    net->CountSend();
    Enqueue(std::move(self), 1 - from,
            Segment{Arrival(to), std::vector<uint8_t>(bytes.begin(), bytes.end()), 0, false,
                    serial});
  }

  TimePoint Arrival(End& to) {
    // Bytes never overtake earlier bytes, even when the latency drops.
    to.last_arrival = std::max(world().now() + net->LatencyTo(server), to.last_arrival);
    return to.last_arrival;
  }

  void Enqueue(std::shared_ptr<SimConnection> self, int to, Segment seg) {
    const TimePoint at = seg.arrival;
    ends[to].inbound.push_back(std::move(seg));
    ScheduleDeliver(std::move(self), to, at);
  }

  void ScheduleDeliver(std::shared_ptr<SimConnection> self, int to, TimePoint at) {
    End& e = ends[to];
    world().Schedule(e.reactor, std::max(at, world().now()), e.lane,
                     [self = std::move(self), to] { self->Deliver(self, to); });
  }

  // Re-arms delivery after a stall or before handlers were set. Extra deliver events are
  // harmless: each delivers only what is due.
  void Kick(std::shared_ptr<SimConnection> self, int to) {
    End& e = ends[to];
    if (e.unreported_close && e.handlers_set) {
      world().Schedule(e.reactor, world().now(), e.lane,
                       [self, to] { self->ReportClose(to); });
    }
    if (!e.inbound.empty()) ScheduleDeliver(std::move(self), to, e.inbound.front().arrival);
  }

  // One deliver event: hands at most one chunk of the head segment to `to`.
  void Deliver(const std::shared_ptr<SimConnection>& self, int to) {
    End& e = ends[to];
    if (reset || e.state != State::kOpen) {
      e.inbound.clear();  // lost, or nobody left to read them
      return;
    }
    if (!e.handlers_set || net->Stalled(server)) return;  // held; Kick re-arms
    if (e.inbound.empty() || e.inbound.front().arrival > world().now()) return;
    Segment& head = e.inbound.front();
    if (head.fin) {
      e.inbound.pop_front();
      e.state = State::kPeerClosed;
      CallClose(to, Status::Ok());
      return;
    }
    size_t n = head.bytes.size() - head.offset;
    NVMP_ASSERT(n > 0);
    if (net->chunking() && n > 1 && world().random().OneIn(3)) {
      n = 1 + world().random().Below(n - 1);
    }
    // The segment may be cleared by a Close inside the callback: deliver from a moved-out copy
    // when the segment is done, so the span stays valid during the call.
    std::vector<uint8_t> whole;
    std::span<const uint8_t> chunk;
    if (head.offset + n == head.bytes.size()) {
      whole = std::move(head.bytes);
      chunk = std::span<const uint8_t>(whole).subspan(head.offset, n);
      e.inbound.pop_front();
    } else {
      const size_t off = head.offset;
      head.offset += n;
      whole.assign(head.bytes.begin() + off, head.bytes.begin() + off + n);
      chunk = whole;
    }
    if (!e.inbound.empty() && e.inbound.front().arrival <= world().now()) {
      ScheduleDeliver(self, to, world().now());
    }
    Call(to, [&] { e.on_receive(chunk); });
  }

  void ReportClose(int to) {
    End& e = ends[to];
    if (!e.unreported_close || e.state == State::kClosedByUser || !e.handlers_set) return;
    Status why = std::move(*e.unreported_close);
    e.unreported_close.reset();
    CallClose(to, why);
  }

  // on_close is the last callback of an end.
  void CallClose(int to, const Status& why) {
    End& e = ends[to];
    Call(to, [&] { e.on_close(why); });
    e.handlers_set = false;
    ReleaseHandlers(to);
  }

  template <typename Fn>
  void Call(int to, Fn fn) {
    End& e = ends[to];
    NVMP_ASSERT(e.handlers_set, "a closed stream delivers nothing more");
    ++e.in_callback;
    fn();
    --e.in_callback;
    if (e.release_handlers && e.in_callback == 0) ReleaseHandlers(to);
  }

  void ReleaseHandlers(int end) {
    End& e = ends[end];
    if (e.in_callback > 0) {
      e.release_handlers = true;
      return;
    }
    e.release_handlers = false;
    e.on_receive = nullptr;
    e.on_close = nullptr;
  }

  // The connection breaks (Cut): both open ends learn it by an error, bytes in flight are lost.
  void Reset(std::shared_ptr<SimConnection> self) {
    if (reset) return;
    reset = true;
    for (int i = 0; i < 2; ++i) {
      End& e = ends[i];
      e.inbound.clear();
      if (e.state != State::kOpen) continue;
      e.state = State::kBroken;
      e.unreported_close = Unavailable("connection reset: " + e.description);
      if (e.handlers_set) {
        world().Schedule(e.reactor, world().now(), e.lane, [self, i] { self->ReportClose(i); });
      }
    }
  }

  void Close(std::shared_ptr<SimConnection> self, int end) {
    End& e = ends[end];
    if (e.state == State::kClosedByUser) return;
    const bool was_open = e.state == State::kOpen;
    e.state = State::kClosedByUser;
    e.unreported_close.reset();
    e.handlers_set = false;
    ReleaseHandlers(end);
    if (was_open && !reset) {
      End& to = ends[1 - end];
      Enqueue(std::move(self), 1 - end,
              Segment{Arrival(to), {}, 0, true, world().event_serial()});
    }
  }

  bool Established() const {
    return !reset && ends[0].state == State::kOpen && ends[1].state == State::kOpen;
  }
};

namespace {

class SimStream final : public Stream {
 public:
  SimStream(std::shared_ptr<SimConnection> conn, int end) : conn_(std::move(conn)), end_(end) {}
  ~SimStream() override { Close(); }

  void SetHandlers(OnReceive on_receive, OnClose on_close) override {
    auto& e = conn_->ends[end_];
    if (e.state == SimConnection::State::kClosedByUser) return;
    NVMP_ASSERT(on_receive != nullptr && on_close != nullptr);
    e.on_receive = std::move(on_receive);
    e.on_close = std::move(on_close);
    e.release_handlers = false;
    e.handlers_set = true;
    conn_->Kick(conn_, end_);
  }
  void Send(std::span<const uint8_t> bytes) override { conn_->Send(conn_, end_, bytes); }
  using Stream::Send;
  void Close() override { conn_->Close(conn_, end_); }
  bool is_open() const override {
    return conn_->ends[end_].state == SimConnection::State::kOpen && !conn_->reset;
  }
  std::string description() const override { return conn_->ends[end_].description; }

 private:
  std::shared_ptr<SimConnection> conn_;
  const int end_;
};

class SimListener final : public Listener {
 public:
  SimListener(SimNetwork* net, SimNetwork::Key key) : net_(net), key_(std::move(key)) {}
  ~SimListener() override { net_->Unlisten(key_); }
  uint16_t port() const override { return key_.second; }

 private:
  SimNetwork* const net_;
  const SimNetwork::Key key_;
};

}  // namespace

SimNetwork::SimNetwork(SimWorld* world) : world_(world) {}
SimNetwork::~SimNetwork() = default;

Duration SimNetwork::LatencyTo(const Key& key) const {
  auto it = controls_.find(key);
  return it != controls_.end() && it->second.has_latency ? it->second.latency : default_latency_;
}

bool SimNetwork::Stalled(const Key& key) const {
  auto it = controls_.find(key);
  return it != controls_.end() && it->second.stall;
}

void SimNetwork::SetLatency(const std::string& address, uint16_t port, Duration latency) {
  NVMP_ASSERT(latency >= Duration::zero());
  Control& c = controls_[Key{address, port}];
  c.has_latency = true;
  c.latency = latency;
}

void SimNetwork::SetRefuse(const std::string& address, uint16_t port, bool refuse) {
  controls_[Key{address, port}].refuse = refuse;
}

template <typename Fn>
void SimNetwork::ForEachConnection(const Key& key, Fn fn) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    std::shared_ptr<SimConnection> conn = it->second.lock();
    if (!conn) {
      it = connections_.erase(it);
      continue;
    }
    ++it;
    if (key.second == 0 || conn->server == key) fn(conn);
  }
}

size_t SimNetwork::Cut(const std::string& address, uint16_t port) {
  size_t n = 0;
  ForEachConnection(Key{address, port}, [&](const std::shared_ptr<SimConnection>& conn) {
    if (conn->reset) return;
    conn->Reset(conn);
    ++n;
  });
  return n;
}

void SimNetwork::Stall(const std::string& address, uint16_t port, bool stall) {
  const Key key{address, port};
  Control& c = controls_[key];
  const bool was = c.stall;
  c.stall = stall;
  if (!was || stall) return;
  ForEachConnection(key, [&](const std::shared_ptr<SimConnection>& conn) {
    for (int i = 0; i < 2; ++i) conn->Kick(conn, i);
  });
  auto held = std::move(c.held_connects);
  c.held_connects.clear();
  for (auto& [reactor, on_connect] : held) {
    world_->Schedule(reactor, world_->now(), world_->NewLane(),
                     [this, reactor = reactor, key, cb = std::move(on_connect)]() mutable {
                       ConnectArrive(reactor, key, std::move(cb));
                     });
  }
}

size_t SimNetwork::open_streams(const std::string& address, uint16_t port) {
  size_t n = 0;
  ForEachConnection(Key{address, port}, [&](const std::shared_ptr<SimConnection>& conn) {
    if (conn->Established()) ++n;
  });
  return n;
}

Result<std::unique_ptr<Listener>> SimNetwork::Listen(Sim* reactor, const std::string& address,
                                                     uint16_t port, Reactor::OnAccept on_accept) {
  NVMP_ASSERT(on_accept != nullptr);
  if (port == 0) {
    for (int tries = 0; tries < 65536; ++tries) {
      uint16_t candidate = next_listen_port_++;
      if (next_listen_port_ == 0) next_listen_port_ = kFirstEphemeralPort;
      if (candidate >= kFirstEphemeralPort && !listeners_.count(Key{address, candidate})) {
        port = candidate;
        break;
      }
    }
    if (port == 0) return Unavailable("listen " + address + ": no free port");
  }
  Key key{address, port};
  if (listeners_.count(key)) {
    return Status(Code::kAlreadyExists, "listen " + EndpointName(key) + ": address in use");
  }
  listeners_[key] =
      std::make_shared<SimListenerState>(SimListenerState{reactor, std::move(on_accept)});
  return std::unique_ptr<Listener>(std::make_unique<SimListener>(this, key));
}

void SimNetwork::Unlisten(const Key& key) { listeners_.erase(key); }

void SimNetwork::Connect(Sim* reactor, const std::string& address, uint16_t port,
                         Reactor::OnConnect on_connect) {
  NVMP_ASSERT(on_connect != nullptr);
  Key key{address, port};
  const TimePoint at = world_->now() + LatencyTo(key);
  world_->Schedule(reactor, at, world_->NewLane(),
                   [this, reactor, key, cb = std::move(on_connect)]() mutable {
                     ConnectArrive(reactor, key, std::move(cb));
                   });
}

// Runs on the connecting reactor one latency after Connect: the SYN reached the endpoint.
void SimNetwork::ConnectArrive(Sim* reactor, const Key& key, Reactor::OnConnect on_connect) {
  auto ctl = controls_.find(key);
  if (ctl != controls_.end() && ctl->second.stall) {
    ctl->second.held_connects.emplace_back(reactor, std::move(on_connect));
    return;
  }
  auto lis = listeners_.find(key);
  if (lis == listeners_.end() || (ctl != controls_.end() && ctl->second.refuse)) {
    on_connect(Unavailable("connection refused: " + EndpointName(key)));
    return;
  }
  std::shared_ptr<SimListenerState> listener = lis->second;
  auto conn = std::make_shared<SimConnection>();
  conn->net = this;
  conn->id = next_connection_id_++;
  conn->server = key;
  const std::string client = fmt::format("sim{}:{}", reactor->index(), next_client_port_++);
  if (next_client_port_ == 0) next_client_port_ = 50000;
  conn->ends[0].reactor = reactor;
  conn->ends[0].lane = world_->NewLane();
  conn->ends[0].description = client + " -> " + EndpointName(key);
  conn->ends[1].reactor = listener->reactor;
  conn->ends[1].lane = world_->NewLane();
  conn->ends[1].description = EndpointName(key) + " <- " + client;
  connections_[conn->id] = conn;

  // Tasks are std::function (copyable), so the accepted stream rides in a shared holder.
  auto server_stream =
      std::make_shared<std::unique_ptr<Stream>>(std::make_unique<SimStream>(conn, 1));
  std::weak_ptr<SimListenerState> weak_listener = listener;
  world_->Schedule(listener->reactor, world_->now(), world_->NewLane(),
                   [weak_listener, server_stream] {
                     // A listener closed meanwhile: the stream is dropped, the client sees an
                     // orderly close.
                     if (auto l = weak_listener.lock()) l->on_accept(std::move(*server_stream));
                   });
  on_connect(std::unique_ptr<Stream>(std::make_unique<SimStream>(conn, 0)));
}

}  // namespace nvmpath::reactor
