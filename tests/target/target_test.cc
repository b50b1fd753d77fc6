// Target tests: drive target::Target over loopback with RawClient (the tcp/ codec and nvme/
// builders as a raw host) and check what comes back on the wire — discovery, Fabrics, Identify,
// I/O with in-capsule and R2T data, ANA and AENs, keep-alive expiry, digests, malformed PDUs, and
// the injected faults. Method: every test body runs twice, on reactor::Sim (virtual time, so
// keep-alive and delays are instant) and on reactor::Uring over 127.0.0.1, through the harness
// of tests/reactor (one reactor runs both the target and the clients).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <vector>

#include "nvme/ana_log.h"
#include "nvme/discovery_log.h"
#include "nvme/identify.h"
#include "nvme/log_pages.h"
#include "nvme/registers.h"
#include "raw_client.h"
#include "target/target.h"
#include "tcp/pdu.h"

namespace nvmpath::target::testing {
namespace {

using reactor::testing::HarnessFactory;

constexpr const char* kSubnqn = "nqn.2024-01.io.nvmpath:test";
constexpr const char* kHost = "nqn.2024-01.io.nvmpath:host1";
constexpr uint32_t kBs = 512;
constexpr uint64_t kNsBytes = 1 << 20;  // 2048 blocks

std::vector<uint8_t> Pattern(size_t n, uint32_t salt) {
  std::vector<uint8_t> v(n);
  uint32_t x = salt * 2654435761u + 7;
  for (auto& b : v) {
    x = x * 1103515245u + 12345u;
    b = static_cast<uint8_t>(x >> 16);
  }
  return v;
}

class TargetTest : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override {
    h_ = GetParam()();
    ASSERT_TRUE(h_ != nullptr);
    TargetConfig c;
    c.ports = {{.id = 1, .address = "127.0.0.1", .port = 0},
               {.id = 2, .address = "127.0.0.1", .port = 0}};
    SubsystemConfig s;
    s.nqn = kSubnqn;
    s.namespaces = {{.nsid = 1, .size_bytes = kNsBytes, .block_size = kBs, .ana_group = 1},
                    {.nsid = 2, .backend = BackendKind::kNull, .size_bytes = kNsBytes,
                     .block_size = kBs, .ana_group = 2}};
    c.subsystems.push_back(s);
    SubsystemConfig locked;
    locked.nqn = "nqn.2024-01.io.nvmpath:locked";
    locked.allowed_hosts = {"nqn.2024-01.io.nvmpath:only-me"};
    locked.namespaces = {{.nsid = 1, .size_bytes = kNsBytes}};
    c.subsystems.push_back(locked);
    Customize(c);
    auto t = Target::Create(c, {h_->reactor()});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    ASSERT_TRUE(target_->Start().ok());
    port1_ = target_->BoundPort(1);
    port2_ = target_->BoundPort(2);
    ASSERT_NE(port1_, 0);
    ASSERT_NE(port2_, 0);
  }
  virtual void Customize(TargetConfig&) {}

  RawClient* NewClient(uint16_t port, bool hdgst = false, bool ddgst = false) {
    return NewClientAt("127.0.0.1", port, hdgst, ddgst);
  }
  RawClient* NewClientAt(const std::string& address, uint16_t port, bool hdgst = false,
                         bool ddgst = false) {
    clients_.push_back(std::make_unique<RawClient>(h_.get()));
    EXPECT_TRUE(clients_.back()->Connect(address, port, hdgst, ddgst));
    return clients_.back().get();
  }
  // An admin queue (enabled) and one I/O queue through `port`.
  struct Assoc {
    RawClient* admin = nullptr;
    RawClient* io = nullptr;
    uint16_t cntlid = 0;
  };
  Assoc Associate(uint16_t port, bool hdgst = false, bool ddgst = false, uint32_t kato_ms = 0) {
    return AssociateAt("127.0.0.1", port, hdgst, ddgst, kato_ms);
  }
  Assoc AssociateAt(const std::string& address, uint16_t port, bool hdgst = false,
                    bool ddgst = false, uint32_t kato_ms = 0) {
    Assoc a;
    a.admin = NewClientAt(address, port, hdgst, ddgst);
    auto cntlid = a.admin->AdminSetup(kSubnqn, kHost, kato_ms);
    EXPECT_TRUE(cntlid.has_value()) << a.admin->last_status().ToString();
    a.cntlid = cntlid.value_or(0);
    a.io = NewClientAt(address, port, hdgst, ddgst);
    EXPECT_TRUE(a.io->ConnectQueue(kSubnqn, kHost, 1, a.cntlid, 0, 127).has_value())
        << a.io->last_status().ToString();
    return a;
  }

  std::optional<Reply> Write(RawClient* c, uint32_t nsid, uint64_t slba,
                             const std::vector<uint8_t>& data, bool in_capsule) {
    const uint32_t nlb = static_cast<uint32_t>(data.size() / kBs);
    const auto sgl = in_capsule ? nvme::SglDescriptor::InCapsule(static_cast<uint32_t>(data.size()))
                                : nvme::SglDescriptor::Transport(static_cast<uint32_t>(data.size()));
    return c->Exec(nvme::MakeWrite(0, nsid, slba, nlb, sgl), data);
  }
  std::optional<Reply> Read(RawClient* c, uint32_t nsid, uint64_t slba, uint32_t nlb) {
    return c->Exec(nvme::MakeRead(0, nsid, slba, nlb, nvme::SglDescriptor::Transport(nlb * kBs)));
  }
  std::optional<Reply> Identify(RawClient* c, nvme::Cns cns, uint32_t nsid) {
    return c->Exec(nvme::MakeIdentify(0, cns, nsid, nvme::SglDescriptor::Transport(4096)));
  }
  std::optional<Reply> GetLog(RawClient* c, nvme::LogId lid, uint64_t len, bool rae = false,
                              uint64_t offset = 0, uint8_t lsp = 0) {
    nvme::GetLogPageArgs a{.lid = lid, .nsid = 0xFFFFFFFF, .length_bytes = len, .offset = offset,
                           .lsp = lsp, .rae = rae};
    return c->Exec(nvme::MakeGetLogPage(0, a, nvme::SglDescriptor::Transport(
                                                  static_cast<uint32_t>(len))));
  }
  // A discovery controller through `port`, its AER outstanding; with `notice_enabled` false it
  // has turned the Discovery Log Page Change notice off (Set Features AEC, bit 31 clear).
  struct Discovery {
    RawClient* client = nullptr;
    uint16_t aer = 0;
  };
  Discovery DiscoveryWithAer(uint16_t port, bool notice_enabled) {
    Discovery d;
    d.client = NewClient(port);
    EXPECT_TRUE(d.client->AdminSetup("nqn.2014-08.org.nvmexpress.discovery", kHost).has_value());
    const uint32_t aec = notice_enabled ? nvme::kOaesDiscoveryLogChange : 0;
    EXPECT_EQ(Code(d.client->Exec(
                  nvme::MakeSetFeatures(0, nvme::FeatureId::kAsyncEventConfig, aec))),
              0);
    d.aer = d.client->Submit(nvme::MakeAsyncEventRequest(0));
    return d;
  }
  // The whole discovery log (RAE clear, so reading it re-arms the notice).
  nvme::DiscoveryLog DiscoveryLogOf(RawClient* c) {
    auto hdr = nvme::DiscoveryLogHeader::Decode(GetLog(c, nvme::LogId::kDiscovery, 1024)->data);
    EXPECT_TRUE(hdr.ok());
    auto log = nvme::DiscoveryLog::Decode(
        GetLog(c, nvme::LogId::kDiscovery, 1024 * (1 + (hdr.ok() ? hdr->numrec : 0)))->data);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? *log : nvme::DiscoveryLog{};
  }
  // The NVM subsystem entries for kSubnqn, by port ID.
  static std::map<uint16_t, nvme::DiscoveryLogEntry> EntriesOf(const nvme::DiscoveryLog& log) {
    std::map<uint16_t, nvme::DiscoveryLogEntry> out;
    for (const auto& e : log.entries) {
      if (e.subtype == nvme::kSubtypeNvm && e.subnqn == kSubnqn) out[e.portid] = e;
    }
    return out;
  }
  static bool HasPort(const nlohmann::json& state, uint16_t id) {
    for (const auto& p : state["ports"]) {
      if (p["id"] == id) return true;
    }
    return false;
  }

