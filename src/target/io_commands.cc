// NVM I/O commands: Read, Write, Flush, Write Zeroes, Dataset Management (deallocate). Checks, in
// the order a host can tell apart: opcode, namespace, injected failure, ANA state through this
// port, LBA range, MDTS, SGL length.
#include "nvme/command.h"
#include "target/commands.h"

namespace nvmpath::target {
namespace {

std::optional<uint16_t> AnaError(nvme::AnaState s) {
  switch (s) {
    case nvme::AnaState::kOptimized:
    case nvme::AnaState::kNonOptimized: return std::nullopt;
    case nvme::AnaState::kInaccessible: return nvme::sc::kAnaInaccessible;
    case nvme::AnaState::kPersistentLoss: return nvme::sc::kAnaPersistentLoss;
    case nvme::AnaState::kChange: return nvme::sc::kAnaTransition;
  }
  return nvme::sc::kAnaInaccessible;
}

// The backend's completion as a command result.
Backend::Done ToDone(Completer done) {
  return [done](Status s) {
    done(s.ok() ? CmdResult::Ok() : CmdResult::Error(nvme::sc::kInternalError, false));
  };
}

}  // namespace

void ExecuteIo(Core& core, Connection& conn, Controller& ctrl, std::shared_ptr<Request> req) {
  Completer done(conn.weak_from_this(), req);
  const nvme::Command& cmd = req->cmd;
  using Op = nvme::IoOpcode;
  const auto op = static_cast<Op>(cmd.opcode);
  if (op != Op::kRead && op != Op::kWrite && op != Op::kFlush && op != Op::kWriteZeroes &&
      op != Op::kDatasetManagement) {
    return done(CmdResult::Error(nvme::sc::kInvalidOpcode));
  }
  std::shared_ptr<Namespace> ns = ctrl.subsystem()->FindThrough(cmd.nsid, conn.port_id());
  if (!ns) return done(CmdResult::Error(nvme::sc::kInvalidNamespace));
  if (auto st = core.faults().TakeFailNext(cmd.opcode, conn.port_id(), cmd.nsid)) {
    return done(CmdResult{*st, 0, 0, {}});
  }
  if (auto ana = AnaError(core.ana().StateFor(conn.port_id(), ns->config.ana_group))) {
    return done(CmdResult::Error(*ana, /*dnr=*/false));
  }
  const uint64_t blocks = ns->blocks();
  const uint32_t bs = ns->block_size();
  auto in_range = [&](uint64_t slba, uint64_t nlb) { return slba < blocks && nlb <= blocks - slba; };

  switch (op) {
    case Op::kRead:
    case Op::kWrite: {
      const auto rw = nvme::RwFields::From(cmd);
      if (!in_range(rw.slba, rw.nlb)) return done(CmdResult::Error(nvme::sc::kLbaOutOfRange));
      const uint64_t len = uint64_t{rw.nlb} * bs;
      if (len > MaxTransferBytes(*ctrl.subsystem())) {
        return done(CmdResult::Error(nvme::sc::kInvalidField));
      }
      if (len != req->transfer_len) return done(CmdResult::Error(nvme::sc::kDataSglLengthInvalid));
      if (op == Op::kWrite) {
        if (req->data.size() != len) return done(CmdResult::Error(nvme::sc::kDataSglLengthInvalid));
        // The request (holding the data) and the namespace stay alive until the backend is done.
        ns->backend->Write(rw.slba * bs, req->data, [done, req, ns](Status s) {
          done(s.ok() ? CmdResult::Ok() : CmdResult::Error(nvme::sc::kWriteFault, false));
        });
        return;
      }
      auto buf = std::make_shared<std::vector<uint8_t>>(len);
      ns->backend->Read(rw.slba * bs, *buf, [done, buf, ns](Status s) {
        if (!s.ok()) return done(CmdResult::Error(nvme::sc::kUnrecoveredReadError, false));
        done(CmdResult::WithData(std::move(*buf)));
      });
      return;
    }
    case Op::kFlush:
      ns->backend->Flush(ToDone(done));
      return;
    case Op::kWriteZeroes: {
      const auto rw = nvme::RwFields::From(cmd);
      if (!in_range(rw.slba, rw.nlb)) return done(CmdResult::Error(nvme::sc::kLbaOutOfRange));
      ns->backend->WriteZeroes(rw.slba * bs, uint64_t{rw.nlb} * bs,
                               [done, ns](Status s) { ToDone(done)(s); });
      return;
    }
    case Op::kDatasetManagement: {
      const auto dsm = nvme::DsmFields::From(cmd);
      const size_t need = size_t{dsm.nr_ranges} * nvme::kDsmRangeSize;
      if (req->data.size() < need) return done(CmdResult::Error(nvme::sc::kDataSglLengthInvalid));
      std::vector<nvme::DsmRange> ranges;
      for (uint32_t i = 0; i < dsm.nr_ranges; ++i) {
        ranges.push_back(nvme::DsmRange::Decode(std::span<const uint8_t, nvme::kDsmRangeSize>(
            req->data.data() + i * nvme::kDsmRangeSize, nvme::kDsmRangeSize)));
        if (!in_range(ranges.back().slba, ranges.back().nlb)) {
          return done(CmdResult::Error(nvme::sc::kLbaOutOfRange));
        }
      }
      if (!dsm.deallocate) return done(CmdResult::Ok());  // other attributes are hints
      // All ranges are issued at once; the command completes when the last one is done, with
      // an error if any failed.
      struct Pending {
        size_t left;
        bool failed = false;
      };
      auto pending = std::make_shared<Pending>(Pending{ranges.size()});
      for (const auto& r : ranges) {
        ns->backend->Deallocate(r.slba * bs, uint64_t{r.nlb} * bs, [pending, done, ns](Status s) {
          if (!s.ok()) pending->failed = true;
          if (--pending->left > 0) return;
          done(pending->failed ? CmdResult::Error(nvme::sc::kInternalError, false)
                               : CmdResult::Ok());
        });
      }
      return;
    }
    default:
      return done(CmdResult::Error(nvme::sc::kInvalidOpcode));
  }
}

}  // namespace nvmpath::target
