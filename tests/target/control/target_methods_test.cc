// The control plane against the real target core: a TargetRunner (target::Target on a
// reactor::Uring thread, ports on 127.0.0.1 port 0, the control socket in a temp dir), steered
// only through RpcCall, as `nvmpath target-ctl` does. After each change the test reads
// DescribeState (through the "state" method) and checks the
// change is there; where it can, it also checks the network (a disabled port refuses TCP).
#include "target/control/target_methods.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "target/control/config_json.h"
#include "control/rpc_client.h"
#include "target/control/target_runner.h"

namespace nvmpath::target::control {
namespace {

using Json = nlohmann::json;
using nvmpath::control::RpcCall;
constexpr const char* kNqn = "nqn.2026-11.io.nvmpath:demo";

// Whether a TCP connection to 127.0.0.1:port is accepted.
bool TcpConnects(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

class TargetControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/nvmpath-ctl-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    auto config = ParseTargetConfig(R"({
      "ports": [{"id": 1, "port": 0}, {"id": 2, "port": 0}],
      "subsystems": [{"nqn": "nqn.2026-11.io.nvmpath:demo",
                      "namespaces": [{"nsid": 1, "size": "8MiB"}]}],
      "ana": [{"port": 2, "group": 1, "state": "non-optimized"}]
    })");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config->control_socket = dir_ + "/control.sock";
    auto r = TargetRunner::Start(std::move(*config), {.reactors = 2});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    runner_ = std::move(*r);
    socket_ = runner_->control_socket();
  }
  void TearDown() override {
    if (runner_) {
      EXPECT_TRUE(runner_->Shutdown().ok());
    }
    std::filesystem::remove_all(dir_);
  }

  Json Call(const std::string& method, const Json& params) {
    auto r = RpcCall(socket_, method, params);
    EXPECT_TRUE(r.ok()) << method << " " << params << ": " << r.status().ToString();
    return r.ok() ? *r : Json();
  }
  Status CallError(const std::string& method, const Json& params) {
    auto r = RpcCall(socket_, method, params);
    EXPECT_FALSE(r.ok()) << method << " " << params << " succeeded";
    return r.status();
  }
  Json State() { return Call("state", Json::object()); }
  static const Json* Find(const Json& array, const char* key, const Json& value) {
    for (const Json& e : array) {
      if (e.contains(key) && e[key] == value) return &e;
    }
    return nullptr;
  }
  std::string AnaState(const Json& state, uint16_t port, uint32_t group) {
    const Json* p = Find(state["ports"], "id", port);
    if (p == nullptr) return "no port";
    const Json* g = Find((*p)["ana"], "group", group);
    return g == nullptr ? "no group" : (*g)["state"].get<std::string>();
  }
  const Json* Namespace(const Json& state, uint32_t nsid) {
    const Json* s = Find(state["subsystems"], "nqn", kNqn);
    return s == nullptr ? nullptr : Find((*s)["namespaces"], "nsid", nsid);
  }

  std::string dir_;
  std::string socket_;
  std::unique_ptr<TargetRunner> runner_;
};

TEST_F(TargetControlTest, RunnerReportsBoundPortsThatAcceptTcp) {
  ASSERT_EQ(runner_->ports().size(), 2u);
  for (const auto& p : runner_->ports()) {
    EXPECT_NE(p.bound_port, 0) << "port " << p.id;
    EXPECT_TRUE(TcpConnects(p.bound_port)) << "port " << p.id;
  }
}

TEST_F(TargetControlTest, StateShowsTheConfig) {
  Json over_rpc = State();
  EXPECT_EQ(AnaState(over_rpc, 1, 1), "optimized");
  EXPECT_EQ(AnaState(over_rpc, 2, 1), "non-optimized");
  ASSERT_NE(Namespace(over_rpc, 1), nullptr);
  EXPECT_EQ((*Namespace(over_rpc, 1))["size_bytes"], 8u << 20);
}