  static uint16_t Code(const std::optional<Reply>& r) {
    return r ? r->cqe.status.code() : 0xFFFF;
  }

  std::unique_ptr<reactor::testing::Harness> h_;
  std::unique_ptr<Target> target_;
  std::vector<std::unique_ptr<RawClient>> clients_;
  uint16_t port1_ = 0;
  uint16_t port2_ = 0;
};

TEST_P(TargetTest, DiscoveryLogListsEveryPortOfEverySubsystem) {
  RawClient* c = NewClient(port1_);
  auto cntlid = c->AdminSetup("nqn.2014-08.org.nvmexpress.discovery", kHost);
  ASSERT_TRUE(cntlid.has_value());
  auto id = Identify(c, nvme::Cns::kController, 0);
  ASSERT_TRUE(id && id->cqe.status.ok());
  auto ctrl = nvme::IdentifyController::Decode(id->data);
  ASSERT_TRUE(ctrl.ok());
  EXPECT_EQ(ctrl->cntrltype, nvme::kCntrltypeDiscovery);
  auto hdr = GetLog(c, nvme::LogId::kDiscovery, 1024);
  ASSERT_TRUE(hdr && hdr->cqe.status.ok());
  auto h = nvme::DiscoveryLogHeader::Decode(hdr->data);
  ASSERT_TRUE(h.ok());
  // kHost may use only the open subsystem: its 2 ports, plus the current discovery subsystem.
  ASSERT_EQ(h->numrec, 3u);
  auto full = GetLog(c, nvme::LogId::kDiscovery, 1024 * (1 + h->numrec));
  ASSERT_TRUE(full && full->cqe.status.ok());
  auto log = nvme::DiscoveryLog::Decode(full->data);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log->entries[0].subtype, nvme::kSubtypeCurrentDiscovery);
  std::vector<std::string> svcids;
  for (size_t i = 1; i < log->entries.size(); ++i) {
    const auto& e = log->entries[i];
    EXPECT_EQ(e.subtype, nvme::kSubtypeNvm);
    EXPECT_EQ(e.subnqn, kSubnqn);
    EXPECT_EQ(e.trtype, nvme::kTrtypeTcp);
    EXPECT_EQ(e.adrfam, nvme::kAdrfamIpv4);
    EXPECT_EQ(e.traddr, "127.0.0.1");
    EXPECT_EQ(e.cntlid, 0xFFFF);
    svcids.push_back(e.trsvcid);
  }
  EXPECT_EQ(svcids, (std::vector<std::string>{std::to_string(port1_), std::to_string(port2_)}));
  // A port change bumps GENCTR and removes the entry.
  const uint64_t gen = log->genctr;
  ASSERT_TRUE(target_->SetPortEnabled(2, false).ok());
  auto again = GetLog(c, nvme::LogId::kDiscovery, 4096);
  auto log2 = nvme::DiscoveryLog::Decode(again->data);
  ASSERT_TRUE(log2.ok());
  EXPECT_GT(log2->genctr, gen);
  EXPECT_EQ(log2->entries.size(), 2u);
}

// A port configured as 0 comes back on the port it was first bound to: hosts reconnect to the
// address they know.
TEST_P(TargetTest, ReenabledPortKeepsItsBoundPort) {
  ASSERT_TRUE(target_->SetPortEnabled(1, false).ok());
  EXPECT_EQ(target_->BoundPort(1), 0);
  ASSERT_TRUE(target_->SetPortEnabled(1, true).ok());
  EXPECT_EQ(target_->BoundPort(1), port1_);
  Assoc a = Associate(port1_);
  EXPECT_NE(a.cntlid, 0);
}

TEST_P(TargetTest, ConnectAdminAndIoQueueAndProperties) {
  RawClient* a = NewClient(port1_);
  auto cntlid = a->ConnectQueue(kSubnqn, kHost, 0, nvme::kCntlidDynamic);
  ASSERT_TRUE(cntlid.has_value());
  EXPECT_GE(*cntlid, 1);
  EXPECT_LE(*cntlid, 0xFFEF);
  // Before CC.EN, admin commands are refused.
  EXPECT_EQ(Code(Identify(a, nvme::Cns::kController, 0)), nvme::sc::kCommandSequenceError);
  auto cap = a->Exec(nvme::MakePropertyGet(0, nvme::kRegCap, true));
  ASSERT_TRUE(cap && cap->cqe.status.ok());
  nvme::CapRegister c{cap->cqe.result64()};
  EXPECT_EQ(c.mqes(), 127u);
  EXPECT_EQ(c.css() & 1, 1u);
  EXPECT_EQ(c.mpsmin(), 0u);
  EXPECT_GT(c.to(), 0u);
  auto vs = a->Exec(nvme::MakePropertyGet(0, nvme::kRegVs, false));
  EXPECT_EQ(vs->cqe.dw0, 0x10400u);
  ASSERT_TRUE(a->Enable());
  // Shutdown notification completes at once.
  nvme::CcRegister cc;
  cc.set_en(1).set_iosqes(6).set_iocqes(4).set_shn(1);
  ASSERT_TRUE(a->Exec(nvme::MakePropertySet(0, nvme::kRegCc, false, cc.raw))->cqe.status.ok());
  auto csts = a->Exec(nvme::MakePropertyGet(0, nvme::kRegCsts, false));
  EXPECT_EQ(nvme::CstsRegister{csts->cqe.dw0}.shst(), nvme::kShutdownStatusComplete);

  RawClient* io = NewClient(port1_);
  EXPECT_TRUE(io->ConnectQueue(kSubnqn, kHost, 1, *cntlid).has_value());
  // Wrong CNTLID, SQSIZE over MQES, second connect of the same QID.
  RawClient* bad = NewClient(port1_);
  EXPECT_FALSE(bad->ConnectQueue(kSubnqn, kHost, 2, *cntlid + 100).has_value());
  EXPECT_EQ(bad->last_status().code(), nvme::sc::kConnectInvalidParameters);
  EXPECT_EQ(bad->last_dw0(), (1u << 16) | nvme::kConnectDataOffsetCntlid);
  RawClient* big = NewClient(port1_);
  EXPECT_FALSE(big->ConnectQueue(kSubnqn, kHost, 2, *cntlid, 0, 500).has_value());
  EXPECT_EQ(big->last_dw0(), uint32_t{nvme::kConnectOffsetSqsize});
  RawClient* dup = NewClient(port1_);
  EXPECT_FALSE(dup->ConnectQueue(kSubnqn, kHost, 1, *cntlid).has_value());
  RawClient* unknown = NewClient(port1_);
  EXPECT_FALSE(unknown->ConnectQueue("nqn.2024-01.io.nvmpath:nope", kHost, 0, 0xFFFF));
  EXPECT_EQ(unknown->last_status().code(), nvme::sc::kConnectInvalidParameters);
  EXPECT_EQ(unknown->last_dw0(), (1u << 16) | nvme::kConnectDataOffsetSubnqn);
}

