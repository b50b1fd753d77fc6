// Connect as real initiators send it. Goal: `target::Target` accepts the Connect commands that
// SPDK's initiator (spdk_nvme_perf and every SPDK host application) and the Linux host put on
// the wire, and refuses what it must refuse with the status the NVMe-oF specification names.
// Method: each Connect is written here byte by byte at the offsets of the specification (not
// through nvme::MakeConnect, so the test does not share the codec's mistakes), sent over a real
// socket (reactor::Sim and reactor::Uring on 127.0.0.1, like target_test) and followed by what
// the initiator does next: enable, Identify, an I/O queue and a write read back.
//
// What each initiator sends (SPDK lib/nvme/nvme_fabric.c and nvme_tcp.c; Linux
// drivers/nvme/host/fabrics.c): SPDK leaves HOSTNQN empty unless given one, puts its 16-byte
// extended host ID in HOSTID, sends SQSIZE 31 on the admin queue (32 entries), KATO 10000 ms on
// every queue (I/O queues too) and CATTR 0. Linux always names its host, sends SQSIZE 31 and
// KATO (5 s, or 15 s on kernels that add a grace period) on the admin queue only, KATO 0 on I/O
// queues, and CATTR bit 2 (no SQ flow control) when asked to.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "nvme/identify.h"
#include "raw_client.h"
#include "target/target.h"

