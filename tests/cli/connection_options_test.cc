// The shared connection options of the host subcommands: what a user types becomes the
// ClientOptions the Client API takes, and every bad value is refused with a message naming the
// flag and the value (the CLI prints it as its one error line).
#include "cli/connection_options.h"

#include <gtest/gtest.h>

namespace nvmpath::cli {
namespace {

ConnectionArgs TwoPaths() {
  ConnectionArgs a;
  a.nqn = "nqn.2026-11.io.nvmpath:t";
  a.paths = {"127.0.0.1:4420", "127.0.0.1:4421"};
  return a;
}

TEST(ConnectionOptions, EveryFlagReachesClientOptions) {
  ConnectionArgs a = TwoPaths();
  a.discovery = "127.0.0.1:8009";
  a.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100";
  a.hostid = "0f0e0d0c-0b0a-0908-0706-050403020100";
  a.policy = "queue-depth";
  a.reactors = 3;
  a.hdr_digest = true;
  a.data_digest = true;
  a.queue_size = 64;
  a.keep_alive_tmo = "7";
  a.reconnect_delay = "500ms";
  a.ctrl_loss_tmo = "-1";
  a.fast_io_fail_tmo = "2s";
  a.connect_timeout = "1m";
  a.io_timeout = "3";
  a.no_path_timeout = "250ms";
  a.fence_delay = "40ms";
  a.head_qos = "iops=5000,depth=16";
  a.path_qos = "bw=64MiB/s";
  auto o = ToClientOptions(a);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->subnqn, a.nqn);
  ASSERT_EQ(o->paths.size(), 2u);
  EXPECT_EQ(o->paths[0], (Endpoint{"127.0.0.1", 4420}));
  EXPECT_EQ(o->paths[1], (Endpoint{"127.0.0.1", 4421}));
  ASSERT_TRUE(o->discovery.has_value());
  EXPECT_EQ(*o->discovery, (Endpoint{"127.0.0.1", 8009}));
  EXPECT_EQ(o->hostnqn, a.hostnqn);
  EXPECT_EQ(o->hostid, a.hostid);
  EXPECT_EQ(o->policy, PathPolicy::kQueueDepth);
  EXPECT_EQ(o->io_threads, 3u);
  EXPECT_TRUE(o->hdr_digest);
  EXPECT_TRUE(o->data_digest);
  EXPECT_EQ(o->queue_size, 64);
  EXPECT_EQ(o->keep_alive_tmo, std::chrono::milliseconds(7000));
  EXPECT_EQ(o->reconnect_delay, std::chrono::milliseconds(500));
  EXPECT_EQ(o->ctrl_loss_tmo, std::chrono::milliseconds(-1));
  EXPECT_EQ(o->fast_io_fail_tmo, std::chrono::milliseconds(2000));
  EXPECT_EQ(o->connect_timeout, std::chrono::milliseconds(60000));
  EXPECT_EQ(o->io_timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(o->no_path_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(o->fence_delay, std::chrono::milliseconds(40));
  EXPECT_EQ(o->head_qos, (QosLimits{.depth = 16, .iops = 5000, .bytes_per_s = 0}));
  EXPECT_EQ(o->path_qos, (QosLimits{.depth = 0, .iops = 0, .bytes_per_s = 64ull << 20}));
}

TEST(ConnectionOptions, BadQosNamesTheFlagAndThePart) {
  ConnectionArgs a = TwoPaths();
  a.path_qos = "iops=10,bandwidth=5M/s";
  auto o = ToClientOptions(a);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("--path-qos"), std::string::npos) << o.status().ToString();
  EXPECT_NE(o.status().message().find("unknown key \"bandwidth\""), std::string::npos)
      << o.status().ToString();
  a = TwoPaths();
  a.head_qos = "depth=0";
  o = ToClientOptions(a);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("--head-qos"), std::string::npos) << o.status().ToString();
  EXPECT_NE(o.status().message().find("depth=\"0\""), std::string::npos) << o.status().ToString();
}

TEST(ConnectionOptions, UnsetDurationsKeepTheClientDefaults) {
  auto o = ToClientOptions(TwoPaths());
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  const ClientOptions defaults;
  EXPECT_EQ(o->keep_alive_tmo, defaults.keep_alive_tmo);
  EXPECT_EQ(o->ctrl_loss_tmo, defaults.ctrl_loss_tmo);
  EXPECT_EQ(o->fast_io_fail_tmo, defaults.fast_io_fail_tmo);
  EXPECT_EQ(o->policy, PathPolicy::kNuma);
  EXPECT_EQ(o->fence_delay, defaults.fence_delay);
}

TEST(ConnectionOptions, BadPortNamesTheFlagAndTheValue) {
  ConnectionArgs a = TwoPaths();
  a.paths.push_back("x:99999");
  auto o = ToClientOptions(a);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), Code::kInvalidArgument);
  EXPECT_NE(o.status().message().find("--path 'x:99999'"), std::string::npos)
      << o.status().message();
  EXPECT_NE(o.status().message().find("99999"), std::string::npos);
}