TEST_P(TargetTest, HostNotAllowedGetsInvalidHostWithDnr) {
  RawClient* c = NewClient(port1_);
  EXPECT_FALSE(c->ConnectQueue("nqn.2024-01.io.nvmpath:locked", kHost, 0, 0xFFFF));
  EXPECT_EQ(c->last_status().code(), nvme::sc::kConnectInvalidHost);
  EXPECT_TRUE(c->last_status().dnr());
  RawClient* ok = NewClient(port1_);
  EXPECT_TRUE(ok->ConnectQueue("nqn.2024-01.io.nvmpath:locked", "nqn.2024-01.io.nvmpath:only-me",
                               0, 0xFFFF));
}

TEST_P(TargetTest, IdentifyControllerNamespaceListAndDescriptors) {
  Assoc a = Associate(port1_);
  auto id = Identify(a.admin, nvme::Cns::kController, 0);
  ASSERT_TRUE(id && id->cqe.status.ok());
  auto ctrl = nvme::IdentifyController::Decode(id->data);
  ASSERT_TRUE(ctrl.ok());
  EXPECT_EQ(ctrl->cntlid, a.cntlid);
  EXPECT_EQ(ctrl->cmic, nvme::kCmicMultiPort | nvme::kCmicMultiController | nvme::kCmicAnaReporting);
  EXPECT_EQ(ctrl->subnqn, kSubnqn);
  EXPECT_GE(ctrl->ioccsz, 4u);
  EXPECT_GE(ctrl->iorcsz, 1u);
  EXPECT_EQ(ctrl->icdoff, 0);
  EXPECT_NE(ctrl->kas, 0);
  EXPECT_NE(ctrl->mnan, 0u);
  EXPECT_LE(ctrl->mnan, ctrl->nn);
  EXPECT_EQ(ctrl->nanagrpid, ctrl->anagrpmax);
  EXPECT_EQ(ctrl->oaes & (nvme::kOaesNsAttribute | nvme::kOaesAnaChange),
            nvme::kOaesNsAttribute | nvme::kOaesAnaChange);
  EXPECT_EQ(ctrl->oncs & 0x0C, 0x0C);
  EXPECT_EQ(ctrl->msdbd, 1);
  EXPECT_EQ(ctrl->ver, 0x10400u);

  auto list = Identify(a.admin, nvme::Cns::kActiveNamespaces, 0);
  auto nsids = nvme::DecodeActiveNsList(list->data);
  ASSERT_TRUE(nsids.ok());
  EXPECT_EQ(*nsids, (std::vector<uint32_t>{1, 2}));
  auto after1 = nvme::DecodeActiveNsList(Identify(a.admin, nvme::Cns::kActiveNamespaces, 1)->data);
  EXPECT_EQ(*after1, (std::vector<uint32_t>{2}));

  auto ns = nvme::IdentifyNamespace::Decode(Identify(a.admin, nvme::Cns::kNamespace, 1)->data);
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ(ns->nsze, kNsBytes / kBs);
  EXPECT_EQ(*ns->BlockSize(), kBs);
  EXPECT_EQ(ns->anagrpid, 1u);
  EXPECT_EQ(ns->nmic & nvme::kNmicShared, nvme::kNmicShared);

  auto desc = nvme::NsIdentifiers::Decode(Identify(a.admin, nvme::Cns::kNsDescriptors, 1)->data);
  ASSERT_TRUE(desc.ok());
  EXPECT_TRUE(desc->uuid && desc->nguid && desc->eui64);
  EXPECT_EQ(desc->csi, 0);
  EXPECT_EQ(*desc->nguid, ns->nguid);
  // The same identifiers through the other port (one namespace, two paths).
  Assoc b = Associate(port2_);
  auto desc2 = nvme::NsIdentifiers::Decode(Identify(b.admin, nvme::Cns::kNsDescriptors, 1)->data);
  EXPECT_EQ(*desc, *desc2);
  // Inactive NSID: zeroes; invalid NSID: Invalid Namespace.
  auto inactive = Identify(a.admin, nvme::Cns::kNamespace, 7);
  EXPECT_TRUE(inactive->cqe.status.ok());
  EXPECT_EQ(inactive->data, std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(Code(Identify(a.admin, nvme::Cns::kNamespace, 0)), nvme::sc::kInvalidNamespace);
  EXPECT_EQ(Code(Identify(a.admin, nvme::Cns::kNsDescriptors, 7)), nvme::sc::kInvalidNamespace);
}

TEST_P(TargetTest, WriteThenReadBackInCapsuleAndR2T) {
  Assoc a = Associate(port1_);
  const auto small = Pattern(4096, 1);        // in-capsule (8 KiB limit)
  const auto large = Pattern(256 * 1024, 2);  // R2T, split into H2CData of MAXH2CDATA
  ASSERT_EQ(Code(Write(a.io, 1, 0, small, true)), 0);
  ASSERT_EQ(Code(Write(a.io, 1, 100, large, false)), 0);
  auto r1 = Read(a.io, 1, 0, 8);
  ASSERT_EQ(Code(r1), 0);
  EXPECT_EQ(r1->data, small);
  auto r2 = Read(a.io, 1, 100, 512);
  ASSERT_EQ(Code(r2), 0);
  EXPECT_EQ(r2->data, large);
  // The data is the namespace's, not the connection's: read it through port 2.
  Assoc b = Associate(port2_);
  EXPECT_EQ(Read(b.io, 1, 0, 8)->data, small);
  // Null namespace: reads zeroes.
  ASSERT_EQ(Code(Write(a.io, 2, 0, small, true)), 0);
  EXPECT_EQ(Read(a.io, 2, 0, 8)->data, std::vector<uint8_t>(4096, 0));
}

TEST_P(TargetTest, FlushWriteZeroesAndDeallocate) {
  Assoc a = Associate(port1_);
  ASSERT_EQ(Code(Write(a.io, 1, 10, Pattern(8192, 3), false)), 0);
  EXPECT_EQ(Code(a.io->Exec(nvme::MakeFlush(0, 1))), 0);
  EXPECT_EQ(Code(a.io->Exec(nvme::MakeWriteZeroes(0, 1, 10, 4, false))), 0);
  auto r = Read(a.io, 1, 10, 16);
  std::vector<uint8_t> want = Pattern(8192, 3);
  std::fill(want.begin(), want.begin() + 4 * kBs, 0);
  EXPECT_EQ(r->data, want);
  // Deallocate blocks 14..15 (16-byte range in the capsule).
  std::vector<uint8_t> range(nvme::kDsmRangeSize);
  nvme::DsmRange{.attributes = 0, .nlb = 2, .slba = 14}.Encode(
      std::span<uint8_t, nvme::kDsmRangeSize>(range.data(), range.size()));
  EXPECT_EQ(Code(a.io->Exec(nvme::MakeDsmDeallocate(0, 1, 1, nvme::SglDescriptor::InCapsule(16)),
                            range)),
            0);
  std::fill(want.begin() + 4 * kBs, want.begin() + 6 * kBs, 0);
  EXPECT_EQ(Read(a.io, 1, 10, 16)->data, want);
  // A range past the end.
  nvme::DsmRange{.attributes = 0, .nlb = 8, .slba = 2044}.Encode(
      std::span<uint8_t, nvme::kDsmRangeSize>(range.data(), range.size()));
  EXPECT_EQ(Code(a.io->Exec(nvme::MakeDsmDeallocate(0, 1, 1, nvme::SglDescriptor::InCapsule(16)),
                            range)),
            nvme::sc::kLbaOutOfRange);
}

TEST_P(TargetTest, LbaOutOfRangeAndInvalidNamespace) {
  Assoc a = Associate(port1_);
  auto r = Read(a.io, 1, 2047, 2);
  EXPECT_EQ(Code(r), nvme::sc::kLbaOutOfRange);
  EXPECT_TRUE(r->cqe.status.dnr());
  EXPECT_EQ(Code(Write(a.io, 1, 2048, Pattern(512, 1), true)), nvme::sc::kLbaOutOfRange);
  EXPECT_EQ(Code(a.io->Exec(nvme::MakeWriteZeroes(0, 1, 0xFFFFFFFFFFFFull, 1, false))),
            nvme::sc::kLbaOutOfRange);
  auto inv = Read(a.io, 9, 0, 1);
  EXPECT_EQ(Code(inv), nvme::sc::kInvalidNamespace);
  EXPECT_TRUE(inv->cqe.status.dnr());
  EXPECT_EQ(Code(Read(a.io, 1, 0, 2049)), nvme::sc::kLbaOutOfRange);
  // Unknown opcode.
  nvme::Command odd = nvme::MakeFlush(0, 1);
  odd.opcode = 0x7E;
  EXPECT_EQ(Code(a.io->Exec(odd)), nvme::sc::kInvalidOpcode);
}

TEST_P(TargetTest, AnaLogAndAenAfterSetAnaState) {
  Assoc a = Associate(port1_);
  auto before = GetLog(a.admin, nvme::LogId::kAna, 4096);
  auto log = nvme::AnaLog::Decode(before->data, 32);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ(log->groups.size(), 2u);
  EXPECT_EQ(log->groups[0].grpid, 1u);
  EXPECT_EQ(log->groups[0].nsids, std::vector<uint32_t>{1});
  EXPECT_EQ(log->groups[0].state, nvme::AnaState::kOptimized);
  const uint16_t aer = a.admin->Submit(nvme::MakeAsyncEventRequest(0));
  h_->RunFor(std::chrono::milliseconds(5));
  EXPECT_FALSE(a.admin->HasReply(aer));
  ASSERT_TRUE(target_->SetAnaState(1, 1, nvme::AnaState::kInaccessible).ok());
  auto aen = a.admin->Wait(aer);
  ASSERT_TRUE(aen.has_value());
  EXPECT_EQ(aen->cqe.dw0, 0x000C0302u);  // notice, ANA change, log 0Ch
  auto after = nvme::AnaLog::Decode(GetLog(a.admin, nvme::LogId::kAna, 4096)->data, 32);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->chgcnt, log->chgcnt);
  EXPECT_EQ(after->groups[0].state, nvme::AnaState::kInaccessible);
  EXPECT_EQ(after->groups[1].state, nvme::AnaState::kOptimized);
  // I/O to group 1 through port 1 now fails with the ANA status; port 2 still serves it.
  auto r = Read(a.io, 1, 0, 1);
  EXPECT_EQ(Code(r), nvme::sc::kAnaInaccessible);
  EXPECT_FALSE(r->cqe.status.dnr());
  EXPECT_EQ(Code(Read(a.io, 2, 0, 1)), 0);
  Assoc b = Associate(port2_);
  EXPECT_EQ(Code(Read(b.io, 1, 0, 1)), 0);
  ASSERT_TRUE(target_->SetAnaState(1, 1, nvme::AnaState::kChange).ok());
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), nvme::sc::kAnaTransition);
  ASSERT_TRUE(target_->SetAnaState(1, 1, nvme::AnaState::kPersistentLoss).ok());
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), nvme::sc::kAnaPersistentLoss);
  // RGO: groups only, no NSIDs.
  auto rgo = GetLog(a.admin, nvme::LogId::kAna, 4096, false, 0, nvme::kAnaLspRgo);
  auto rgolog = nvme::AnaLog::Decode(rgo->data, 32);
  ASSERT_TRUE(rgolog.ok());
  EXPECT_TRUE(rgolog->groups[0].nsids.empty());
  // A read past the end of the page (nvme-cli reads in 4 KiB chunks) returns zeroes.
  auto tail = GetLog(a.admin, nvme::LogId::kAna, 1024, false, 4096);
  ASSERT_EQ(Code(tail), 0);
  EXPECT_EQ(tail->data, std::vector<uint8_t>(1024, 0));
  EXPECT_EQ(Code(GetLog(a.admin, nvme::LogId::kAna, 64, false, 2)), nvme::sc::kInvalidField);
}