namespace nvmpath::target::testing {
namespace {

using reactor::testing::HarnessFactory;

constexpr const char* kOpen = "nqn.2024-01.io.nvmpath:open";
constexpr const char* kLocked = "nqn.2024-01.io.nvmpath:locked";
constexpr const char* kAllowedHost = "nqn.2024-01.io.nvmpath:only-me";
constexpr uint32_t kBs = 512;

// One Connect as an initiator builds it: the SQE fields and the 1024-byte data.
struct WireConnect {
  uint16_t qid = 0;
  uint16_t sqsize = 31;  // 0's based
  uint8_t cattr = 0;
  uint32_t kato_ms = 0;
  uint16_t cntlid = 0xFFFF;
  std::array<uint8_t, 16> hostid{};
  std::string subnqn;
  std::string hostnqn;
};

void PutLe(std::vector<uint8_t>& b, size_t off, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

// The 64-byte SQE: opcode 7Fh, PSDT = SGL, FCTYPE 01h, SGL1 = data block / offset (in-capsule)
// of 1024 bytes, RECFMT 0, QID, SQSIZE, CATTR, KATO.
nvme::Command ConnectSqe(const WireConnect& w) {
  std::vector<uint8_t> b(nvme::kSqeSize, 0);
  b[0] = 0x7F;
  b[1] = 0x40;
  b[4] = 0x01;
  PutLe(b, 24 + 8, 1024, 4);  // SGL length
  b[24 + 15] = 0x01;          // SGL type 0 (data block), subtype 1 (offset)
  PutLe(b, 42, w.qid, 2);
  PutLe(b, 44, w.sqsize, 2);
  b[46] = w.cattr;
  PutLe(b, 48, w.kato_ms, 4);
  return nvme::Command::Decode(std::span<const uint8_t, nvme::kSqeSize>(b.data(), b.size()));
}

// HOSTID @0, CNTLID @16, SUBNQN @256, HOSTNQN @512, each NQN NUL-terminated in 256 bytes.
std::vector<uint8_t> ConnectDataBytes(const WireConnect& w) {
  std::vector<uint8_t> d(1024, 0);
  std::copy(w.hostid.begin(), w.hostid.end(), d.begin());
  PutLe(d, 16, w.cntlid, 2);
  std::copy(w.subnqn.begin(), w.subnqn.end(), d.begin() + 256);
  std::copy(w.hostnqn.begin(), w.hostnqn.end(), d.begin() + 512);
  return d;
}

// The initiators' habits, as listed at the top of this file.
struct Initiator {
  const char* name;
  std::string hostnqn;
  uint32_t admin_kato_ms;
  uint32_t io_kato_ms;
  uint8_t cattr;
};
const Initiator kSpdkPerf{"spdk_nvme_perf", "", 10000, 10000, 0};
const Initiator kLinux{"linux", "nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100",
                       5000, 0, 0};
const Initiator kLinuxGraceNoSqFlow{"linux-kato-grace-disable-sqflow",
                                    "nqn.2014-08.org.nvmexpress:uuid:host-b", 15000, 0,
                                    nvme::kCattrDisableSqFlowControl};

class InitiatorConnectTest : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override {
    h_ = GetParam()();
    ASSERT_TRUE(h_ != nullptr);
    TargetConfig c;
    c.ports = {{.id = 1, .address = "127.0.0.1", .port = 0}};
    SubsystemConfig open;
    open.nqn = kOpen;
    open.namespaces = {{.nsid = 1, .size_bytes = 1 << 20, .block_size = kBs}};
    c.subsystems.push_back(open);
    SubsystemConfig locked;
    locked.nqn = kLocked;
    locked.allowed_hosts = {kAllowedHost};
    locked.namespaces = {{.nsid = 1, .size_bytes = 1 << 20, .block_size = kBs}};
    c.subsystems.push_back(locked);
    Customize(c);
    auto t = Target::Create(c, {h_->reactor()});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    ASSERT_TRUE(target_->Start().ok());
    port_ = target_->BoundPort(1);
    ASSERT_NE(port_, 0);
  }
  virtual void Customize(TargetConfig&) {}

  RawClient* NewClient() {
    clients_.push_back(std::make_unique<RawClient>(h_.get()));
    EXPECT_TRUE(clients_.back()->Connect(port_));
    return clients_.back().get();
  }
  std::optional<Reply> Send(RawClient* c, const WireConnect& w) {
    return c->Exec(ConnectSqe(w), ConnectDataBytes(w));
  }
  static WireConnect AdminConnect(const Initiator& who, const std::string& subnqn) {
    WireConnect w{.qid = 0, .sqsize = 31, .cattr = who.cattr, .kato_ms = who.admin_kato_ms,
                  .cntlid = 0xFFFF, .subnqn = subnqn, .hostnqn = who.hostnqn};
    for (size_t i = 0; i < w.hostid.size(); ++i) w.hostid[i] = static_cast<uint8_t>(0xA0 + i);
    return w;
  }
  // The I/O queue's Connect of the same initiator: its KATO habit, the controller's CNTLID.
  static WireConnect IoConnect(const Initiator& who, uint16_t cntlid, uint16_t sqsize) {
    WireConnect w = AdminConnect(who, kOpen);
    w.qid = 1;
    w.sqsize = sqsize;
    w.kato_ms = who.io_kato_ms;
    w.cntlid = cntlid;
    return w;
  }
  nlohmann::json ControllerState(uint16_t cntlid) {
    const nlohmann::json state = target_->DescribeState();
    for (const auto& c : state["controllers"]) {
      if (c["cntlid"] == cntlid) return c;
    }
    ADD_FAILURE() << "no controller " << cntlid << " in " << state["controllers"].dump();
    return nlohmann::json::object({{"hostnqn", nullptr}, {"kato_ms", nullptr}});
  }

  // The whole bring-up an initiator does; returns the CNTLID (0 on failure, with failures
  // recorded).
  uint16_t BringUp(const Initiator& who, uint16_t io_sqsize) {
    SCOPED_TRACE(who.name);
    RawClient* admin = NewClient();
    auto r = Send(admin, AdminConnect(who, kOpen));
    if (!r || !r->cqe.status.ok()) {
      ADD_FAILURE() << "admin Connect refused: "
                    << (r ? r->cqe.status.ToString() : std::string("no reply"));
      return 0;
    }
    const uint16_t cntlid = static_cast<uint16_t>(r->cqe.dw0 & 0xFFFF);
    EXPECT_GE(cntlid, 1);
    EXPECT_LE(cntlid, 0xFFEF);
    EXPECT_TRUE(admin->Enable());
    auto id = admin->Exec(nvme::MakeIdentify(0, nvme::Cns::kController, 0,
                                             nvme::SglDescriptor::Transport(4096)));
    EXPECT_TRUE(id && id->cqe.status.ok());
    const auto state = ControllerState(cntlid);
    EXPECT_EQ(state["hostnqn"], who.hostnqn);
    EXPECT_EQ(state["kato_ms"], who.admin_kato_ms);

    RawClient* io = NewClient();
    auto ri = Send(io, IoConnect(who, cntlid, io_sqsize));
    EXPECT_TRUE(ri && ri->cqe.status.ok())
        << "I/O Connect refused: " << (ri ? ri->cqe.status.ToString() : std::string("no reply"));
    // The I/O queue's KATO changes nothing: the controller keeps the admin queue's.
    EXPECT_EQ(ControllerState(cntlid)["kato_ms"], who.admin_kato_ms);
    std::vector<uint8_t> data(4 * kBs);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + cntlid);
    auto w = io->Exec(nvme::MakeWrite(0, 1, 8, 4, nvme::SglDescriptor::InCapsule(4 * kBs)), data);
    EXPECT_TRUE(w && w->cqe.status.ok());
    auto rd = io->Exec(nvme::MakeRead(0, 1, 8, 4, nvme::SglDescriptor::Transport(4 * kBs)));
    EXPECT_TRUE(rd && rd->cqe.status.ok());
    if (rd) {
      EXPECT_EQ(rd->data, data);
    }
    return cntlid;
  }

