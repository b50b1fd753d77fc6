// The sim::TcpFabric the simulator's e2e fault tests (multipath_sim_test, stale_write_test) play
// their schedules on: the fabric's world (the real target, one namespace on a file behind two
// ports, port 1 optimized, no QoS) with the host these tests have always used — Linux's defaults
// but for a 200 ms reconnect delay, a 60 s controller-loss timeout, a 1 s I/O timeout and a 2 s
// keep-alive — instead of the storm's scaled-down timing.
#pragma once

#include <functional>

#include "sim/tcp_fabric.h"

namespace nvmpath::e2e {

// `adjust`: the test's own changes to the host, applied last. `cqt`: the target's Command
// Quiesce Time.
inline sim::TcpFabricOptions SimE2eFabric(uint64_t seed, int reactors, uint64_t ns_bytes,
                                          uint32_t block_size, Duration cqt,
                                          std::function<void(mpath::MultipathHostOptions&)> adjust) {
  using namespace std::chrono_literals;
  sim::TcpFabricOptions o{.seed = seed, .heads = 1, .ports = 2, .reactors = reactors};
  o.blocks = ns_bytes / block_size;
  o.block_size = block_size;
  o.qos = false;
  o.adjust_model = [cqt](sim::TargetModel& m) { m.cqt = cqt; };
  o.adjust_host = [adjust = std::move(adjust)](mpath::MultipathHostOptions& h) {
    const mpath::MultipathHostOptions linux_like;
    h.controller = linux_like.controller;  // no fence delay, Linux's connect and admin timeouts
    h.head = linux_like.head;
    h.start_timeout = linux_like.start_timeout;
    h.controller.reconnect_delay = 200ms;
    h.controller.ctrl_loss_tmo = 60s;
    h.controller.io_timeout = 1s;
    h.controller.kato = 2s;
    if (adjust) adjust(h);
  };
  return o;
}

}  // namespace nvmpath::e2e