TEST_P(TargetTest, NamespaceRemovalRaisesAenAndChangedList) {
  Assoc a = Associate(port1_);
  const uint16_t aer = a.admin->Submit(nvme::MakeAsyncEventRequest(0));
  ASSERT_TRUE(target_->RemoveNamespace(kSubnqn, 2).ok());
  auto aen = a.admin->Wait(aer);
  ASSERT_TRUE(aen.has_value());
  EXPECT_EQ(aen->cqe.dw0, 0x00040002u);  // notice, NS attribute changed, log 04h
  auto changed = GetLog(a.admin, nvme::LogId::kChangedNamespaces, 4096);
  auto list = nvme::ChangedNsList::Decode(changed->data);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->nsids, std::vector<uint32_t>{2});
  EXPECT_EQ(Code(Read(a.io, 2, 0, 1)), nvme::sc::kInvalidNamespace);
  auto active = nvme::DecodeActiveNsList(Identify(a.admin, nvme::Cns::kActiveNamespaces, 0)->data);
  EXPECT_EQ(*active, std::vector<uint32_t>{1});
  // The list was read with RAE=0: the next change raises a new notice on a new AER.
  const uint16_t aer2 = a.admin->Submit(nvme::MakeAsyncEventRequest(0));
  ASSERT_TRUE(target_->AddNamespace(kSubnqn, {.nsid = 5, .size_bytes = kNsBytes}).ok());
  ASSERT_TRUE(a.admin->Wait(aer2).has_value());
  EXPECT_EQ(Read(a.io, 5, 0, 1)->cqe.status.code(), 0);
  // Without reading the log, a further change raises no notice (masked).
  const uint16_t aer3 = a.admin->Submit(nvme::MakeAsyncEventRequest(0));
  ASSERT_TRUE(target_->RemoveNamespace(kSubnqn, 5).ok());
  h_->RunFor(std::chrono::milliseconds(20));
  EXPECT_FALSE(a.admin->HasReply(aer3));
}

