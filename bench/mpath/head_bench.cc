// Head submit → complete over in-process paths on one io_uring reactor: what the multipath core
// itself costs per I/O (path selection, dispatch, attempt bookkeeping, completion), for 1 and 2
// paths under each policy, at queue depth 1 and 32. The paths execute in memory with no latency
// (their execution is one posted task), so the figure is the core plus one reactor hop.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "sim/mem_path.h"
#include "mpath/head.h"
#include "reactor/uring.h"

namespace nvmpath {
namespace {

struct Rig {
  std::unique_ptr<reactor::Uring> uring;
  std::unique_ptr<sim::MemNamespace> ns;
  std::vector<std::unique_ptr<sim::MemPath>> paths;
  std::unique_ptr<mpath::Head> head;
  std::vector<blk::Bio> bios;
  std::vector<std::vector<uint8_t>> bufs;
  uint64_t done = 0;

  Rig(int npaths, mpath::Policy policy, int depth) {
    uring = std::move(reactor::Uring::Create(0).value());
    ns = std::make_unique<sim::MemNamespace>(1 << 16, 512);
    std::vector<reactor::Reactor*> rs{uring.get()};
    head = std::make_unique<mpath::Head>(mpath::HeadOptions{.name = "bench", .policy = policy}, rs, 0);
    for (int i = 0; i < npaths; ++i) {
      sim::MemPathOptions po;
      po.name = "p" + std::to_string(i);
      po.latency = Duration(0);
      paths.push_back(std::make_unique<sim::MemPath>(po, ns.get(), rs, 0));
    }
    uring->Post([this] {
      for (auto& p : paths) (void)head->AddPath(p.get());
    });
    Turn(100);
    bios.resize(depth);
    bufs.resize(depth, std::vector<uint8_t>(4096));
    for (int i = 0; i < depth; ++i) {
      blk::Bio& b = bios[i];
      b.op = blk::Op::kRead;
      b.lba = static_cast<uint64_t>(i) * 8;
      b.nblocks = 8;
      b.data = bufs[i];
      b.on_done = [this](blk::Bio&) { ++done; };
    }
  }
  ~Rig() {
    uring->Post([this] {
      for (auto& p : paths) head->RemovePath(p.get(), [] {});
    });
    Turn(1000);
    head.reset();
    paths.clear();
  }
  void Turn(int n) {
    for (int i = 0; i < n; ++i) uring->RunOnce(std::chrono::microseconds(0));
  }
  // Submits every Bio from inside the loop and turns it until all have completed.
  void Round() {
    uint64_t target = done + bios.size();
    uring->Post([this] {
      for (auto& b : bios) head->Channel(0).Submit(&b);
    });
    while (done < target) uring->RunOnce(std::chrono::milliseconds(1));
  }
};

void BM_HeadSubmitComplete(benchmark::State& state) {
  int npaths = static_cast<int>(state.range(0));
  auto policy = static_cast<mpath::Policy>(state.range(1));
  int depth = static_cast<int>(state.range(2));
  Rig rig(npaths, policy, depth);
  for (auto _ : state) rig.Round();
  state.SetItemsProcessed(state.iterations() * depth);
  state.SetLabel(std::string(mpath::PolicyName(policy)) + ", " + std::to_string(npaths) +
                 (npaths == 1 ? " path" : " paths") + ", QD" + std::to_string(depth));
}

void Args(benchmark::internal::Benchmark* b) {
  for (int depth : {1, 32}) {
    for (int policy = 0; policy < 3; ++policy) {
      for (int npaths : {1, 2}) b->Args({npaths, policy, depth});
    }
  }
}
BENCHMARK(BM_HeadSubmitComplete)->Apply(Args)->ArgNames({"paths", "policy", "qd"});

}  // namespace
}  // namespace nvmpath

BENCHMARK_MAIN();
