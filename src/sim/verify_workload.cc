#include "sim/verify_workload.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/assert.h"
#include "sim/verify_block.h"

namespace nvmpath::sim {

struct VerifyWorkload::Slot {
  blk::Bio bio;
  std::vector<uint8_t> buf;
  uint64_t id = 0;
  uint64_t generation = 0;  // writes
  bool busy = false;
};

namespace {
// The head's channel on `reactor` (set-up time: the data path keeps the channel).
mpath::HeadChannel& ChannelOn(mpath::Head& head, reactor::Reactor& reactor) {
  for (unsigned i = 0; i < head.channel_count(); ++i) {
    if (head.Channel(i).reactor() == &reactor) return head.Channel(i);
  }
  NVMP_UNREACHABLE("verify workload on a reactor the head does not run on");
}
}  // namespace

VerifyWorkload::VerifyWorkload(mpath::Head& head, reactor::Reactor& reactor,
                               VerifyWorkloadOptions options, InvariantChecker* checker,
                               uint64_t* next_bio_id)
    : head_(head),
      channel_(ChannelOn(head, reactor)),
      reactor_(reactor),
      options_(options),
      checker_(checker),
      next_bio_id_(next_bio_id ? next_bio_id : &own_ids_),
      rng_(options.seed),
      model_(options.blocks) {
  if (checker_) {
    head_.TEST_SetFailureProbe([checker = checker_, name = head_.name()](const blk::Bio& bio,
                                                                          bool usable) {
      checker->OnFailure(bio.user_tag, bio.status, usable, name);
    });
  }
  NVMP_ASSERT(options_.blocks >= options_.max_blocks_per_io && options_.queue_depth > 0);
  for (uint32_t i = 0; i < options_.queue_depth; ++i) {
    auto s = std::make_unique<Slot>();
    s->buf.resize(size_t{options_.max_blocks_per_io} * options_.block_size);
    Slot* sp = s.get();
    s->bio.on_done = [this, sp](blk::Bio&) { OnDone(*sp); };
    slots_.push_back(std::move(s));
  }
}

VerifyWorkload::~VerifyWorkload() { NVMP_ASSERT(in_flight_ == 0, "workload destroyed with I/O in flight"); }

void VerifyWorkload::Start() {
  running_ = true;
  for (auto& s : slots_) {
    if (!s->busy) Issue(*s);
  }
}

void VerifyWorkload::Stop(std::function<void()> drained) {
  running_ = false;
  on_idle_ = std::move(drained);
  MaybeFinish();
}

void VerifyWorkload::MaybeFinish() {
  if (in_flight_ == 0 && backing_off_ == 0 && on_idle_) {
    auto fn = std::move(on_idle_);
    on_idle_ = nullptr;
    // Not from inside a completion: the caller may destroy things.
    reactor_.Post(std::move(fn));
  }
}

void VerifyWorkload::Issue(Slot& slot) {
  // Pick a range of idle blocks; give up for this turn if a few tries all hit busy blocks.
  uint32_t n = static_cast<uint32_t>(rng_.Between(1, options_.max_blocks_per_io));
  uint64_t lba = 0;
  bool found = false;
  for (int attempt = 0; attempt < 8 && !found; ++attempt) {
    lba = rng_.Below(options_.blocks - n + 1);
    found = std::none_of(model_.begin() + lba, model_.begin() + lba + n,
                         [](const BlockModel& b) { return b.busy; });
  }
  if (!found) return;
  for (uint64_t i = 0; i < n; ++i) model_[lba + i].busy = true;

  blk::Bio& bio = slot.bio;
  bio.lba = options_.first_lba + lba;
  bio.nblocks = n;
  bio.data = std::span<uint8_t>(slot.buf.data(), size_t{n} * options_.block_size);
  if (rng_.Chance(options_.write_fraction)) {
    if (rng_.Chance(options_.write_zeroes_fraction)) {
      bio.op = blk::Op::kWriteZeroes;
      slot.generation = 0;
    } else {
      bio.op = blk::Op::kWrite;
      slot.generation = next_generation_++;
      for (uint32_t i = 0; i < n; ++i) {
        FillVerifyBlock(bio.data.subspan(size_t{i} * options_.block_size, options_.block_size),
                        options_.head_id, bio.lba + i, slot.generation);
      }
    }
    ++stats_.writes;
  } else {
    bio.op = blk::Op::kRead;
    ++stats_.reads;
  }
  slot.busy = true;
  slot.id = (*next_bio_id_)++;
  bio.user_tag = slot.id;
  ++in_flight_;
  ++stats_.ios;
  if (checker_) checker_->OnSubmit(slot.id);
  channel_.Submit(&bio);
}

bool VerifyWorkload::IssueVerifyRead(Slot& slot) {
  if (verify_cursor_ >= options_.blocks) return false;
  uint32_t n = static_cast<uint32_t>(
      std::min<uint64_t>(options_.max_blocks_per_io, options_.blocks - verify_cursor_));
  for (uint64_t i = 0; i < n; ++i) model_[verify_cursor_ + i].busy = true;
  blk::Bio& bio = slot.bio;
  bio.op = blk::Op::kRead;
  bio.lba = options_.first_lba + verify_cursor_;
  bio.nblocks = n;
  bio.data = std::span<uint8_t>(slot.buf.data(), size_t{n} * options_.block_size);
  verify_cursor_ += n;
  slot.busy = true;
  slot.id = (*next_bio_id_)++;
  ++in_flight_;
  ++stats_.ios;
  ++stats_.reads;
  if (checker_) checker_->OnSubmit(slot.id);
  channel_.Submit(&bio);
  return true;
}

void VerifyWorkload::OnDone(Slot& slot) {
  blk::Bio& bio = slot.bio;
  if (checker_) checker_->OnComplete(slot.id, bio.status);
  uint64_t first = bio.lba - options_.first_lba;
  if (!bio.status.ok()) {
    ++stats_.errors;
    if (bio.op != blk::Op::kRead) {
      for (uint32_t i = 0; i < bio.nblocks; ++i) model_[first + i].possible.push_back(slot.generation);
    }
  } else if (bio.op == blk::Op::kRead) {
    CheckRead(slot);
  } else {
    for (uint32_t i = 0; i < bio.nblocks; ++i) {
      model_[first + i].acked = slot.generation;
      model_[first + i].possible.clear();
    }
  }
  for (uint32_t i = 0; i < bio.nblocks; ++i) model_[first + i].busy = false;
  slot.busy = false;
  --in_flight_;
  if (verifying_) {
    if (!IssueVerifyRead(slot)) MaybeFinish();
  } else if (running_ && !bio.status.ok()) {
    ++backing_off_;
    reactor_.AddTimer(options_.error_backoff, [this, &slot] {
      --backing_off_;
      if (running_) {
        Issue(slot);
      } else {
        MaybeFinish();
      }
    });
  } else if (running_) {
    Issue(slot);
  } else {
    MaybeFinish();
  }
}

void VerifyWorkload::CheckRead(Slot& slot) {
  blk::Bio& bio = slot.bio;
  uint64_t first = bio.lba - options_.first_lba;
  for (uint32_t i = 0; i < bio.nblocks; ++i) {
    BlockModel& m = model_[first + i];
    uint64_t lba = bio.lba + i;
    auto gen = ReadVerifyBlock(
        bio.data.subspan(size_t{i} * options_.block_size, options_.block_size), options_.head_id, lba);
    ++stats_.blocks_verified;
    std::string error;
    if (!gen.ok()) {
      error = gen.status().message();
    } else if (*gen != m.acked &&
               std::find(m.possible.begin(), m.possible.end(), *gen) == m.possible.end()) {
      error = fmt::format("LBA {}: read generation {}, expected {}{}", lba, *gen, m.acked,
                          *gen < m.acked ? " (stale or lost write)" : " (write never acknowledged)");
    }
    if (!error.empty()) {
      ++stats_.mismatches;
      if (checker_) checker_->OnDataError(fmt::format("head {}: {}", options_.head_id, error));
      continue;
    }
    // What a read saw is what the block holds from now on.
    m.acked = *gen;
    m.possible.clear();
  }
}

void VerifyWorkload::VerifyAll(std::function<void()> done) {
  NVMP_ASSERT(in_flight_ == 0 && !running_, "VerifyAll while the workload runs");
  verifying_ = true;
  verify_cursor_ = 0;
  on_idle_ = [this, done = std::move(done)] {
    verifying_ = false;
    done();
  };
  bool any = false;
  for (auto& s : slots_) any |= IssueVerifyRead(*s);
  if (!any) MaybeFinish();
}

}  // namespace nvmpath::sim