  std::unique_ptr<reactor::testing::Harness> h_;
  std::unique_ptr<Target> target_;
  std::vector<std::unique_ptr<RawClient>> clients_;
  uint16_t port_ = 0;
};

// Issue 16: spdk_nvme_perf could not connect at all (Connect Invalid Parameters on HOSTNQN).
TEST_P(InitiatorConnectTest, SpdkPerfConnectWithoutHostNqnWhereAnyHostMay) {
  // SPDK clamps its I/O queue to MQES + 1 = 128 entries: SQSIZE 127.
  EXPECT_NE(BringUp(kSpdkPerf, 127), 0);
}

TEST_P(InitiatorConnectTest, LinuxConnects) {
  EXPECT_NE(BringUp(kLinux, 127), 0);
  EXPECT_NE(BringUp(kLinuxGraceNoSqFlow, 127), 0);
}

// Where the subsystem has an allow-list, no host NQN is not an allowed host: Connect Invalid
// Host (SCT 1, SC 84h) with DNR, so the initiator stops retrying, and no controller is made.
TEST_P(InitiatorConnectTest, SpdkPerfConnectWithoutHostNqnRefusedByAllowList) {
  RawClient* c = NewClient();
  auto r = Send(c, AdminConnect(kSpdkPerf, kLocked));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->cqe.status.code(), nvme::sc::kConnectInvalidHost);
  EXPECT_TRUE(r->cqe.status.dnr());
  EXPECT_TRUE(target_->DescribeState()["controllers"].empty());
  // The host it lists still gets in, over the same Connect with its name filled in.
  Initiator named = kSpdkPerf;
  named.hostnqn = kAllowedHost;
  auto ok = Send(NewClient(), AdminConnect(named, kLocked));
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->cqe.status.ok()) << ok->cqe.status.ToString();
}

// An I/O queue must name the host its controller was made for, empty or not.
TEST_P(InitiatorConnectTest, IoQueueOfAnotherHostIsRefused) {
  RawClient* admin = NewClient();
  auto r = Send(admin, AdminConnect(kSpdkPerf, kOpen));
  ASSERT_TRUE(r && r->cqe.status.ok());
  auto ri = Send(NewClient(), IoConnect(kLinux, static_cast<uint16_t>(r->cqe.dw0 & 0xFFFF), 127));
  ASSERT_TRUE(ri.has_value());
  EXPECT_EQ(ri->cqe.status.code(), nvme::sc::kConnectInvalidParameters);
  EXPECT_EQ(ri->cqe.dw0, (1u << 16) | nvme::kConnectDataOffsetCntlid);
}

// What still fails, and where the status points (IATTR bit 16: in the data; IPO: the offset).
TEST_P(InitiatorConnectTest, MalformedFieldsNameTheirOffset) {
  WireConnect no_sub = AdminConnect(kSpdkPerf, "");
  auto r = Send(NewClient(), no_sub);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->cqe.status.code(), nvme::sc::kConnectInvalidParameters);
  EXPECT_EQ(r->cqe.dw0, (1u << 16) | nvme::kConnectDataOffsetSubnqn);

  WireConnect long_host = AdminConnect(kSpdkPerf, kOpen);
  long_host.hostnqn = std::string(224, 'h');
  r = Send(NewClient(), long_host);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->cqe.dw0, (1u << 16) | nvme::kConnectDataOffsetHostnqn);

  WireConnect zero_sq = AdminConnect(kSpdkPerf, kOpen);
  zero_sq.sqsize = 0;
  r = Send(NewClient(), zero_sq);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->cqe.dw0, uint32_t{nvme::kConnectOffsetSqsize});

  WireConnect static_cntlid = AdminConnect(kSpdkPerf, kOpen);
  static_cntlid.cntlid = 1;
  r = Send(NewClient(), static_cntlid);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->cqe.dw0, (1u << 16) | nvme::kConnectDataOffsetCntlid);
}

// A target whose I/O queues are smaller than the 32-entry admin queue every initiator asks for
// still takes that admin queue; its I/O queues stay bounded by MQES.
class SmallQueuesTest : public InitiatorConnectTest {
  void Customize(TargetConfig& c) override { c.queue_size_max = 16; }
};

TEST_P(SmallQueuesTest, AdminQueueOf32EntriesWhateverMqes) {
  EXPECT_NE(BringUp(kSpdkPerf, 15), 0);
  RawClient* admin = NewClient();
  auto r = Send(admin, AdminConnect(kLinux, kOpen));
  ASSERT_TRUE(r && r->cqe.status.ok()) << (r ? r->cqe.status.ToString() : "no reply");
  auto ri = Send(NewClient(), IoConnect(kLinux, static_cast<uint16_t>(r->cqe.dw0 & 0xFFFF), 16));
  ASSERT_TRUE(ri.has_value());
  EXPECT_EQ(ri->cqe.status.code(), nvme::sc::kConnectInvalidParameters);
  EXPECT_EQ(ri->cqe.dw0, uint32_t{nvme::kConnectOffsetSqsize});
  WireConnect big_admin = AdminConnect(kLinux, kOpen);
  big_admin.sqsize = 32;
  auto rb = Send(NewClient(), big_admin);
  ASSERT_TRUE(rb.has_value());
  EXPECT_EQ(rb->cqe.dw0, uint32_t{nvme::kConnectOffsetSqsize});
}

INSTANTIATE_TEST_SUITE_P(Reactors, InitiatorConnectTest, BothReactors(), HarnessName);
INSTANTIATE_TEST_SUITE_P(Reactors, SmallQueuesTest, BothReactors(), HarnessName);

}  // namespace
}  // namespace nvmpath::target::testing
