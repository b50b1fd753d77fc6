// ClientImpl's run-time changes (client_impl.h): paths added, removed and reset, rescans, the
// policy and timeouts, each hopping to home where the multipath host lives.
#include <fmt/format.h>

#include "client/client_impl.h"
#include "client/connect_failure.h"
#include "client/resolve_endpoint.h"

namespace nvmpath::client {

void ClientImpl::MakeDevices() {
  for (uint32_t nsid : host_->nsids()) DeviceFor(nsid, host_->head(nsid));
}

Status ClientImpl::AddPath(const Endpoint& path) {
  auto address = ResolvePathAddress(path);
  if (!address.ok()) return address.status();
  Status out = Status(Code::kCancelled, options_.subnqn + ": the client is closed");
  WithHostAsync([&](mpath::MultipathHost* host, std::function<void()> finished) {
    if (host == nullptr) return finished();
    host->AddController(*address, [this, &out, &address, finished](Status st) {
      if (st.ok()) {
        MakeDevices();
        out = Status::Ok();
      } else if (st.code() == Code::kAlreadyExists || st.code() == Code::kInvalidArgument ||
                 st.code() == Code::kCancelled) {
        out = st;
      } else {
        ConnectFailure f = DescribeConnectFailure(st, options_.subnqn, identity_.hostnqn);
        out = Status(f.code, fmt::format("cannot connect to {} through {}: {}", options_.subnqn,
                                         address->ToString(), f.reason));
      }
      finished();
    });
  });
  return out;
}

Status ClientImpl::RemovePath(const Endpoint& path, std::chrono::milliseconds drain_timeout) {
  auto address = ResolvePathAddress(path);
  if (!address.ok()) return address.status();
  if (drain_timeout < std::chrono::milliseconds::zero()) {
    return InvalidArgument(
        fmt::format("drain timeout {}ms: must not be negative", drain_timeout.count()));
  }
  Status out = Status(Code::kCancelled, options_.subnqn + ": the client is closed");
  WithHostAsync([&](mpath::MultipathHost* host, std::function<void()> finished) {
    if (host == nullptr) return finished();
    host->RemoveController(*address, drain_timeout, [&out, finished](Status st) {
      out = std::move(st);
      finished();
    });
  });
  return out;
}

Status ClientImpl::ResetPath(const Endpoint& path) {
  auto address = ResolvePathAddress(path);
  if (!address.ok()) return address.status();
  Status out = Status(Code::kCancelled, options_.subnqn + ": the client is closed");
  WithHost([&](mpath::MultipathHost* host) {
    if (host == nullptr) return;
    out = host->ResetController(*address, Status(Code::kCancelled, "reset by the operator"));
  });
  return out;
}

void ClientImpl::Rescan() {
  WithHost([&](mpath::MultipathHost* host) {
    if (host != nullptr) host->Rescan();
  });
}

void ClientImpl::SetPolicy(PathPolicy policy) {
  WithHost([&](mpath::MultipathHost* host) {
    if (host != nullptr) host->SetPolicy(static_cast<mpath::Policy>(policy));
  });
}

Status ClientImpl::SetTimeouts(const TimeoutChange& change) {
  if (change.no_path_timeout && *change.no_path_timeout < std::chrono::milliseconds::zero()) {
    return InvalidArgument(fmt::format("no_path_timeout {}ms: must not be negative",
                                       change.no_path_timeout->count()));
  }
  WithHost([&](mpath::MultipathHost* host) {
    if (host == nullptr) return;
    if (change.no_path_timeout) host->SetNoPathTimeout(*change.no_path_timeout);
    if (change.fast_io_fail_tmo || change.ctrl_loss_tmo) {
      const host::ControllerOptions& c = host->options().controller;
      host->SetLossTimeouts(change.ctrl_loss_tmo.value_or(
                                std::chrono::duration_cast<std::chrono::milliseconds>(c.ctrl_loss_tmo)),
                            change.fast_io_fail_tmo.value_or(
                                std::chrono::duration_cast<std::chrono::milliseconds>(c.fast_io_fail_tmo)));
    }
  });
  return Status::Ok();
}

std::vector<Endpoint> ClientImpl::paths() const {
  std::vector<Endpoint> out;
  WithHost([&](mpath::MultipathHost* host) {
    if (host == nullptr) return;
    for (size_t i = 0; i < host->controller_count(); ++i) {
      out.push_back(ToEndpoint(host->path_address(i)));
    }
  });
  return out;
}

PathPolicy ClientImpl::policy() const {
  PathPolicy out = options_.policy;
  WithHost([&](mpath::MultipathHost* host) {
    if (host != nullptr) out = static_cast<PathPolicy>(host->options().head.policy);
  });
  return out;
}

mpath::MultipathHostCounters ClientImpl::host_counters() const {
  mpath::MultipathHostCounters out;
  WithHost([&](mpath::MultipathHost* host) {
    if (host != nullptr) out = host->counters();
  });
  return out;
}

}  // namespace nvmpath::client
