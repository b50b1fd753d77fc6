#include "client/discovery.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <optional>
#include <set>

#include "client/connect_failure.h"
#include "client/resolve_endpoint.h"
#include "host/controller.h"
#include "reactor/uring.h"

namespace nvmpath::client {
namespace {

const char* SubtypeName(uint8_t subtype) {
  switch (subtype) {
    case nvme::kSubtypeReferral:
      return "discovery";
    case nvme::kSubtypeNvm:
      return "nvm";
    case nvme::kSubtypeCurrentDiscovery:
      return "current discovery";
  }
  return "unknown";
}

const char* TransportName(uint8_t trtype) {
  switch (trtype) {
    case 1:
      return "rdma";
    case 2:
      return "fc";
    case nvme::kTrtypeTcp:
      return "tcp";
    case 254:
      return "loop";
  }
  return "unknown";
}

// Turns the loop until `done` holds. Each turn sleeps until a completion, a timer or a post
// wakes the ring: `done` is looked at only when something happened.
void RunUntil(reactor::Uring& r, const std::function<bool()>& done) {
  while (!done()) r.RunOnce(std::chrono::seconds(1));
}

std::string Join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

}  // namespace

Result<host::ControllerOptions> DiscoveryControllerOptions(const Endpoint& discovery,
                                                          const ClientOptions& options,
                                                          const HostIdentity& identity) {
  auto address = ResolvePathAddress(discovery);
  if (!address.ok()) return address.status().WithContext("discovery");
  host::ControllerOptions c;
  c.name = "discovery " + discovery.ToString();
  c.address = address->address;
  c.port = address->port;
  c.subnqn = kDiscoveryNqn;
  c.hostnqn = identity.hostnqn;
  c.hostid = identity.hostid;
  c.kato = options.keep_alive_tmo;
  c.io_timeout = options.io_timeout;
  c.admin_timeout = options.io_timeout;
  c.connect_timeout = options.connect_timeout;
  c.hdgst = options.hdr_digest;
  c.ddgst = options.data_digest;
  c.reconnect_delay = options.reconnect_delay;
  return c;
}

Result<nvme::DiscoveryLog> ReadDiscoveryLog(const Endpoint& discovery, const ClientOptions& options,
                                            const HostIdentity& identity) {
  const std::string where = "discovery " + discovery.ToString();
  auto ring = reactor::Uring::Create(0);
  if (!ring.ok()) return ring.status().WithContext(where);
  reactor::Uring* r = ring->get();

  auto c = DiscoveryControllerOptions(discovery, options, identity);
  if (!c.ok()) return c.status();
  c->retry_initial_connect = false;

  std::unique_ptr<host::Controller> ctrl;
  std::optional<Result<nvme::DiscoveryLog>> result;
  bool deleted = false;
  auto finish = [&](Result<nvme::DiscoveryLog> res) {
    result = std::move(res);
    ctrl->Delete([&] { deleted = true; });
  };
  r->Post([&] {
    ctrl = std::make_unique<host::Controller>(*c, std::vector<reactor::Reactor*>{r}, 0);
    ctrl->Start([&](Status st) {
      if (!st.ok()) {
        ConnectFailure f = DescribeConnectFailure(st, kDiscoveryNqn, identity.hostnqn);
        return finish(Status(f.code, fmt::format("{}: {}", where, f.reason)));
      }
      ctrl->GetDiscoveryLog([&](Result<nvme::DiscoveryLog> log) {
        if (!log.ok()) return finish(log.status().WithContext(where + ": reading the log"));
        finish(std::move(log));
      });
    });
  });
  // The association is bounded by connect_timeout per queue, the log by the admin timeout;
  // this deadline only guards against a bug leaving the loop waiting forever.
  const Duration limit = options.connect_timeout + 2 * options.io_timeout;
  bool expired = false;
  const reactor::TimerId guard = r->AddTimer(limit, [&] { expired = true; });
  RunUntil(*r, [&] { return deleted || expired; });
  if (!deleted) {
    if (!result) {
      result = Status(Code::kTimedOut,
                      fmt::format("{}: no log within {:.3g}s", where, ToSeconds(limit)));
    }
    r->Post([&] { ctrl->Delete([&] { deleted = true; }); });
    RunUntil(*r, [&] { return deleted; });
  }
  r->CancelTimer(guard);
  // Destroyed on its reactor's loop; then the teardown it posted (queue pairs, then their
  // streams: two hops) runs before the ring goes.
  bool destroyed = false;
  r->Post([&] {
    ctrl.reset();
    destroyed = true;
  });
  RunUntil(*r, [&] { return destroyed; });
  for (int hop = 0; hop < 2; ++hop) {
    bool flushed = false;
    r->Post([&] { flushed = true; });
    RunUntil(*r, [&] { return flushed; });
  }
  return std::move(*result);
}

DiscoveryEntry ToDiscoveryEntry(const nvme::DiscoveryLogEntry& e) {
  DiscoveryEntry out;
  out.subnqn = e.subnqn;
  out.subtype = SubtypeName(e.subtype);
  out.transport = TransportName(e.trtype);
  out.endpoint.address = e.traddr;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(e.trsvcid.data(), e.trsvcid.data() + e.trsvcid.size(), port);
  out.endpoint.port =
      (ec == std::errc() && end == e.trsvcid.data() + e.trsvcid.size() && port > 0 && port <= 65535)
          ? static_cast<uint16_t>(port)
          : 0;
  out.port_id = e.portid;
  out.cntlid = e.cntlid;
  return out;
}

Result<DiscoveredPaths> PathsFromDiscovery(const std::vector<DiscoveryEntry>& entries,
                                           const std::string& subnqn, const Endpoint& discovery) {
  std::set<std::string> nvm_subsystems;
  for (const auto& e : entries) {
    if (e.subtype == "nvm") nvm_subsystems.insert(e.subnqn);
  }
  DiscoveredPaths out;
  out.subnqn = subnqn;
  if (out.subnqn.empty()) {
    if (nvm_subsystems.size() != 1) {
      return InvalidArgument(
          fmt::format("discovery {} lists {} NVM subsystems ({}): name the one to connect (subnqn)",
                      discovery.ToString(), nvm_subsystems.size(), Join(nvm_subsystems)));
    }
    out.subnqn = *nvm_subsystems.begin();
  }
  for (const auto& e : entries) {
    if (e.subtype != "nvm" || e.subnqn != out.subnqn || e.transport != "tcp" ||
        e.endpoint.port == 0) {
      continue;
    }
    if (!Endpoint::Parse(e.endpoint.address).ok()) continue;  // not an IP address or name
    bool dup = false;
    for (const auto& p : out.paths) dup |= p == e.endpoint;
    if (!dup) out.paths.push_back(e.endpoint);
  }
  if (out.paths.empty()) {
    return NotFound(
        fmt::format("discovery {} lists no TCP path to {} (NVM subsystems listed: {})",
                    discovery.ToString(), out.subnqn, Join(nvm_subsystems)));
  }
  return out;
}

}  // namespace nvmpath::client
