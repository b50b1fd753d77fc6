// host::Controller's admin helpers: Identify, log pages and the discovery log, each decoded by
// the nvme/ layer before it reaches the caller. Split from controller.cc, which holds bring-up,
// keep-alive and recovery.
#include <fmt/format.h>

#include "host/controller.h"

namespace nvmpath::host {

using nvme::NvmeStatus;
namespace sc = nvme::sc;

namespace {
// nvme-cli's bound on re-reading a discovery log whose generation counter moved.
constexpr int kDiscoveryRetries = 10;

bool IsHostAbort(NvmeStatus s) {
  return s.code() == sc::kAbortedByHost || s.code() == sc::kHostPathError;
}
}  // namespace
namespace {
template <typename T>
void PostError(reactor::Reactor* r, std::function<void(Result<T>)> done, Status st) {
  r->Post([done = std::move(done), st] { done(st); });
}
}  // namespace

void Controller::GetLogPage(const nvme::GetLogPageArgs& args,
                            ResultCallback<std::vector<uint8_t>> done) {
  if (args.length_bytes > max_transfer_ || args.length_bytes % 4 != 0 || args.length_bytes == 0) {
    return PostError(home_, std::move(done),
                     InvalidArgument(fmt::format("log page {:#04x}: length {} (max transfer {})",
                                                 static_cast<unsigned>(args.lid), args.length_bytes,
                                                 max_transfer_)));
  }
  auto buf = std::make_shared<std::vector<uint8_t>>(args.length_bytes);
  const unsigned lid = static_cast<unsigned>(args.lid);
  Status st = SubmitAdmin(nvme::MakeGetLogPage(0, args, {}), *buf,
                          [this, buf, lid, done](const CommandResult& r) {
                            if (!r.status.ok()) {
                              return done(Status(IsHostAbort(r.status) ? Code::kUnavailable : Code::kIoError,
                                                 fmt::format("ctrl {}: Get Log Page {:#04x}: {}",
                                                             options_.name, lid, r.status.ToString())));
                            }
                            done(std::move(*buf));
                          });
  if (!st.ok()) PostError(home_, std::move(done), st);
}

void Controller::Identify(nvme::Cns cns, uint32_t nsid, ResultCallback<std::vector<uint8_t>> done) {
  auto buf = std::make_shared<std::vector<uint8_t>>(nvme::kIdentifySize);
  const unsigned c = static_cast<unsigned>(cns);
  Status st = SubmitAdmin(nvme::MakeIdentify(0, cns, nsid, {}), *buf,
                          [this, buf, c, nsid, done](const CommandResult& r) {
                            if (!r.status.ok()) {
                              return done(Status(IsHostAbort(r.status) ? Code::kUnavailable : Code::kIoError,
                                                 fmt::format("ctrl {}: Identify CNS {} NSID {}: {}",
                                                             options_.name, c, nsid, r.status.ToString())));
                            }
                            done(std::move(*buf));
                          });
  if (!st.ok()) PostError(home_, std::move(done), st);
}

void Controller::IdentifyActiveNamespaces(uint32_t after, ResultCallback<std::vector<uint32_t>> done) {
  Identify(nvme::Cns::kActiveNamespaces, after, [done](Result<std::vector<uint8_t>> r) {
    if (!r.ok()) return done(r.status());
    done(nvme::DecodeActiveNsList(*r));
  });
}

void Controller::IdentifyNamespace(uint32_t nsid, ResultCallback<nvme::IdentifyNamespace> done) {
  Identify(nvme::Cns::kNamespace, nsid, [done](Result<std::vector<uint8_t>> r) {
    if (!r.ok()) return done(r.status());
    done(nvme::IdentifyNamespace::Decode(*r));
  });
}

void Controller::IdentifyNsDescriptors(uint32_t nsid, ResultCallback<nvme::NsIdentifiers> done) {
  Identify(nvme::Cns::kNsDescriptors, nsid, [done](Result<std::vector<uint8_t>> r) {
    if (!r.ok()) return done(r.status());
    done(nvme::NsIdentifiers::Decode(*r));
  });
}

void Controller::GetAnaLog(ResultCallback<nvme::AnaLog> done) {
  const uint64_t len = nvme::kAnaLogHeaderSize + uint64_t{id_.nanagrpid} * nvme::kAnaDescSize +
                       uint64_t{id_.mnan} * 4;
  const uint32_t anagrpmax = id_.anagrpmax;
  GetLogPage(nvme::GetLogPageArgs{.lid = nvme::LogId::kAna, .nsid = 0xFFFFFFFF, .length_bytes = len},
             [done, anagrpmax](Result<std::vector<uint8_t>> r) {
               if (!r.ok()) return done(r.status());
               done(nvme::AnaLog::Decode(*r, anagrpmax));
             });
}

void Controller::GetChangedNamespaces(ResultCallback<nvme::ChangedNsList> done) {
  GetLogPage(nvme::GetLogPageArgs{.lid = nvme::LogId::kChangedNamespaces,
                                  .nsid = 0xFFFFFFFF,
                                  .length_bytes = nvme::kChangedNsListSize},
             [done](Result<std::vector<uint8_t>> r) {
               if (!r.ok()) return done(r.status());
               done(nvme::ChangedNsList::Decode(*r));
             });
}

void Controller::GetDiscoveryLog(ResultCallback<nvme::DiscoveryLog> done) {
  // Header → whole log → header again; a moving GENCTR means the log changed under us.
  auto attempt = std::make_shared<std::function<void(int)>>();
  std::weak_ptr<std::function<void(int)>> weak = attempt;
  *attempt = [this, done, weak](int left) {
    const nvme::GetLogPageArgs hdr{.lid = nvme::LogId::kDiscovery, .length_bytes = nvme::kDiscoveryHeaderSize};
    auto self = weak.lock();
    GetLogPage(hdr, [this, done, self, left](Result<std::vector<uint8_t>> h) {
      if (!h.ok()) return done(h.status());
      auto header = nvme::DiscoveryLogHeader::Decode(*h);
      if (!header.ok()) return done(header.status());
      const uint64_t len = nvme::kDiscoveryHeaderSize + header->numrec * nvme::kDiscoveryEntrySize;
      GetLogPage(nvme::GetLogPageArgs{.lid = nvme::LogId::kDiscovery, .length_bytes = len},
                 [this, done, self, left, gen = header->genctr](Result<std::vector<uint8_t>> all) {
                   if (!all.ok()) return done(all.status());
                   auto log = nvme::DiscoveryLog::Decode(*all);
                   if (!log.ok()) return done(log.status());
                   if (log->genctr == gen) return done(std::move(log));
                   if (left <= 1) {
                     return done(Unavailable(fmt::format(
                         "ctrl {}: discovery log kept changing (GENCTR)", options_.name)));
                   }
                   (*self)(left - 1);
                 });
    });
  };
  (*attempt)(kDiscoveryRetries);
}

}  // namespace nvmpath::host
