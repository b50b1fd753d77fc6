// target::LateWrites — the late-write fault's second half: a write parked by its connection runs
// against the media `delay` after that connection closed, if its namespace still exists. This is
// a controller executing a stale write, which host-side fencing (CQT) must defend against.
//
// Thread: reactors[0]. Timers outliving the LateWrites do nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "reactor/reactor.h"
#include "target/namespace_model.h"

namespace nvmpath::target {

class LateWrites {
 public:
  LateWrites(reactor::Reactor* r, NamespaceModel* model) : reactor_(r), model_(model) {}

  // The write of `data` at byte `offset` of (subnqn, nsid) runs `delay` from now.
  void Schedule(std::string subnqn, uint32_t nsid, uint64_t offset, std::vector<uint8_t> data,
                Duration delay);
  // Late writes that reached the media.
  uint64_t executed() const { return executed_; }

 private:
  void Execute(const std::string& subnqn, uint32_t nsid, uint64_t offset,
               std::shared_ptr<std::vector<uint8_t>> data);

  reactor::Reactor* const reactor_;
  NamespaceModel* const model_;
  uint64_t executed_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // timers hold a weak_ptr to it
};

}  // namespace nvmpath::target