TEST_P(TargetTest, ResizeShowsInIdentify) {
  Assoc a = Associate(port1_);
  ASSERT_TRUE(target_->ResizeNamespace(kSubnqn, 1, 2 * kNsBytes).ok());
  auto ns = nvme::IdentifyNamespace::Decode(Identify(a.admin, nvme::Cns::kNamespace, 1)->data);
  EXPECT_EQ(ns->nsze, 2 * kNsBytes / kBs);
  EXPECT_EQ(Code(Read(a.io, 1, 3000, 1)), 0);
  EXPECT_FALSE(target_->ResizeNamespace(kSubnqn, 1, 1000).ok());
}

TEST_P(TargetTest, NamespaceDetachedFromOnePortOnly) {
  Assoc a = Associate(port1_);
  Assoc b = Associate(port2_);
  const auto data = Pattern(1024, 3);
  ASSERT_EQ(Code(Write(b.io, 1, 10, data, true)), 0);
  const uint16_t aer_a = a.admin->Submit(nvme::MakeAsyncEventRequest(0));
  const uint16_t aer_b = b.admin->Submit(nvme::MakeAsyncEventRequest(0));
  ASSERT_TRUE(target_->SetNamespaceAttached(kSubnqn, 1, 1, false).ok());
  // Port 1's controller is told; port 2's is not.
  auto aen = a.admin->Wait(aer_a);
  ASSERT_TRUE(aen.has_value());
  EXPECT_EQ(aen->cqe.dw0, 0x00040002u);
  h_->RunFor(std::chrono::milliseconds(10));
  EXPECT_FALSE(b.admin->HasReply(aer_b));
  auto list = nvme::ChangedNsList::Decode(
      GetLog(a.admin, nvme::LogId::kChangedNamespaces, 4096)->data);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->nsids, std::vector<uint32_t>{1});
  // Through port 1 NSID 1 is inactive: not listed, Identify zeroes, no descriptors, I/O refused,
  // not in the ANA log.
  auto active = nvme::DecodeActiveNsList(Identify(a.admin, nvme::Cns::kActiveNamespaces, 0)->data);
  EXPECT_EQ(*active, std::vector<uint32_t>{2});
  auto id = Identify(a.admin, nvme::Cns::kNamespace, 1);
  ASSERT_EQ(Code(id), 0);
  EXPECT_EQ(id->data, std::vector<uint8_t>(nvme::kIdentifySize, 0));
  EXPECT_EQ(Code(Identify(a.admin, nvme::Cns::kNsDescriptors, 1)), nvme::sc::kInvalidNamespace);
  EXPECT_EQ(Code(Read(a.io, 1, 10, 2)), nvme::sc::kInvalidNamespace);
  EXPECT_EQ(Code(Write(a.io, 1, 10, Pattern(1024, 4), true)), nvme::sc::kInvalidNamespace);
  auto log = nvme::AnaLog::Decode(GetLog(a.admin, nvme::LogId::kAna, 4096)->data, 32);
  ASSERT_TRUE(log.ok());
  for (const auto& g : log->groups) EXPECT_EQ(g.nsids, g.grpid == 2 ? std::vector<uint32_t>{2}
                                                                      : std::vector<uint32_t>{});
  // Port 2 serves it unchanged, data included (the refused write did not land).
  auto b_active =
      nvme::DecodeActiveNsList(Identify(b.admin, nvme::Cns::kActiveNamespaces, 0)->data);
  EXPECT_EQ(*b_active, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(Read(b.io, 1, 10, 2)->data, data);
  EXPECT_EQ(target_->DescribeState()["subsystems"][1]["namespaces"][0]["detached_ports"],
            nlohmann::json::array({1}));
  // Re-attached: port 1 is told again and sees the same namespace and data.
  const uint16_t aer_a2 = a.admin->Submit(nvme::MakeAsyncEventRequest(0));
  ASSERT_TRUE(target_->SetNamespaceAttached(kSubnqn, 1, 1, true).ok());
  ASSERT_TRUE(a.admin->Wait(aer_a2).has_value());
  EXPECT_EQ(Read(a.io, 1, 10, 2)->data, data);
  auto again = nvme::DecodeActiveNsList(Identify(a.admin, nvme::Cns::kActiveNamespaces, 0)->data);
  EXPECT_EQ(*again, (std::vector<uint32_t>{1, 2}));
  // Errors name what is missing.
  EXPECT_EQ(target_->SetNamespaceAttached(kSubnqn, 9, 1, false).code(), Code::kNotFound);
  EXPECT_EQ(target_->SetNamespaceAttached(kSubnqn, 1, 7, false).code(), Code::kNotFound);
  EXPECT_EQ(target_->SetNamespaceAttached("nqn.2024-01.io.nvmpath:nope", 1, 1, false).code(),
            Code::kNotFound);
}

