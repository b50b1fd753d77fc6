// host/numa_node: a path's NUMA node from the network device its connection goes through.
#include "host/numa_node.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "reactor/reactor.h"

namespace nvmpath::host {
namespace {

class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvmpath-sysfs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Device(const std::string& ifname, const std::string& numa_text) {
    const auto dir = std::filesystem::path(root_) / "class/net" / ifname / "device";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "numa_node") << numa_text;
  }
  std::string root_;
};

TEST_F(FakeSysfs, ReadsTheDevicesNode) {
  Device("eth7", "1\n");
  Device("eth8", "0\n");
  EXPECT_EQ(NumaNodeOfInterface("eth7", root_), 1);
  EXPECT_EQ(NumaNodeOfInterface("eth8", root_), 0);
}

TEST_F(FakeSysfs, NoNodeWhereTheKernelHasNone) {
  Device("eth9", "-1\n");       // a single-node machine
  Device("bad0", "one\n");      // not a number
  std::filesystem::create_directories(std::filesystem::path(root_) / "class/net/veth0");  // no device
  EXPECT_EQ(NumaNodeOfInterface("eth9", root_), kNoNumaNode);
  EXPECT_EQ(NumaNodeOfInterface("bad0", root_), kNoNumaNode);
  EXPECT_EQ(NumaNodeOfInterface("veth0", root_), kNoNumaNode);
  EXPECT_EQ(NumaNodeOfInterface("missing", root_), kNoNumaNode);
  EXPECT_EQ(NumaNodeOfInterface("", root_), kNoNumaNode);
  EXPECT_EQ(NumaNodeOfInterface("../../etc", root_), kNoNumaNode) << "a name never walks the tree";
}

TEST(NumaNode, LoopbackIsLoAndHasNoNode) {
  EXPECT_EQ(InterfaceOfAddress("127.0.0.1"), "lo");
  EXPECT_EQ(InterfaceOfAddress("192.0.2.77"), "") << "TEST-NET-1 is on no interface here";
  EXPECT_EQ(InterfaceOfAddress(""), "");
  EXPECT_EQ(NumaNodeOfLocalAddress("127.0.0.1"), kNoNumaNode);
  EXPECT_EQ(NumaNodeOfLocalAddress(""), kNoNumaNode);
}

TEST(NumaNode, CurrentCpuHasANode) {
  // Linux reports node 0 on a machine without NUMA.
  EXPECT_GE(reactor::CurrentNumaNode(), 0);
}

}  // namespace
}  // namespace nvmpath::host
