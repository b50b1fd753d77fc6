// The JSON the host's control socket answers with, from synthetic snapshots: list_subsys field by
// field against nvme-cli's names, show_topology's usable / why_not / ana_group / in_flight, stats
// with its ops, error classes, latency percentiles (us), failover gaps and last error; then the
// readable forms `nvmpath host-ctl` prints from them.
#include "cli/host_methods.h"

#include <gtest/gtest.h>

#include <string>

#include "cli/host_ctl_command.h"

namespace nvmpath::cli {
namespace {

using Json = nlohmann::json;

constexpr const char* kNqn = "nqn.2026-12.io.nvmpath:m";
// 2026-12-07T20:46:51.123456789Z
constexpr int64_t kErrorAt = 1796676411'123456789;

LatencySummary Latency(uint64_t count, uint64_t p50, uint64_t p99, uint64_t p999, uint64_t max) {
  return LatencySummary{.count = count,
                        .sum_ns = count * p50,
                        .p50_ns = p50,
                        .p99_ns = p99,
                        .p999_ns = p999,
                        .max_ns = max};
}

SubsystemSnapshot Synthetic() {
  SubsystemSnapshot s;
  s.index = 2;
  s.policy = "round-robin";
  s.hostid = "6a1c9e0b-2f4d-4c8e-9b1a-0d3e5f7a9c2b";
  s.info.subnqn = kNqn;
  s.info.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:6a1c9e0b-2f4d-4c8e-9b1a-0d3e5f7a9c2b";
  s.info.controllers = {
      ControllerInfo{.name = "127.0.0.1:4420", .endpoint = {"127.0.0.1", 4420}, .state = "live"},
      ControllerInfo{.name = "[::1]:4421", .endpoint = {"::1", 4421}, .state = "connecting"}};
  DeviceInfo d;
  d.nsid = 3;
  d.name = std::string(kNqn) + ":ns3";
  d.capacity_blocks = 2048;
  d.block_size = 4096;
  d.paths = {PathInfo{.name = "127.0.0.1:4420",
                      .controller_state = "live",
                      .ana_state = "optimized",
                      .ready = true,
                      .usable = true,
                      .ana_group = 1},
             PathInfo{.name = "[::1]:4421",
                      .controller_state = "connecting",
                      .ana_state = "inaccessible",
                      .ana_group = 2,
                      .unusable_reason = "controller connecting"}};
  s.info.devices.push_back(d);
  s.info.problems = {"ns 3: identifiers differ"};

  DeviceCounters c;
  c.submitted = 100;
  c.completed = 98;
  c.errors = 2;
  c.failovers = 6;
  c.retries = 1;
  c.requeues = 4;
  c.no_path = 2;
  c.outstanding = 0;
  c.ops = {.read = {60, 245760}, .write = {39, 159744}, .other = {1, 0}};
  c.errors_by_class = {.no_path = 2};
  c.latency = Latency(98, 40'000, 900'000, 2'000'000, 2'500'000);
  c.failover_gap = Latency(6, 300'000, 800'000, 800'000, 812'500);
  c.last_error = {.unix_ns = kErrorAt, .error_class = "no_path", .status = "no usable path"};
  PathCounters p1{.ios = 95, .bytes = 389120, .in_flight = 3};
  p1.failovers_in = 6;
  p1.ops = {.read = {60, 245760}, .write = {35, 143360}};
  p1.latency = Latency(95, 35'000, 120'000, 150'000, 151'000);
  PathCounters p2{.ios = 10, .bytes = 16384, .errors = 6, .failovers = 6};
  p2.ops = {.write = {4, 16384}, .other = {6, 0}};
  p2.errors_by_class = {.host_aborted = 6};
  p2.latency = Latency(10, 50'000, 500'000, 500'000, 510'000);
  p2.failover_gap = c.failover_gap;
  p2.last_error = {.unix_ns = kErrorAt - 1'000'000'000,
                   .error_class = "host_aborted",
                   .status = "connection lost"};
  c.paths = {{"127.0.0.1:4420", p1}, {"[::1]:4421", p2}};
  s.counters.emplace_back(3, c);
  return s;
}

TEST(HostMethods, ListSubsysHasNvmeCliNamesFieldByField) {
  const Json j = ListSubsysJson({Synthetic()});
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  const Json& host = j[0];
  EXPECT_EQ(host["HostNQN"],
            "nqn.2014-08.org.nvmexpress:uuid:6a1c9e0b-2f4d-4c8e-9b1a-0d3e5f7a9c2b");
  EXPECT_EQ(host["HostID"], "6a1c9e0b-2f4d-4c8e-9b1a-0d3e5f7a9c2b");
  ASSERT_EQ(host["Subsystems"].size(), 1u);
  const Json& s = host["Subsystems"][0];
  EXPECT_EQ(s["Name"], "nvmpath2");
  EXPECT_EQ(s["NQN"], kNqn);
  EXPECT_EQ(s["IOPolicy"], "round-robin");
  ASSERT_EQ(s["Paths"].size(), 2u);
  const Json& p1 = s["Paths"][0];
  EXPECT_EQ(p1["Name"], "127.0.0.1:4420");
  EXPECT_EQ(p1["Transport"], "tcp");
  EXPECT_EQ(p1["Address"], "traddr=127.0.0.1,trsvcid=4420");
  EXPECT_EQ(p1["State"], "live");
  EXPECT_EQ(p1["ANAState"], "optimized");
  const Json& p2 = s["Paths"][1];
  EXPECT_EQ(p2["Address"], "traddr=::1,trsvcid=4421") << "traddr is the address alone";
  EXPECT_EQ(p2["State"], "connecting");
  EXPECT_EQ(p2["ANAState"], "inaccessible");
  // Exactly nvme-cli's keys, nothing else.
  EXPECT_EQ(host.size(), 3u);
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(p1.size(), 5u);
}

TEST(HostMethods, ListSubsysGroupsSubsystemsByHostIdentity) {
  SubsystemSnapshot other = Synthetic();
  other.index = 3;
  other.info.subnqn = "nqn.2026-12.io.nvmpath:other";
  SubsystemSnapshot foreign = Synthetic();
  foreign.index = 4;
  foreign.hostid = "00000000-0000-0000-0000-000000000001";
  const Json j = ListSubsysJson({Synthetic(), other, foreign});
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["Subsystems"].size(), 2u);
  EXPECT_EQ(j[0]["Subsystems"][1]["Name"], "nvmpath3");
  EXPECT_EQ(j[1]["HostID"], "00000000-0000-0000-0000-000000000001");
  EXPECT_EQ(j[1]["Subsystems"][0]["Name"], "nvmpath4");
}

TEST(HostMethods, ListSubsysLeavesOutAnaStateOfAControllerWithoutNamespace) {
  SubsystemSnapshot s = Synthetic();
  s.info.devices.clear();
  const Json p = ListSubsysJson({s})[0]["Subsystems"][0]["Paths"][0];
  EXPECT_FALSE(p.contains("ANAState"));
  EXPECT_EQ(p["State"], "live");
}

TEST(HostMethods, TopologyShowsUsableWhyNotGroupAndInFlight) {
  const Json j = TopologyJson({Synthetic()});
  ASSERT_EQ(j["subsystems"].size(), 1u);
  const Json& s = j["subsystems"][0];
  EXPECT_EQ(s["subsystem"], 2);
  EXPECT_EQ(s["nqn"], kNqn);
  EXPECT_EQ(s["policy"], "round-robin");
  EXPECT_EQ(s["problems"], Json::array({"ns 3: identifiers differ"}));
  ASSERT_EQ(s["heads"].size(), 1u);
  const Json& h = s["heads"][0];
  EXPECT_EQ(h["name"], "nvmpath2n3");
  EXPECT_EQ(h["nsid"], 3);
  EXPECT_EQ(h["capacity_bytes"], 2048u * 4096);
  EXPECT_EQ(h["block_size"], 4096);
  EXPECT_EQ(h["in_flight"], 0);
  ASSERT_EQ(h["paths"].size(), 2u);
  const Json& p1 = h["paths"][0];
  EXPECT_EQ(p1["path"], "127.0.0.1:4420");
  EXPECT_EQ(p1["controller_state"], "live");
  EXPECT_EQ(p1["ana_state"], "optimized");
  EXPECT_EQ(p1["ana_group"], 1);
  EXPECT_EQ(p1["usable"], true);
  EXPECT_EQ(p1["why_not"], "");
  EXPECT_EQ(p1["in_flight"], 3) << "from the path's counters";
  const Json& p2 = h["paths"][1];
  EXPECT_EQ(p2["usable"], false);
  EXPECT_EQ(p2["why_not"], "controller connecting");
  EXPECT_EQ(p2["ana_group"], 2);
  EXPECT_EQ(p2["in_flight"], 0);
}

TEST(HostMethods, StatsPerHeadHasTheNewFieldsAndKeepsTheOldKeys) {
  const Json j = StatsJson({Synthetic()});
  ASSERT_EQ(j["heads"].size(), 1u);
  const Json& h = j["heads"][0];
  EXPECT_EQ(h["name"], "nvmpath2n3");
  EXPECT_EQ(h["nqn"], kNqn);
  for (const char* key : {"submitted", "completed", "errors", "failovers", "retries", "requeues",
                          "no_path", "in_flight", "qos"}) {
    EXPECT_TRUE(h.contains(key)) << key;
  }
  EXPECT_EQ(h["submitted"], 100);
  EXPECT_EQ(h["requeues"], 4);
  EXPECT_EQ(h["ops"]["read"]["ios"], 60);
  EXPECT_EQ(h["ops"]["write"]["bytes"], 159744);
  EXPECT_EQ(h["ops"]["other"]["ios"], 1);
  // Every class of a head, 0 included.
  EXPECT_EQ(h["errors_by_class"].size(), 9u);
  EXPECT_EQ(h["errors_by_class"]["no_path"], 2);
  EXPECT_EQ(h["errors_by_class"]["rejected"], 0);
  EXPECT_EQ(h["errors_by_class"]["host_aborted"], 0);
  const Json& lat = h["latency"];
  EXPECT_EQ(lat["count"], 98);
  EXPECT_DOUBLE_EQ(lat["mean_us"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(lat["p50_us"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(lat["p99_us"].get<double>(), 900.0);
  EXPECT_DOUBLE_EQ(lat["p999_us"].get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(lat["max_us"].get<double>(), 2500.0);
  const Json& gap = h["failover_gap"];
  EXPECT_EQ(gap["count"], 6);
  EXPECT_DOUBLE_EQ(gap["p50_us"].get<double>(), 300.0);
  EXPECT_DOUBLE_EQ(gap["p99_us"].get<double>(), 800.0);
  EXPECT_DOUBLE_EQ(gap["max_us"].get<double>(), 812.5);
  const Json& e = h["last_error"];
  EXPECT_EQ(e["time"], "2026-12-07T20:46:51.123456Z");
  EXPECT_EQ(e["unix_ns"], kErrorAt);
  EXPECT_EQ(e["class"], "no_path");
  EXPECT_EQ(e["status"], "no usable path");
}

TEST(HostMethods, StatsPerPath) {
  const Json j = StatsJson({Synthetic()});
  const Json& paths = j["heads"][0]["paths"];
  ASSERT_EQ(paths.size(), 2u);
  const Json& p1 = paths[0];
  EXPECT_EQ(p1["path"], "127.0.0.1:4420");
  for (const char* key : {"ios", "bytes", "errors", "failovers", "retries", "in_flight", "qos"}) {
    EXPECT_TRUE(p1.contains(key)) << key;
  }
  EXPECT_EQ(p1["ios"], 95);
  EXPECT_EQ(p1["in_flight"], 3);
  EXPECT_EQ(p1["failovers_in"], 6);
  EXPECT_EQ(p1["failovers"], 0);
  EXPECT_EQ(p1["ops"]["write"]["ios"], 35);
  EXPECT_DOUBLE_EQ(p1["latency"]["p99_us"].get<double>(), 120.0);
  EXPECT_EQ(p1["failover_gap"]["count"], 0);
  EXPECT_TRUE(p1["last_error"].is_null()) << "no error yet";
  // A path counts only the classes an attempt can end with.
  EXPECT_EQ(p1["errors_by_class"].size(), 7u);
  EXPECT_FALSE(p1["errors_by_class"].contains("no_path"));
  const Json& p2 = paths[1];
  EXPECT_EQ(p2["path"], "[::1]:4421");
  EXPECT_EQ(p2["failovers"], 6);
  EXPECT_EQ(p2["errors_by_class"]["host_aborted"], 6);
  EXPECT_EQ(p2["failover_gap"]["count"], 6);
  EXPECT_EQ(p2["last_error"]["time"], "2026-12-07T20:46:50.123456Z");
  EXPECT_EQ(p2["last_error"]["class"], "host_aborted");
}

TEST(HostCtlFormat, StatsOfAPathWithoutIoHasNoPercentiles) {
  SubsystemSnapshot s = Synthetic();
  s.counters[0].second.paths[0].second.latency = LatencySummary{};
  const std::string t = FormatStats(StatsJson({s}));
  EXPECT_NE(t.find("  127.0.0.1:4420: ios 95 bytes 389120 errors 0 failovers 0 in 6 retries 0 "
                   "in_flight 3 | read 60/245760 B write 35/143360 B other 0/0 B | lat us -\n"),
            std::string::npos)
      << t;
}

TEST(HostCtlFormat, StatsFromAHostWithoutTheNewKeysStillPrints) {
  // An older host's answer: the keys this version added are missing, or of another type.
  Json old = StatsJson({Synthetic()});
  Json& h = old["heads"][0];
  for (const char* key : {"ops", "errors_by_class", "latency", "failover_gap", "last_error"}) {
    h.erase(key);
  }
  h["paths"][0].erase("failovers_in");
  h["paths"][0]["latency"] = {{"count", 1}, {"p50_us", "x"}};
  h["paths"][1]["last_error"] = 7;
  const std::string t = FormatStats(old);
  EXPECT_NE(t.find("nvmpath2n3 (nqn.2026-12.io.nvmpath:m): submitted 100 completed 98 errors 2 "
                   "failovers 6"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("lat us -"), std::string::npos) << t;
  EXPECT_NE(t.find("in null"), std::string::npos) << t;
  EXPECT_NE(t.find("lat us p50 x p99 null"), std::string::npos) << t;
}

TEST(HostMethods, StatsOfNoHeads) {
  EXPECT_EQ(StatsJson({}), (Json{{"heads", Json::array()}}));
  EXPECT_EQ(FormatStats(StatsJson({})), "(no heads)\n");
}

TEST(HostCtlFormat, ListSubsysReadsLikeNvmeCli) {
  const std::string t = FormatListSubsys(ListSubsysJson({Synthetic()}));
  EXPECT_EQ(t,
            "nvmpath2 - NQN=nqn.2026-12.io.nvmpath:m\n"
            "           hostnqn=nqn.2014-08.org.nvmexpress:uuid:"
            "6a1c9e0b-2f4d-4c8e-9b1a-0d3e5f7a9c2b\n"
            "           iopolicy=round-robin\n"
            "\\\n"
            " +- 127.0.0.1:4420 tcp traddr=127.0.0.1,trsvcid=4420 live optimized\n"
            " +- [::1]:4421 tcp traddr=::1,trsvcid=4421 connecting inaccessible\n");
}

TEST(HostCtlFormat, Topology) {
  const std::string t = FormatTopology(TopologyJson({Synthetic()}));
  EXPECT_EQ(t,
            "nvmpath2 nqn.2026-12.io.nvmpath:m policy=round-robin\n"
            "  nvmpath2n3 nsid 3 8388608 B, 0 in flight\n"
            "    127.0.0.1:4420 ctrl live ana optimized group 1 usable in_flight 3\n"
            "    [::1]:4421 ctrl connecting ana inaccessible group 2 unusable (controller "
            "connecting) in_flight 0\n"
            "  problem: ns 3: identifiers differ\n");
}

TEST(HostCtlFormat, StatsIsOneLinePerHeadAndPathPlusLastErrors) {
  const std::string t = FormatStats(StatsJson({Synthetic()}));
  EXPECT_EQ(t,
            "nvmpath2n3 (nqn.2026-12.io.nvmpath:m): submitted 100 completed 98 errors 2 "
            "(no_path 2) failovers 6 retries 1 requeues 4 no_path 2 in_flight 0 | read "
            "60/245760 B write 39/159744 B other 1/0 B | lat us p50 40.0 p99 900.0 p99.9 2000.0 "
            "max 2500.0; gap us p50 300.0 p99 800.0 max 812.5\n"
            "  last error 2026-12-07T20:46:51.123456Z no_path: no usable path\n"
            "  127.0.0.1:4420: ios 95 bytes 389120 errors 0 failovers 0 in 6 retries 0 "
            "in_flight 3 | read 60/245760 B write 35/143360 B other 0/0 B | lat us p50 35.0 p99 "
            "120.0 p99.9 150.0 max 151.0\n"
            "  [::1]:4421: ios 10 bytes 16384 errors 6 (host_aborted 6) failovers 6 in 0 "
            "retries 0 in_flight 0 | read 0/0 B write 4/16384 B other 6/0 B | lat us p50 50.0 "
            "p99 500.0 p99.9 500.0 max 510.0; gap us p50 300.0 p99 800.0 max 812.5\n"
            "    last error 2026-12-07T20:46:50.123456Z host_aborted: connection lost\n");
}

}  // namespace
}  // namespace nvmpath::cli