TEST_P(TargetTest, FileNamespaceResizeChangesTheFile) {
  char path[] = "/tmp/nvmpath-resize-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, kNsBytes), 0);
  ::close(fd);
  NamespaceConfig nsc{.nsid = 7, .backend = BackendKind::kFile, .path = path, .block_size = kBs};
  ASSERT_TRUE(target_->AddNamespace(kSubnqn, nsc).ok());
  Assoc a = Associate(port1_);
  const auto data = Pattern(kBs, 5);
  ASSERT_EQ(Code(Write(a.io, 7, 100, data, true)), 0);
  EXPECT_EQ(Code(Read(a.io, 7, 2048, 1)), nvme::sc::kLbaOutOfRange);
  ASSERT_TRUE(target_->ResizeNamespace(kSubnqn, 7, 2 * kNsBytes).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path, &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 2 * kNsBytes);
  auto id = nvme::IdentifyNamespace::Decode(Identify(a.admin, nvme::Cns::kNamespace, 7)->data);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->nsze, 2 * kNsBytes / kBs);
  EXPECT_EQ(Read(a.io, 7, 4095, 1)->data, std::vector<uint8_t>(kBs, 0));  // grown: zeroes
  EXPECT_EQ(Read(a.io, 7, 100, 1)->data, data);                          // kept
  ASSERT_TRUE(target_->ResizeNamespace(kSubnqn, 7, kNsBytes / 2).ok());
  ASSERT_EQ(::stat(path, &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kNsBytes / 2);
  EXPECT_EQ(Code(Read(a.io, 7, 1024, 1)), nvme::sc::kLbaOutOfRange);
  EXPECT_EQ(Read(a.io, 7, 100, 1)->data, data);
  ::unlink(path);
}

TEST_P(TargetTest, KeepAliveExpiryEndsTheAssociation) {
  Assoc a = Associate(port1_, false, false, /*kato_ms=*/300);
  EXPECT_EQ(target_->DescribeState()["controllers"].size(), 1u);
  // Activity keeps it alive.
  for (int i = 0; i < 4; ++i) {
    h_->RunFor(std::chrono::milliseconds(100));
    ASSERT_EQ(Code(a.admin->Exec(nvme::MakeKeepAlive(0))), 0);
  }
  EXPECT_FALSE(a.admin->closed());
  EXPECT_TRUE(a.admin->WaitClosed(std::chrono::seconds(3)));
  EXPECT_TRUE(a.io->WaitClosed(std::chrono::seconds(1)));
  EXPECT_EQ(target_->DescribeState()["controllers"].size(), 0u);
}

TEST_P(TargetTest, DigestsOnAndOff) {
  for (auto [hd, dd] : {std::pair{true, true}, {true, false}, {false, true}}) {
    Assoc a = Associate(port1_, hd, dd);
    const auto data = Pattern(64 * 1024, hd * 2 + dd);
    ASSERT_EQ(Code(Write(a.io, 1, 0, data, false)), 0);
    ASSERT_EQ(Code(Write(a.io, 1, 200, Pattern(1024, 9), true)), 0);
    EXPECT_EQ(Read(a.io, 1, 0, 128)->data, data);
  }
}

TEST_P(TargetTest, MalformedPduGetsTermReqAndClosesOnlyThatConnection) {
  Assoc a = Associate(port1_);
  RawClient* bad = NewClient(port1_);
  // A C2HData sent to the controller: wrong direction (FES 1, invalid header field).
  std::vector<uint8_t> pdu;
  tcp::AppendC2HData(pdu, {.cccid = 1, .datao = 0, .last = true}, Pattern(16, 1), {});
  bad->SendRaw(pdu);
  ASSERT_TRUE(bad->WaitClosed(std::chrono::seconds(3)));
  ASSERT_TRUE(bad->term_req().has_value());
  EXPECT_EQ(bad->term_req()->fes, tcp::Fes::kInvalidHeaderField);
  // HLEN wrong: FES 1, FEI 2.
  RawClient* bad2 = NewClient(port1_);
  std::vector<uint8_t> cmd;
  tcp::AppendCapsuleCmd(cmd, nvme::MakeKeepAlive(1), {}, {});
  cmd[2] = 80;
  bad2->SendRaw(cmd);
  ASSERT_TRUE(bad2->WaitClosed(std::chrono::seconds(3)));
  ASSERT_TRUE(bad2->term_req().has_value());
  EXPECT_EQ(bad2->term_req()->fes, tcp::Fes::kInvalidHeaderField);
  EXPECT_EQ(bad2->term_req()->fei, 2u);
  // A header digest mismatch: FES 3.
  RawClient* bad3 = NewClient(port1_, true, false);
  std::vector<uint8_t> cmd3;
  tcp::AppendCapsuleCmd(cmd3, nvme::MakeKeepAlive(1), {}, {.hdgst = true});
  cmd3[72] ^= 0xFF;
  bad3->SendRaw(cmd3);
  ASSERT_TRUE(bad3->WaitClosed(std::chrono::seconds(3)));
  ASSERT_TRUE(bad3->term_req().has_value());
  EXPECT_EQ(bad3->term_req()->fes, tcp::Fes::kHeaderDigestError);
  // The healthy association is untouched.
  EXPECT_FALSE(a.admin->closed());
  EXPECT_FALSE(a.io->closed());
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), 0);
  EXPECT_EQ(Code(a.admin->Exec(nvme::MakeKeepAlive(0))), 0);
}

TEST_P(TargetTest, FailNextByOpcodeAndPort) {
  Assoc a = Associate(port1_);
  Assoc b = Associate(port2_);
  FailNextSpec spec;
  spec.count = 2;
  spec.status = nvme::NvmeStatus::Of(nvme::sc::kInternalPathError);
  spec.opcode = static_cast<uint8_t>(nvme::IoOpcode::kRead);
  spec.port_id = 1;
  ASSERT_TRUE(target_->FailNext(spec).ok());
  EXPECT_EQ(Code(Read(b.io, 1, 0, 1)), 0);                       // other port
  EXPECT_EQ(Code(Write(a.io, 1, 0, Pattern(512, 1), true)), 0);  // other opcode
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), nvme::sc::kInternalPathError);
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), nvme::sc::kInternalPathError);
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), 0);  // the count is used up
}

TEST_P(TargetTest, StallHoldsResponsesAndDelayDelaysThem) {
  Assoc a = Associate(port1_);
  ASSERT_TRUE(target_->SetStalled(1, true).ok());
  const uint16_t cid = a.io->Submit(
      nvme::MakeRead(0, 1, 0, 1, nvme::SglDescriptor::Transport(kBs)));
  h_->RunFor(std::chrono::milliseconds(50));
  EXPECT_FALSE(a.io->HasReply(cid));
  ASSERT_TRUE(target_->SetStalled(1, false).ok());
  EXPECT_EQ(Code(a.io->Wait(cid)), 0);

  ASSERT_TRUE(target_->SetResponseDelay(std::nullopt, std::chrono::milliseconds(100)).ok());
  const TimePoint t0 = h_->reactor()->now();
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), 0);
  EXPECT_GE(h_->reactor()->now() - t0, std::chrono::milliseconds(100));
  ASSERT_TRUE(target_->SetResponseDelay(std::nullopt, Duration{0}).ok());
}

