// sim::ApplyToHost — the faults a model plays on the host rather than on the target or a link
// (fault::HostPolicy). Every fabric has heads controlled on a home reactor, so this one function
// plays them on all of them: the remap storm's MemFabric, the TCP fabric, the demo's and the e2e
// tests' ProcessFabric.
#pragma once

#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "sim/fabric.h"
#include "sim/fault.h"

namespace nvmpath::sim {

// Whether `fault` is played on the host (HostPolicy).
bool IsHostFault(const Fault& fault);

// Plays a host fault on `fabric`'s heads (fabric.heads()[ns]): posted to `home`, the heads' home
// reactor, with the model run until it has run there.
// Errors: kNotFound for a namespace index the fabric has no head for; kUnsupported for a fault
// that is not the host's; kTimedOut if the home reactor did not run it within a second.
Status ApplyToHost(Fabric& fabric, reactor::Reactor& home, const Fault& fault);

}  // namespace nvmpath::sim