TEST_F(TargetControlTest, AnaSetChangesThePortsGroupState) {
  Json echo = Call("ana_set", {{"port", 2}, {"group", 1}, {"state", "inaccessible"}});
  EXPECT_EQ(echo["state"], "inaccessible");
  Json s = State();
  EXPECT_EQ(AnaState(s, 2, 1), "inaccessible");
  EXPECT_EQ(AnaState(s, 1, 1), "optimized");  // the other port is untouched
  Call("ana_set", {{"port", 1}, {"group", 1}, {"state", "change"}});
  EXPECT_EQ(AnaState(State(), 1, 1), "change");
}

TEST_F(TargetControlTest, NsRemoveAddResize) {
  Call("ns_remove", {{"subsystem", kNqn}, {"nsid", 1}});
  EXPECT_EQ(Namespace(State(), 1), nullptr);
  Status gone = CallError("ns_remove", {{"subsystem", kNqn}, {"nsid", 1}});
  EXPECT_NE(gone.code(), Code::kOk);

  Call("ns_add",
       {{"subsystem", kNqn}, {"namespace", {{"nsid", 5}, {"size", "4MiB"}, {"block_size", 4096}}}});
  Json s = State();
  ASSERT_NE(Namespace(s, 5), nullptr);
  EXPECT_EQ((*Namespace(s, 5))["size_bytes"], 4u << 20);
  EXPECT_EQ((*Namespace(s, 5))["block_size"], 4096);

  Call("ns_resize", {{"subsystem", kNqn}, {"nsid", 5}, {"size", "16MiB"}});
  EXPECT_EQ((*Namespace(State(), 5))["size_bytes"], 16u << 20);
}

TEST_F(TargetControlTest, NsDetachAndAttachOnePort) {
  Json echo = Call("ns_detach", {{"subsystem", kNqn}, {"nsid", 1}, {"port", 2}});
  EXPECT_EQ(echo["port"], 2);
  EXPECT_EQ((*Namespace(State(), 1))["detached_ports"], Json::array({2}));
  Call("ns_attach", {{"subsystem", kNqn}, {"nsid", 1}, {"port", 2}});
  EXPECT_EQ((*Namespace(State(), 1))["detached_ports"], Json::array());
  Status no_port = CallError("ns_detach", {{"subsystem", kNqn}, {"nsid", 1}, {"port", 9}});
  EXPECT_NE(no_port.message().find("port 9"), std::string::npos) << no_port.ToString();
  Status missing = CallError("ns_attach", {{"subsystem", kNqn}, {"nsid", 1}});
  EXPECT_NE(missing.message().find("port"), std::string::npos) << missing.ToString();
}

TEST_F(TargetControlTest, PortDisableStopsListeningAndEnableComesBack) {
  uint16_t bound = runner_->ports()[1].bound_port;
  ASSERT_TRUE(TcpConnects(bound));
  Call("port_disable", {{"port", 2}});
  Json s = State();
  const Json* p2 = Find(s["ports"], "id", 2);
  ASSERT_NE(p2, nullptr);
  EXPECT_EQ((*p2)["enabled"], false);
  EXPECT_EQ((*p2)["bound_port"], 0);
  EXPECT_FALSE(TcpConnects(bound));
  EXPECT_EQ((*Find(s["ports"], "id", 1))["enabled"], true);

  Call("port_enable", {{"port", 2}});
  Json after = State();
  const Json* again = Find(after["ports"], "id", 2);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ((*again)["enabled"], true);
  EXPECT_TRUE(TcpConnects((*again)["bound_port"].get<uint16_t>()));
}

// port_add / port_remove (issue 14): a port comes and goes at run time, on IPv4 or IPv6.
TEST_F(TargetControlTest, PortAddListensAndPortRemoveStops) {
  Json added = Call("port_add", {{"port", 3}, {"address", "127.0.0.1:0"}});
  EXPECT_EQ(added["port"], 3);
  EXPECT_EQ(added["address"], "127.0.0.1");
  EXPECT_EQ(added["ana_state"], "optimized");
  const uint16_t bound = added["bound_port"].get<uint16_t>();
  ASSERT_NE(bound, 0);
  EXPECT_TRUE(TcpConnects(bound));
  Json s = State();
  const Json* p3 = Find(s["ports"], "id", 3);
  ASSERT_NE(p3, nullptr);
  EXPECT_EQ((*p3)["bound_port"], bound);
  EXPECT_EQ(AnaState(s, 3, 1), "optimized");
  const uint64_t gen = s["discovery_genctr"];

  Json v6 = Call("port_add", {{"port", 4}, {"address", "[::1]:0"}, {"ana_state", "inaccessible"}});
  EXPECT_EQ(v6["address"], "::1");
  EXPECT_EQ(v6["ana_state"], "inaccessible");
  EXPECT_EQ(AnaState(State(), 4, 1), "inaccessible");

  EXPECT_EQ(Call("port_remove", {{"port", 3}})["port"], 3);
  EXPECT_FALSE(TcpConnects(bound));
  Json after = State();
  EXPECT_EQ(Find(after["ports"], "id", 3), nullptr);
  EXPECT_NE(Find(after["ports"], "id", 4), nullptr);
  EXPECT_GT(after["discovery_genctr"].get<uint64_t>(), gen);
}

