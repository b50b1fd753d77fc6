// The rig of the head's unit tests: a Head over in-process paths (sim::MemPath) on
// reactor::Sim, Bios submitted from any of its reactors, and its statistics read directly.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mpath/head.h"
#include "reactor/sim.h"
#include "sim/mem_path.h"

namespace nvmpath::mpath {

using blk::AnaState;
using blk::Bio;
using sim::MemPath;
using sim::MemPathOptions;

class HeadTest : public ::testing::Test {
 protected:
  void SetUpRig(HeadOptions ho, int reactors = 1) {
    for (int i = 0; i < reactors; ++i) reactors_.push_back(world_.AddReactor());
    ns_ = std::make_unique<sim::MemNamespace>(1024, 512);
    head_ = std::make_unique<Head>(ho, reactors_, 0);
  }

  MemPath* AddPath(MemPathOptions po) {
    paths_.push_back(std::make_unique<MemPath>(po, ns_.get(), reactors_, 0));
    MemPath* p = paths_.back().get();
    OnHome([this, p] { ASSERT_TRUE(head_->AddPath(p).ok()); });
    return p;
  }

  void OnHome(std::function<void()> fn) {
    reactors_[0]->Post(std::move(fn));
    world_.RunFor(std::chrono::microseconds(1));
  }

  // Submits `n` Bios of one block each (none for a flush) from reactor `r`, LBAs 0..n-1.
  void Submit(int n, blk::Op op = blk::Op::kRead, unsigned r = 0) {
    for (int i = 0; i < n; ++i) {
      auto b = std::make_unique<Bio>();
      b->op = op;
      b->lba = static_cast<uint64_t>(bios_.size() % 1024);
      b->nblocks = blk::HasRange(op) ? 1 : 0;
      bufs_.emplace_back(512, 0xAB);
      b->data = bufs_.back();
      b->on_done = [this](Bio& bio) {
        ++done_;
        if (!bio.status.ok()) errors_.push_back(bio.status.ToString());
      };
      Bio* bp = b.get();
      bios_.push_back(std::move(b));
      reactors_[r]->Post([this, bp, r] { head_->Channel(r).Submit(bp); });
    }
  }

  bool RunUntilDone(Duration limit = std::chrono::seconds(5)) {
    return world_.RunUntil([this] { return done_ == bios_.size(); }, limit);
  }

  void TearDown() override {
    world_.RunUntilIdle(1'000'000);
    head_.reset();
    world_.RunUntilIdle(1'000'000);
  }

  HeadStats Stats() { return head_->TEST_Stats(); }
  uint64_t PathIos(const std::string& name) {
    for (auto& p : Stats().paths) {
      if (p.name == name) return p.counters.ios;
    }
    return 0;
  }

  reactor::SimWorld world_{7};
  std::vector<reactor::Reactor*> reactors_;
  std::unique_ptr<sim::MemNamespace> ns_;
  std::vector<std::unique_ptr<MemPath>> paths_;
  std::unique_ptr<Head> head_;
  std::vector<std::unique_ptr<Bio>> bios_;
  std::vector<std::vector<uint8_t>> bufs_;
  size_t done_ = 0;
  std::vector<std::string> errors_;
};

inline MemPathOptions Opts(std::string name, AnaState ana = AnaState::kOptimized) {
  MemPathOptions o;
  o.name = std::move(name);
  o.ana = ana;
  return o;
}

}  // namespace nvmpath::mpath
