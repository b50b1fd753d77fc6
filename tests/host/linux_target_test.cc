// host::Controller against the Linux kernel's NVMe/TCP target (nvmet-tcp, Linux 6.1 in QEMU:
// shared/peers/linux-nvme/kernel-target.sh). Label `slow`; skipped unless
// NVMPATH_LINUX_TARGET=host:port names a running target (NVMPATH_LINUX_NQN overrides the
// subsystem NQN). Goal: interoperability with a host-independent implementation — bring-up,
// Identify, ANA log, in-capsule and R2T writes, reads, with and without digests.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "host/controller.h"
#include "reactor/uring.h"

namespace nvmpath::host {
namespace {

struct Peer {
  std::string address;
  uint16_t port = 0;
  std::string nqn = "nqn.2024-01.org.example:peers-target";
};

std::optional<Peer> PeerFromEnv() {
  const char* t = std::getenv("NVMPATH_LINUX_TARGET");
  if (t == nullptr) return std::nullopt;
  std::string s(t);
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  Peer p{s.substr(0, colon), static_cast<uint16_t>(std::stoi(s.substr(colon + 1)))};
  if (const char* n = std::getenv("NVMPATH_LINUX_NQN")) p.nqn = n;
  return p;
}

class LinuxTargetTest : public ::testing::TestWithParam<bool> {};

TEST_P(LinuxTargetTest, BringUpIdentifyAndIo) {
  auto peer = PeerFromEnv();
  if (!peer) GTEST_SKIP() << "set NVMPATH_LINUX_TARGET=host:port (kernel-target.sh start)";
  const bool digests = GetParam();
  auto u = reactor::Uring::Create(0);
  ASSERT_TRUE(u.ok());
  reactor::Uring* r = u->get();
  ControllerOptions o;
  o.address = peer->address;
  o.port = peer->port;
  o.subnqn = peer->nqn;
  o.hostnqn = "nqn.2024-01.io.nvmpath:interop-host";
  o.hostid[0] = 0x42;
  o.hdgst = o.ddgst = digests;
  Controller ctrl(o, {r}, 0);
  auto run_until = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 30000 && !done(); ++i) r->RunOnce(std::chrono::milliseconds(2));
    return done();
  };
  std::optional<Status> st;
  r->Post([&] { ctrl.Start([&](Status s) { st = s; }); });
  ASSERT_TRUE(run_until([&] { return st.has_value(); }));
  ASSERT_TRUE(st->ok()) << st->ToString();
  std::printf("linux target: cntlid %u, VS %lu.%lu, MN '%s', IOCCSZ %u, MDTS %u, KAS %u, ANATT %u\n",
              ctrl.cntlid(), (unsigned long)ctrl.vs().mjr(), (unsigned long)ctrl.vs().mnr(),
              ctrl.identify().mn.c_str(), ctrl.identify().ioccsz, ctrl.identify().mdts,
              ctrl.identify().kas, ctrl.identify().anatt);

  std::optional<Result<std::vector<uint32_t>>> nsids;
  std::optional<Result<nvme::NsIdentifiers>> ids;
  std::optional<Result<nvme::AnaLog>> ana;
  std::optional<Result<nvme::IdentifyNamespace>> ns;
  r->Post([&] {
    ctrl.IdentifyActiveNamespaces(0, [&](auto x) { nsids = std::move(x); });
    ctrl.IdentifyNsDescriptors(1, [&](auto x) { ids = std::move(x); });
    ctrl.IdentifyNamespace(1, [&](auto x) { ns = std::move(x); });
    ctrl.GetAnaLog([&](auto x) { ana = std::move(x); });
  });
  ASSERT_TRUE(run_until([&] { return nsids && ids && ana && ns; }));
  ASSERT_TRUE(nsids->ok()) << nsids->status().ToString();
  EXPECT_FALSE((*nsids)->empty());
  ASSERT_TRUE(ids->ok()) << ids->status().ToString();
  EXPECT_TRUE((*ids)->uuid.has_value());
  ASSERT_TRUE(ana->ok()) << ana->status().ToString();
  EXPECT_FALSE((*ana)->groups.empty());
  ASSERT_TRUE(ns->ok());
  const uint32_t bs = *(*ns)->BlockSize();

  for (size_t bytes : {size_t{4096}, size_t{256 * 1024}}) {  // in capsule; R2T (16 KiB ICD)
    std::vector<uint8_t> data(bytes), back(bytes);
    for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<uint8_t>(i * 13 + bytes + digests);
    const auto nlb = static_cast<uint32_t>(bytes / bs);
    std::optional<CommandResult> w, rd;
    r->Post([&] {
      ASSERT_TRUE(ctrl.io_channel(0).Submit(nvme::MakeWrite(0, 1, 64, nlb, {}), data,
                                [&](const CommandResult& x) {
                                  w = x;
                                  ASSERT_TRUE(ctrl.io_channel(0).Submit(nvme::MakeRead(0, 1, 64, nlb, {}), back,
                                                            [&](const CommandResult& y) { rd = y; })
                                                  .ok());
                                })
                      .ok());
    });
    ASSERT_TRUE(run_until([&] { return rd.has_value(); }));
    EXPECT_TRUE(w->status.ok()) << w->status.ToString();
    EXPECT_TRUE(rd->status.ok()) << rd->status.ToString();
    EXPECT_EQ(back, data) << bytes << " bytes";
  }
  // A few keep-alive intervals pass without the target dropping us.
  const uint64_t ka = ctrl.keep_alives_sent();
  for (int i = 0; i < 3000; ++i) r->RunOnce(std::chrono::milliseconds(2));
  EXPECT_TRUE(ctrl.live());
  std::printf("keep-alives sent: %lu (was %lu)\n", (unsigned long)ctrl.keep_alives_sent(),
              (unsigned long)ka);
  bool deleted = false;
  r->Post([&] { ctrl.Delete([&] { deleted = true; }); });
  ASSERT_TRUE(run_until([&] { return deleted; }));
}

INSTANTIATE_TEST_SUITE_P(Digests, LinuxTargetTest, ::testing::Bool());

}  // namespace
}  // namespace nvmpath::host