TEST_F(TargetControlTest, PortAddAndRemoveBadInputIsNamed) {
  auto message = [&](const Json& params) { return CallError("port_add", params).message(); };
  EXPECT_EQ(message({{"port", 3}}), "invalid params: address: missing");
  EXPECT_EQ(message({{"address", "127.0.0.1:0"}}),
            "invalid params: port: missing (an integer 1..65535)");
  EXPECT_EQ(message({{"port", 0}, {"address", "127.0.0.1:0"}}),
            "invalid params: port: expected an integer 1..65535, got 0");
  EXPECT_EQ(message({{"port", 3}, {"adress", "127.0.0.1:0"}}),
            "invalid params: adress: unknown field (did you mean \"address\"?)");
  EXPECT_EQ(message({{"port", 3}, {"address", "127.0.0.1"}}),
            "invalid params: address: '127.0.0.1': no :PORT (as in 127.0.0.1:4420)");
  EXPECT_EQ(message({{"port", 3}, {"address", "::1:4420"}}),
            "invalid params: address: '::1:4420': an IPv6 address goes in brackets, as "
            "[::1]:4420");
  EXPECT_EQ(message({{"port", 3}, {"address", "::1"}}),
            "invalid params: address: '::1': no :PORT (as in [::1]:4420)");
  EXPECT_EQ(message({{"port", 3}, {"address", "[::1:4420"}}),
            "invalid params: address: '[::1:4420': no closing ']'");
  EXPECT_EQ(message({{"port", 3}, {"address", "[::1]"}}),
            "invalid params: address: '[::1]': no :PORT after the address (as in [::1]:4420)");
  EXPECT_EQ(message({{"port", 3}, {"address", "localhost:99999"}}),
            "invalid params: address: 'localhost:99999': '99999' is not a TCP port (0..65535)");
  EXPECT_EQ(message({{"port", 3}, {"address", ":4420"}}),
            "invalid params: address: ':4420': no address before :4420");
  EXPECT_EQ(message({{"port", 3}, {"address", "a b:4420"}}),
            "invalid params: address: 'a b' is not an IPv4 or IPv6 address or a host name");
  EXPECT_EQ(message({{"port", 3}, {"address", "127.0.0.1:0"}, {"ana_state", "optimised"}}),
            "invalid params: ana_state: \"optimised\" is not an ANA state (optimized, "
            "non-optimized, inaccessible, persistent-loss, change)");
  Status dup = CallError("port_add", {{"port", 1}, {"address", "127.0.0.1:0"}});
  EXPECT_EQ(dup.code(), Code::kAlreadyExists) << dup.ToString();
  EXPECT_NE(dup.message().find("port 1 exists"), std::string::npos) << dup.message();
  const uint16_t taken = runner_->ports()[0].bound_port;
  Status used = CallError("port_add", {{"port", 3}, {"address", "127.0.0.1:" + std::to_string(taken)}});
  EXPECT_EQ(used.code(), Code::kAlreadyExists) << used.ToString();
  EXPECT_NE(used.message().find("is already used by port 1"), std::string::npos) << used.message();
  Status unknown = CallError("port_remove", {{"port", 9}});
  EXPECT_EQ(unknown.code(), Code::kNotFound);
  EXPECT_NE(unknown.message().find("port 9"), std::string::npos) << unknown.message();
  // Nothing of that left a port behind.
  EXPECT_EQ(State()["ports"].size(), 2u);
}