TEST(ConnectionOptions, BadAddressNamesTheFlag) {
  ConnectionArgs a = TwoPaths();
  a.discovery = "no_host:8009";
  auto o = ToClientOptions(a);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("--discovery 'no_host:8009'"), std::string::npos)
      << o.status().message();
  a.discovery.clear();
  a.persistent = true;
  o = ToClientOptions(a);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("--persistent needs --discovery"), std::string::npos)
      << o.status().message();
}

TEST(ConnectionOptions, UnknownPolicyListsTheValidNames) {
  ConnectionArgs a = TwoPaths();
  a.policy = "bogus";
  auto o = ToClientOptions(a);
  ASSERT_FALSE(o.ok());
  const std::string& m = o.status().message();
  EXPECT_NE(m.find("--policy 'bogus'"), std::string::npos) << m;
  for (const char* name : {"numa", "round-robin", "queue-depth"}) {
    EXPECT_NE(m.find(name), std::string::npos) << m;
  }
}

TEST(ConnectionOptions, NoPathOrNoNqnIsRefused) {
  ConnectionArgs a = TwoPaths();
  a.paths.clear();
  auto o = ToClientOptions(a);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("--path"), std::string::npos);
  EXPECT_NE(o.status().message().find("--discovery"), std::string::npos);

  a = TwoPaths();
  a.nqn.clear();
  o = ToClientOptions(a);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("--nqn"), std::string::npos) << o.status().message();

  // With discovery, the NQN may come from the discovery log.
  a.paths.clear();
  a.discovery = "127.0.0.1:8009";
  EXPECT_TRUE(ToClientOptions(a).ok());
}

TEST(ConnectionOptions, BadDurationsNameFlagAndText) {
  struct Case {
    std::string ConnectionArgs::*field;
    const char* text;
    const char* flag;
  };
  for (const Case& c : {Case{&ConnectionArgs::keep_alive_tmo, "0", "--keep-alive-tmo"},
                        Case{&ConnectionArgs::keep_alive_tmo, "-1", "--keep-alive-tmo"},
                        Case{&ConnectionArgs::reconnect_delay, "5h", "--reconnect-delay"},
                        Case{&ConnectionArgs::ctrl_loss_tmo, "-5", "--ctrl-loss-tmo"},
                        Case{&ConnectionArgs::io_timeout, "soon", "--io-timeout"}}) {
    ConnectionArgs a = TwoPaths();
    a.*c.field = c.text;
    auto o = ToClientOptions(a);
    ASSERT_FALSE(o.ok()) << c.flag << " " << c.text;
    EXPECT_NE(o.status().message().find(std::string(c.flag) + " '" + c.text + "'"),
              std::string::npos)
        << o.status().message();
  }
}

TEST(ParseDuration, UnitsAndNegativeOne) {
  EXPECT_EQ(*ParseDuration("10", "--x", false), std::chrono::milliseconds(10000));
  EXPECT_EQ(*ParseDuration("10s", "--x", false), std::chrono::milliseconds(10000));
  EXPECT_EQ(*ParseDuration("15ms", "--x", false), std::chrono::milliseconds(15));
  EXPECT_EQ(*ParseDuration("2m", "--x", false), std::chrono::milliseconds(120000));
  EXPECT_EQ(*ParseDuration("-1", "--x", true), std::chrono::milliseconds(-1));
  EXPECT_FALSE(ParseDuration("-1", "--x", false).ok());
  EXPECT_FALSE(ParseDuration("", "--x", false).ok());
  EXPECT_FALSE(ParseDuration("ms", "--x", false).ok());
  EXPECT_FALSE(ParseDuration("99999999999999999m", "--x", false).ok());
}

}  // namespace
}  // namespace nvmpath::cli
