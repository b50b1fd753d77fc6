#include "sim/host_faults.h"

#include <fmt/format.h>

#include <optional>

namespace nvmpath::sim {

bool IsHostFault(const Fault& fault) { return std::holds_alternative<fault::HostPolicy>(fault); }

Status ApplyToHost(Fabric& fabric, reactor::Reactor& home, const Fault& fault) {
  const auto* f = std::get_if<fault::HostPolicy>(&fault);
  if (f == nullptr) {
    return Status(Code::kUnsupported, fmt::format("\"{}\" is not a host fault", Describe(fault)));
  }
  const std::vector<mpath::Head*> heads = fabric.heads();
  if (f->ns < 0 || static_cast<size_t>(f->ns) >= heads.size() || heads[f->ns] == nullptr) {
    return Status(Code::kNotFound, fmt::format("\"{}\": the host has {} heads", Describe(fault),
                                               heads.size()));
  }
  mpath::Head* head = heads[f->ns];
  std::optional<Status> done;
  home.Post([&] {
    head->SetPolicy(f->policy);
    done = Status::Ok();
  });
  if (!fabric.RunUntil([&] { return done.has_value(); }, std::chrono::seconds(1))) {
    return Status(Code::kTimedOut, fmt::format("\"{}\": the home reactor did not run it",
                                               Describe(fault)));
  }
  return *done;
}

}  // namespace nvmpath::sim