TEST_F(TargetControlTest, FaultsShowInTheState) {
  Call("delay", {{"port", 1}, {"ms", 25}});
  Call("stall", {{"on", true}});
  Json echo = Call("fail_next", {{"count", 3}, {"status", "0x302"}, {"opcode", "write"}});
  EXPECT_EQ(echo["status"], "0x302");
  Call("late_writes", {{"port", 2}, {"count", 1}, {"delay_ms", 500}});
  Json f = State()["faults"];
  EXPECT_EQ(f["delay_ms_by_port"]["1"], 25.0);
  EXPECT_EQ(f["stalled_all"], true);
  ASSERT_EQ(f["fail_next"].size(), 1u);
  EXPECT_EQ(f["fail_next"][0]["count"], 3);
  EXPECT_EQ(f["fail_next"][0]["status"], 0x302);
  EXPECT_EQ(f["fail_next"][0]["opcode"], 1);
  EXPECT_EQ(f["late_writes"]["2"]["count"], 1);
  Call("stall", {{"on", false}});
  EXPECT_EQ(State()["faults"]["stalled_all"], false);
}

TEST_F(TargetControlTest, FailNextStatusByName) {
  Json echo = Call("fail_next", {{"count", 1}, {"status", "ana-inaccessible"}, {"dnr", true}});
  EXPECT_EQ(echo["status"], "0x302");
  Json f = State()["faults"]["fail_next"];
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]["status"], 0x302 | (1 << 14));  // DNR rides in the status field
}

TEST_F(TargetControlTest, BadParamsAreNamedAndTargetErrorsPassThrough) {
  Status s = CallError("ns_add", {{"subsystem", kNqn}, {"namespace", {{"size", "4MiB"}}}});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "invalid params: namespace.nsid: missing (1..4294967294)");
  s = CallError("ana_set", {{"port", 2}, {"group", 1}, {"state", "optimised"}});
  EXPECT_EQ(s.message(),
            "invalid params: state: \"optimised\" is not an ANA state (optimized, non-optimized, "
            "inaccessible, persistent-loss, change)");
  s = CallError("ana_set", {{"prot", 2}, {"group", 1}, {"state", "optimized"}});
  EXPECT_EQ(s.message(), "invalid params: prot: unknown field (did you mean \"port\"?)");
  s = CallError("fail_next", {{"count", 1}, {"status", 0}});
  EXPECT_EQ(s.message(),
            "invalid params: status: 0 is success; give an error status such as 0x302");
  s = CallError("port_disable", {{"port", 9}});
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("port 9"), std::string::npos) << s.message();
  s = CallError("ns_remove", {{"subsystem", "nqn.2026-11.io.nvmpath:nope"}, {"nsid", 1}});
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  // The target is still fine after all of that.
  EXPECT_EQ(AnaState(State(), 2, 1), "non-optimized");
}

TEST_F(TargetControlTest, ShutdownRemovesTheControlSocket) {
  ASSERT_TRUE(std::filesystem::exists(socket_));
  ASSERT_TRUE(runner_->Shutdown().ok());
  EXPECT_FALSE(std::filesystem::exists(socket_));
  EXPECT_EQ(RpcCall(socket_, "state", Json::object()).status().code(), Code::kUnavailable);
  runner_.reset();
}

TEST(TargetRunner, StartErrorsLeaveNothingRunning) {
  TargetConfig c;
  c.ports.push_back(PortConfig{.id = 1, .address = "127.0.0.1", .port = 0});
  auto bad_reactors = TargetRunner::Start(c, {.reactors = 0});
  ASSERT_FALSE(bad_reactors.ok());
  EXPECT_EQ(bad_reactors.status().message(), "reactors: 0 is not in 1..64");

  // Two ports on the same fixed TCP port: the second cannot bind.
  auto first = TargetRunner::Start(c, {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  TargetConfig clash;
  clash.ports.push_back(
      PortConfig{.id = 7, .address = "127.0.0.1", .port = (*first)->ports()[0].bound_port});
  auto second = TargetRunner::Start(clash, {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("port 7"), std::string::npos)
      << second.status().ToString();
  EXPECT_TRUE((*first)->Shutdown().ok());
}

}  // namespace
}  // namespace nvmpath::target::control