TEST_P(TargetTest, LateWriteExecutesAfterDisconnect) {
  Assoc a = Associate(port1_);
  Assoc b = Associate(port2_);
  const auto old_data = Pattern(4096, 1);
  const auto new_data = Pattern(4096, 2);
  ASSERT_EQ(Code(Write(a.io, 1, 0, old_data, false)), 0);
  ASSERT_TRUE(target_->SetLateWrites(1, 1, std::chrono::milliseconds(300)).ok());
  const uint16_t cid = a.io->Submit(nvme::MakeWrite(0, 1, 0, 8, nvme::SglDescriptor::Transport(4096)),
                                    new_data);
  h_->RunFor(std::chrono::milliseconds(50));
  EXPECT_FALSE(a.io->HasReply(cid));  // neither executed nor answered
  EXPECT_EQ(Read(b.io, 1, 0, 8)->data, old_data);
  ASSERT_TRUE(target_->DropConnections(1).ok());
  ASSERT_TRUE(a.io->WaitClosed(std::chrono::seconds(2)));
  EXPECT_EQ(Read(b.io, 1, 0, 8)->data, old_data);  // not yet
  ASSERT_TRUE(h_->RunUntil(
      [&] { return target_->DescribeState()["late_writes_executed"] == 1; },
      std::chrono::seconds(3)));
  EXPECT_EQ(Read(b.io, 1, 0, 8)->data, new_data);
}

TEST_P(TargetTest, DescribeStateAndControlErrors) {
  Associate(port1_);
  auto j = target_->DescribeState();
  EXPECT_EQ(j["ports"].size(), 2u);
  EXPECT_EQ(j["ports"][0]["connections"].size(), 2u);
  EXPECT_EQ(j["subsystems"][1]["namespaces"].size(), 2u);
  EXPECT_EQ(target_->RemoveNamespace(kSubnqn, 42).code(), Code::kNotFound);
  EXPECT_EQ(target_->AddNamespace(kSubnqn, {.nsid = 1}).code(), Code::kAlreadyExists);
  EXPECT_EQ(target_->SetAnaState(9, 1, nvme::AnaState::kOptimized).code(), Code::kNotFound);
  EXPECT_EQ(target_->SetAnaState(1, 0, nvme::AnaState::kOptimized).code(), Code::kInvalidArgument);
  auto bad = Target::Create(TargetConfig{.subsystems = {{.nqn = "nqn.x", .namespaces = {{.nsid = 0}}}}},
                            {h_->reactor()});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("subsystems[0].namespaces[0].nsid"), std::string::npos)
      << bad.status().message();
}


// ---- ports added and removed at run time (issue 14) ----

constexpr uint32_t kDiscoveryChangeDw0 = 0x0070F002;  // notice, Discovery Log Page Change, LID 70h

TEST_P(TargetTest, PortAddServesEverySubsystemAndRaisesDiscoveryChange) {
  Discovery on = DiscoveryWithAer(port1_, /*notice_enabled=*/true);
  Discovery off = DiscoveryWithAer(port2_, /*notice_enabled=*/false);
  const nvme::DiscoveryLog before = DiscoveryLogOf(on.client);
  ASSERT_EQ(EntriesOf(before).size(), 2u);
  h_->RunFor(std::chrono::milliseconds(5));
  EXPECT_FALSE(on.client->HasReply(on.aer));

  ASSERT_TRUE(target_->AddPort({.id = 3, .address = "127.0.0.1", .port = 0}).ok());
  const uint16_t port3 = target_->BoundPort(3);
  ASSERT_NE(port3, 0);
  auto aen = on.client->Wait(on.aer);
  ASSERT_TRUE(aen.has_value());
  EXPECT_EQ(aen->cqe.dw0, kDiscoveryChangeDw0);
  h_->RunFor(std::chrono::milliseconds(20));
  EXPECT_FALSE(off.client->HasReply(off.aer)) << "the notice is disabled on that controller";

  const nvme::DiscoveryLog after = DiscoveryLogOf(on.client);
  EXPECT_GT(after.genctr, before.genctr);
  auto entries = EntriesOf(after);
  ASSERT_EQ(entries.size(), 3u);
  ASSERT_EQ(entries.count(3), 1u);
  EXPECT_EQ(entries[3].trsvcid, std::to_string(port3));
  EXPECT_EQ(entries[3].traddr, "127.0.0.1");
  EXPECT_EQ(entries[3].adrfam, nvme::kAdrfamIpv4);

  // The new port serves the subsystem, every group optimized.
  Assoc a = Associate(port3);
  ASSERT_NE(a.cntlid, 0);
  auto ana = nvme::AnaLog::Decode(GetLog(a.admin, nvme::LogId::kAna, 4096)->data, 32);
  ASSERT_TRUE(ana.ok());
  for (const auto& g : ana->groups) EXPECT_EQ(g.state, nvme::AnaState::kOptimized);
  const auto data = Pattern(kBs, 3);
  EXPECT_EQ(Code(Write(a.io, 1, 7, data, true)), 0);
  auto r = Read(a.io, 1, 7, 1);
  ASSERT_EQ(Code(r), 0);
  EXPECT_EQ(r->data, data);
}

TEST_P(TargetTest, PortRemoveDropsItsConnectionsAndLeavesTheLog) {
  ASSERT_TRUE(target_->AddPort({.id = 3, .address = "127.0.0.1", .port = 0},
                               nvme::AnaState::kInaccessible)
                  .ok());
  const uint16_t port3 = target_->BoundPort(3);
  Assoc a = Associate(port3);
  ASSERT_NE(a.cntlid, 0);
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), nvme::sc::kAnaInaccessible);
  Assoc b = Associate(port1_);
  Discovery on = DiscoveryWithAer(port1_, /*notice_enabled=*/true);
  Discovery off = DiscoveryWithAer(port1_, /*notice_enabled=*/false);
  Discovery gone = DiscoveryWithAer(port3, /*notice_enabled=*/true);
  const uint64_t gen = DiscoveryLogOf(on.client).genctr;

  ASSERT_TRUE(target_->RemovePort(3).ok());
  EXPECT_EQ(target_->BoundPort(3), 0);
  // Every queue on the port closes, the discovery controller's too; port 1 is untouched.
  EXPECT_TRUE(a.admin->WaitClosed(h_->default_limit()));
  EXPECT_TRUE(a.io->WaitClosed(h_->default_limit()));
  EXPECT_TRUE(gone.client->WaitClosed(h_->default_limit()));
  auto aen = on.client->Wait(on.aer);
  ASSERT_TRUE(aen.has_value());
  EXPECT_EQ(aen->cqe.dw0, kDiscoveryChangeDw0);
  h_->RunFor(std::chrono::milliseconds(20));
  EXPECT_FALSE(off.client->HasReply(off.aer)) << "the notice is disabled on that controller";
  EXPECT_EQ(Code(Read(b.io, 1, 0, 1)), 0);
  const nvme::DiscoveryLog log = DiscoveryLogOf(on.client);
  EXPECT_GT(log.genctr, gen);
  EXPECT_EQ(EntriesOf(log).count(3), 0u);
  EXPECT_EQ(EntriesOf(log).size(), 2u);
  const nlohmann::json state = target_->DescribeState();
  EXPECT_FALSE(HasPort(state, 3));
  for (const auto& c : state["controllers"]) EXPECT_NE(c["port_id"], 3);
  // Nothing listens there any more.
  std::optional<bool> refused;
  h_->reactor()->Connect("127.0.0.1", port3,
                         [&](Result<std::unique_ptr<reactor::Stream>> s) { refused = !s.ok(); });
  ASSERT_TRUE(h_->RunUntil([&] { return refused.has_value(); }));
  EXPECT_TRUE(*refused);
  // The ID is free again, and a port added under it starts clean (optimized, not the old state).
  ASSERT_TRUE(target_->AddPort({.id = 3, .address = "127.0.0.1", .port = 0}).ok());
  Assoc c = Associate(target_->BoundPort(3));
  EXPECT_EQ(Code(Read(c.io, 1, 0, 1)), 0);
}

TEST_P(TargetTest, PortAddAndRemoveErrorsNameWhatIsWrong) {
  const uint64_t gen = target_->DescribeState()["discovery_genctr"];
  auto message = [](const Status& s) { return s.ToString(); };
  Status dup = target_->AddPort({.id = 1, .address = "127.0.0.1", .port = 0});
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
  EXPECT_NE(message(dup).find("port 1 exists (127.0.0.1:" + std::to_string(port1_) + ")"),
            std::string::npos)
      << message(dup);
  Status same = target_->AddPort({.id = 3, .address = "127.0.0.1", .port = port2_});
  EXPECT_EQ(same.code(), Code::kAlreadyExists);
  EXPECT_NE(message(same).find("127.0.0.1:" + std::to_string(port2_) + " is already used by port 2"),
            std::string::npos)
      << message(same);
  // An address some other program holds.
  auto other = h_->reactor()->Listen("127.0.0.1", 0, [](std::unique_ptr<reactor::Stream>) {});
  ASSERT_TRUE(other.ok());
  Status in_use = target_->AddPort({.id = 3, .address = "127.0.0.1", .port = (*other)->port()});
  EXPECT_FALSE(in_use.ok());
  EXPECT_NE(message(in_use).find("port 3 (127.0.0.1:" + std::to_string((*other)->port()) + ")"),
            std::string::npos)
      << message(in_use);
  std::string lower = message(in_use);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_NE(lower.find("in use"), std::string::npos) << message(in_use);
  EXPECT_FALSE(HasPort(target_->DescribeState(), 3)) << "a port that failed to start is not kept";
  for (const char* bad : {"a b", "", "[127.0.0.1]", "host_name", "-x.example"}) {
    Status s = target_->AddPort({.id = 3, .address = bad, .port = 0});
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad << ": " << message(s);
    EXPECT_NE(message(s).find("address"), std::string::npos) << message(s);
  }
  EXPECT_EQ(target_->AddPort({.id = 0, .address = "127.0.0.1", .port = 0}).code(),
            Code::kInvalidArgument);
  Status unknown = target_->RemovePort(9);
  EXPECT_EQ(unknown.code(), Code::kNotFound);
  EXPECT_NE(message(unknown).find("port 9"), std::string::npos) << message(unknown);
  EXPECT_EQ(target_->DescribeState()["discovery_genctr"], gen) << "failed calls change nothing";
  // After all that, port 3 can still be added.
  EXPECT_TRUE(target_->AddPort({.id = 3, .address = "127.0.0.1", .port = 0}).ok());
}

// IPv6 addresses (with or without brackets) and host names work as port addresses; the
// discovery log names the numeric address bound, with its address family.
TEST_P(TargetTest, Ipv6AndHostNamePorts) {
  Status v6 = target_->AddPort({.id = 3, .address = "[::1]", .port = 0});
  if (!v6.ok() && v6.ToString().find("assign") != std::string::npos) {
    GTEST_SKIP() << "no IPv6 loopback here: " << v6.ToString();
  }
  ASSERT_TRUE(v6.ok()) << v6.ToString();
  Status named = target_->AddPort({.id = 4, .address = "localhost", .port = 0});
  ASSERT_TRUE(named.ok()) << named.ToString();
  RawClient* d = NewClient(port1_);
  ASSERT_TRUE(d->AdminSetup("nqn.2014-08.org.nvmexpress.discovery", kHost).has_value());
  auto entries = EntriesOf(DiscoveryLogOf(d));
  ASSERT_EQ(entries.count(3), 1u);
  EXPECT_EQ(entries[3].traddr, "::1");
  EXPECT_EQ(entries[3].adrfam, nvme::kAdrfamIpv6);
  EXPECT_EQ(entries[3].trsvcid, std::to_string(target_->BoundPort(3)));
  ASSERT_EQ(entries.count(4), 1u);
  const std::string resolved = entries[4].traddr;
  EXPECT_TRUE(resolved == "127.0.0.1" || resolved == "::1") << resolved;
  EXPECT_EQ(entries[4].adrfam, resolved == "::1" ? nvme::kAdrfamIpv6 : nvme::kAdrfamIpv4);
  Assoc a = AssociateAt("::1", target_->BoundPort(3));
  ASSERT_NE(a.cntlid, 0);
  EXPECT_EQ(Code(Read(a.io, 1, 0, 1)), 0);
  Assoc b = AssociateAt(resolved, target_->BoundPort(4));
  ASSERT_NE(b.cntlid, 0);
  const nlohmann::json state = target_->DescribeState();
  for (const auto& p : state["ports"]) {
    if (p["id"] == 4) {
      EXPECT_EQ(p["address"], "localhost");
      EXPECT_EQ(p["listen_address"], resolved);
    }
  }
}

// A configured port may be IPv6 or a host name too.
class TargetNamedPortsTest : public TargetTest {
  void Customize(TargetConfig& c) override {
    c.ports[0].address = "localhost";
    c.ports[1].address = "[::1]";
  }
};

TEST_P(TargetNamedPortsTest, ConfiguredNamesAndIpv6Listen) {
  const nlohmann::json state = target_->DescribeState();
  ASSERT_EQ(state["ports"].size(), 2u);
  EXPECT_EQ(state["ports"][0]["address"], "localhost");
  EXPECT_EQ(state["ports"][1]["address"], "::1");
  EXPECT_EQ(state["ports"][1]["listen_address"], "::1");
  Assoc a = AssociateAt("::1", port2_);
  EXPECT_NE(a.cntlid, 0);
  Assoc b = AssociateAt(state["ports"][0]["listen_address"].get<std::string>(), port1_);
  EXPECT_NE(b.cntlid, 0);
}

INSTANTIATE_TEST_SUITE_P(Reactors, TargetTest, BothReactors(), HarnessName);
INSTANTIATE_TEST_SUITE_P(Reactors, TargetNamedPortsTest, BothReactors(), HarnessName);

}  // namespace
}  // namespace nvmpath::target::testing
