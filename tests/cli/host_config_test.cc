// The config file of `nvmpath host`: a valid file becomes one ClientOptions per subsystem plus
// the exports, and every mistake comes back as one kInvalidArgument line that starts with the
// path of the field ("subsystems[1].paths[0]: ...").
#include "cli/host_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nvmpath::cli {
namespace {

using std::chrono::milliseconds;

constexpr const char* kFull = R"({
  "hostnqn": "nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100",
  "hostid": "0f0e0d0c-0b0a-0908-0706-050403020100",
  "io_threads": 3,
  "exports": {"nbd": ["unix:/run/nvmpath.sock", "127.0.0.1:10809"], "fuse": "/mnt/nvmpath"},
  "subsystems": [
    {
      "nqn": "nqn.2024-01.io.nvmpath:demo",
      "paths": ["127.0.0.1:4420", "127.0.0.1:4421"],
      "discovery": "127.0.0.1:8009",
      "hostnqn": "nqn.2024-01.io.nvmpath:host-a",
      "hostid": "4f1c0a2e-9b7d-4c3a-8e21-6d5f0b9a7c13",
      "policy": "queue-depth",
      "hdr_digest": true,
      "data_digest": true,
      "queue_size": 64,
      "keep_alive_tmo": "7s",
      "reconnect_delay": "500ms",
      "ctrl_loss_tmo": -1,
      "fast_io_fail_tmo": "2s",
      "io_timeout": 45,
      "no_path_timeout": "1m",
      "connect_timeout": "20",
      "fence_delay": "250ms",
      "queue_if_no_path": false,
      "head_qos": "iops=1000",
      "path_qos": "depth=4,bw=8MiB/s"
    },
    {"nqn": "nqn.2024-01.io.nvmpath:second", "paths": ["127.0.0.2"]}
  ]
})";

// The message of a config that must fail, after checking the code is kInvalidArgument.
std::string ErrorOf(std::string_view text) {
  auto c = ParseHostConfig(text);
  if (c.ok()) return "<parsed OK>";
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument) << c.status().ToString();
  return c.status().message();
}

// One subsystem object (without braces) inside an otherwise valid config.
std::string WithSubsystem(std::string_view fields) {
  return "{\"subsystems\": [{" + std::string(fields) + "}]}";
}

// A valid subsystem plus `extra` fields.
std::string WithField(std::string_view extra) {
  return WithSubsystem(R"("nqn": "nqn.2024-01.io.nvmpath:t", "paths": ["127.0.0.1:4420"], )" +
                       std::string(extra));
}

TEST(HostConfig, FullConfigReachesEveryField) {
  auto c = ParseHostConfig(kFull);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->io_threads, 3u);
  EXPECT_EQ(c->nbd, (std::vector<std::string>{"unix:/run/nvmpath.sock", "127.0.0.1:10809"}));
  EXPECT_EQ(c->fuse, "/mnt/nvmpath");
  ASSERT_EQ(c->subsystems.size(), 2u);

  const ClientOptions& a = c->subsystems[0];
  EXPECT_EQ(a.subnqn, "nqn.2024-01.io.nvmpath:demo");
  EXPECT_EQ(a.paths, (std::vector<Endpoint>{{"127.0.0.1", 4420}, {"127.0.0.1", 4421}}));
  ASSERT_TRUE(a.discovery.has_value());
  EXPECT_EQ(*a.discovery, (Endpoint{"127.0.0.1", 8009}));
  EXPECT_EQ(a.hostnqn, "nqn.2024-01.io.nvmpath:host-a");
  EXPECT_EQ(a.hostid, "4f1c0a2e-9b7d-4c3a-8e21-6d5f0b9a7c13");
  EXPECT_EQ(a.policy, PathPolicy::kQueueDepth);
  EXPECT_EQ(a.io_threads, 3u);
  EXPECT_TRUE(a.hdr_digest);
  EXPECT_TRUE(a.data_digest);
  EXPECT_EQ(a.queue_size, 64);
  EXPECT_EQ(a.keep_alive_tmo, milliseconds(7000));
  EXPECT_EQ(a.reconnect_delay, milliseconds(500));
  EXPECT_EQ(a.ctrl_loss_tmo, milliseconds(-1));
  EXPECT_EQ(a.fast_io_fail_tmo, milliseconds(2000));
  EXPECT_EQ(a.io_timeout, milliseconds(45000));
  EXPECT_EQ(a.no_path_timeout, milliseconds(60000));
  EXPECT_EQ(a.connect_timeout, milliseconds(20000));
  EXPECT_EQ(a.fence_delay, milliseconds(250));
  EXPECT_FALSE(a.queue_if_no_path);
  EXPECT_EQ(a.head_qos, (QosLimits{.depth = 0, .iops = 1000, .bytes_per_s = 0}));
  EXPECT_EQ(a.path_qos, (QosLimits{.depth = 4, .iops = 0, .bytes_per_s = 8u << 20}));

  // The second subsystem takes the top-level host identity and io_threads, "ADDR" means port
  // 4420, and everything else is ClientOptions' default.
  const ClientOptions& b = c->subsystems[1];
  const ClientOptions d;
  EXPECT_EQ(b.subnqn, "nqn.2024-01.io.nvmpath:second");
  EXPECT_EQ(b.paths, (std::vector<Endpoint>{{"127.0.0.2", 4420}}));
  EXPECT_FALSE(b.discovery.has_value());
  EXPECT_EQ(b.hostnqn, "nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100");
  EXPECT_EQ(b.hostid, "0f0e0d0c-0b0a-0908-0706-050403020100");
  EXPECT_EQ(b.io_threads, 3u);
  EXPECT_EQ(b.policy, d.policy);
  EXPECT_EQ(b.queue_size, d.queue_size);
  EXPECT_EQ(b.keep_alive_tmo, d.keep_alive_tmo);
  EXPECT_EQ(b.ctrl_loss_tmo, d.ctrl_loss_tmo);
  EXPECT_EQ(b.fence_delay, d.fence_delay);
  EXPECT_EQ(b.queue_if_no_path, d.queue_if_no_path);
  EXPECT_TRUE(b.head_qos.unlimited());
  EXPECT_TRUE(b.path_qos.unlimited());
}

TEST(HostConfig, MinimalConfigKeepsEveryDefault) {
  auto c = ParseHostConfig(
      R"({"subsystems": [{"nqn": "nqn.2024-01.io.nvmpath:t", "paths": ["127.0.0.1:4420"]}]})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->io_threads, 1u);
  EXPECT_TRUE(c->nbd.empty());
  EXPECT_EQ(c->fuse, "");
  ASSERT_EQ(c->subsystems.size(), 1u);
  const ClientOptions& o = c->subsystems[0];
  const ClientOptions d;
  EXPECT_EQ(o.subnqn, "nqn.2024-01.io.nvmpath:t");
  EXPECT_EQ(o.paths, (std::vector<Endpoint>{{"127.0.0.1", 4420}}));
  EXPECT_EQ(o.hostnqn, "");
  EXPECT_EQ(o.hostid, "");
  EXPECT_EQ(o.io_threads, 1u);
  EXPECT_EQ(o.policy, d.policy);
  EXPECT_EQ(o.hdr_digest, d.hdr_digest);
  EXPECT_EQ(o.data_digest, d.data_digest);
  EXPECT_EQ(o.queue_size, d.queue_size);
  EXPECT_EQ(o.keep_alive_tmo, d.keep_alive_tmo);
  EXPECT_EQ(o.reconnect_delay, d.reconnect_delay);
  EXPECT_EQ(o.ctrl_loss_tmo, d.ctrl_loss_tmo);
  EXPECT_EQ(o.fast_io_fail_tmo, d.fast_io_fail_tmo);
  EXPECT_EQ(o.io_timeout, d.io_timeout);
  EXPECT_EQ(o.no_path_timeout, d.no_path_timeout);
  EXPECT_EQ(o.connect_timeout, d.connect_timeout);
  EXPECT_EQ(o.fence_delay, d.fence_delay);
  EXPECT_EQ(o.queue_if_no_path, d.queue_if_no_path);
  EXPECT_EQ(o.retry_unreachable_paths, d.retry_unreachable_paths);
}

TEST(HostConfig, DiscoveryAloneNeedsNoNqnOrPaths) {
  auto c = ParseHostConfig(R"({"subsystems": [{"discovery": "127.0.0.1:8009"}], "exports": {}})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->subsystems[0].subnqn, "");
  EXPECT_TRUE(c->subsystems[0].paths.empty());
  ASSERT_TRUE(c->subsystems[0].discovery.has_value());
  EXPECT_EQ(*c->subsystems[0].discovery, (Endpoint{"127.0.0.1", 8009}));
}

TEST(HostConfig, DurationsTakeStringsOrWholeSecondsAndMinusOneWhereAllowed) {
  auto c = ParseHostConfig(WithField(
      R"("keep_alive_tmo": 2, "reconnect_delay": "0", "ctrl_loss_tmo": "-1",
         "fast_io_fail_tmo": -1, "fence_delay": -1, "no_path_timeout": 0)"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const ClientOptions& o = c->subsystems[0];
  EXPECT_EQ(o.keep_alive_tmo, milliseconds(2000));
  EXPECT_EQ(o.reconnect_delay, milliseconds(0));
  EXPECT_EQ(o.ctrl_loss_tmo, milliseconds(-1));
  EXPECT_EQ(o.fast_io_fail_tmo, milliseconds(-1));
  EXPECT_EQ(o.fence_delay, milliseconds(-1));
  EXPECT_EQ(o.no_path_timeout, milliseconds(0));
}

TEST(HostConfig, MalformedJsonGivesLineAndColumn) {
  // Line 3 is `    {"nqn" "x"}`: the string after "nqn" ends at column 14 where a ':' was due.
  EXPECT_EQ(ErrorOf("{\n  \"subsystems\": [\n    {\"nqn\" \"x\"}\n  ]\n}"),
            "malformed JSON at line 3, column 14: syntax error while parsing object separator - "
            "unexpected string literal; expected ':'");
  EXPECT_EQ(ErrorOf(""), "malformed JSON at line 1, column 1: the text is empty");
}

TEST(HostConfig, RepeatedFieldIsAnError) {
  EXPECT_EQ(ErrorOf(R"({"io_threads": 1, "io_threads": 2, "subsystems": []})"),
            "io_threads: duplicate field (each field may appear once)");
}

TEST(HostConfig, TopLevelMustBeAnObject) {
  EXPECT_EQ(ErrorOf("[1]"), "expected a JSON object at the top level, got [1]");
}

TEST(HostConfig, UnknownFieldsSuggestTheNearestKnownOne) {
  EXPECT_EQ(ErrorOf(R"({"subsytems": []})"),
            "subsytems: unknown field (did you mean \"subsystems\"?)");
  EXPECT_EQ(ErrorOf(R"({"exports": {"nbdd": []}, "subsystems": []})"),
            "exports.nbdd: unknown field (did you mean \"nbd\"?)");
  EXPECT_EQ(ErrorOf(WithField(R"("polcy": "numa")")),
            "subsystems[0].polcy: unknown field (did you mean \"policy\"?)");
  // Far from every known field: the known ones are listed instead.
  EXPECT_EQ(ErrorOf(R"({"exports": {"iscsi": "x"}})"),
            "exports.iscsi: unknown field (known: nbd, fuse)");
}

TEST(HostConfig, WrongTypesNameTheField) {
  EXPECT_EQ(ErrorOf(R"({"io_threads": "2", "subsystems": []})"),
            "io_threads: expected an integer 1..64, got \"2\"");
  EXPECT_EQ(ErrorOf(R"({"exports": [], "subsystems": []})"), "exports: expected an object, got []");
  EXPECT_EQ(ErrorOf(R"({"exports": {"nbd": "unix:/x"}})"),
            "exports.nbd: expected an array of \"unix:PATH\" or \"ADDR:PORT\" strings, got "
            "\"unix:/x\"");
  EXPECT_EQ(ErrorOf(R"({"exports": {"nbd": [10809]}})"),
            "exports.nbd[0]: expected a string, got 10809");
  EXPECT_EQ(ErrorOf(R"({"exports": {"fuse": true}})"), "exports.fuse: expected a string, got true");
  EXPECT_EQ(ErrorOf(R"({"subsystems": {}})"),
            "subsystems: expected a non-empty array of subsystems, got {}");
  EXPECT_EQ(ErrorOf(R"({"subsystems": ["nqn.2024-01.io.nvmpath:t"]})"),
            "subsystems[0]: expected an object, got \"nqn.2024-01.io.nvmpath:t\"");
  EXPECT_EQ(ErrorOf(WithSubsystem(R"("nqn": 5, "paths": ["127.0.0.1"])")),
            "subsystems[0].nqn: expected a string, got 5");
  EXPECT_EQ(ErrorOf(WithSubsystem(R"("nqn": "nqn.2024-01.io.nvmpath:t", "paths": "127.0.0.1")")),
            "subsystems[0].paths: expected an array of \"ADDR:PORT\" strings, got \"127.0.0.1\"");
  EXPECT_EQ(ErrorOf(WithSubsystem(R"("nqn": "nqn.2024-01.io.nvmpath:t", "paths": [4420])")),
            "subsystems[0].paths[0]: expected a string, got 4420");
  EXPECT_EQ(ErrorOf(WithField(R"("hdr_digest": "yes")")),
            "subsystems[0].hdr_digest: expected true or false, got \"yes\"");
  EXPECT_EQ(ErrorOf(WithField(R"("queue_if_no_path": 1)")),
            "subsystems[0].queue_if_no_path: expected true or false, got 1");
  EXPECT_EQ(ErrorOf(WithField(R"("queue_size": 1)")),
            "subsystems[0].queue_size: expected an integer 2..65535, got 1");
  EXPECT_EQ(ErrorOf(WithField(R"("policy": 1)")), "subsystems[0].policy: expected a string, got 1");
}

TEST(HostConfig, BadDurationsNameTheFieldAndTheText) {
  EXPECT_EQ(ErrorOf(WithField(R"("reconnect_delay": "5h")")),
            "subsystems[0].reconnect_delay: '5h': unknown unit 'h' (expected ms, s or m)");
  EXPECT_EQ(ErrorOf(WithField(R"("io_timeout": "soon")")),
            "subsystems[0].io_timeout: 'soon': not a duration (seconds, or a number with ms, s or "
            "m)");
  EXPECT_EQ(ErrorOf(WithField(R"("io_timeout": 1.5)")),
            "subsystems[0].io_timeout: expected a duration (whole seconds, or a string like "
            "\"500ms\", \"10s\", \"1m\"), got 1.5");
  EXPECT_EQ(ErrorOf(WithField(R"("connect_timeout": true)")).substr(0, 50),
            "subsystems[0].connect_timeout: expected a duration");
}

TEST(HostConfig, NegativeOrZeroWhereNotAllowed) {
  EXPECT_EQ(ErrorOf(WithField(R"("io_timeout": -1)")),
            "subsystems[0].io_timeout: '-1': must not be negative");
  EXPECT_EQ(ErrorOf(WithField(R"("reconnect_delay": "-1")")),
            "subsystems[0].reconnect_delay: '-1': must not be negative");
  EXPECT_EQ(ErrorOf(WithField(R"("no_path_timeout": "-5s")")),
            "subsystems[0].no_path_timeout: '-5s': must not be negative");
  EXPECT_EQ(ErrorOf(WithField(R"("ctrl_loss_tmo": -2)")),
            "subsystems[0].ctrl_loss_tmo: '-2': the only negative value is -1");
  EXPECT_EQ(ErrorOf(WithField(R"("fence_delay": "-10ms")")),
            "subsystems[0].fence_delay: '-10ms': the only negative value is -1");
  EXPECT_EQ(ErrorOf(WithField(R"("keep_alive_tmo": 0)")),
            "subsystems[0].keep_alive_tmo: 0 must be more than 0");
  EXPECT_EQ(ErrorOf(WithField(R"("connect_timeout": "0ms")")),
            "subsystems[0].connect_timeout: \"0ms\" must be more than 0");
}

TEST(HostConfig, SubsystemsAreRequiredAndNotEmpty) {
  EXPECT_EQ(ErrorOf(R"({"io_threads": 2})"), "subsystems: missing (at least one subsystem)");
  EXPECT_EQ(ErrorOf(R"({"subsystems": []})"),
            "subsystems: expected a non-empty array of subsystems, got []");
}

TEST(HostConfig, BadPathNamesTheFieldPathAndTheText) {
  const std::string two =
      R"({"subsystems": [{"nqn": "nqn.2024-01.io.nvmpath:a", "paths": ["127.0.0.1:4420"]},
                         {"nqn": "nqn.2024-01.io.nvmpath:b", "paths": ["127.0.0.1:99999"]}]})";
  EXPECT_EQ(ErrorOf(two),
            "subsystems[1].paths[0]: endpoint \"127.0.0.1:99999\": port \"99999\" is not a number "
            "in 1..65535");
  const std::string m = ErrorOf(WithField(R"("discovery": "local_host:8009")"));
  EXPECT_EQ(m.rfind("subsystems[0].discovery: endpoint \"local_host:8009\": \"local_host\" is not "
                    "an IPv4 address, an IPv6 address or a host name",
                    0),
            0u)
      << m;
}

TEST(HostConfig, SamePathTwiceIsAnError) {
  EXPECT_EQ(ErrorOf(WithSubsystem(
                R"("nqn": "nqn.2024-01.io.nvmpath:t", "paths": ["127.0.0.1", "127.0.0.1:4420"])")),
            "subsystems[0].paths[1]: 127.0.0.1:4420 is already listed as subsystems[0].paths[0]");
}

TEST(HostConfig, SubsystemNeedsPathsOrDiscovery) {
  const std::string want =
      "subsystems[0]: no path: give \"paths\" (\"ADDR:PORT\" of each path) or \"discovery\" "
      "(\"ADDR:PORT\" of a discovery controller)";
  EXPECT_EQ(ErrorOf(WithSubsystem(R"("nqn": "nqn.2024-01.io.nvmpath:t")")), want);
  EXPECT_EQ(ErrorOf(WithSubsystem(R"("nqn": "nqn.2024-01.io.nvmpath:t", "paths": [])")), want);
  EXPECT_EQ(ErrorOf(WithSubsystem(R"("paths": ["127.0.0.1:4420"])")),
            "subsystems[0].nqn: missing (the subsystem NQN is required unless \"discovery\" is "
            "given)");
}

TEST(HostConfig, SameNqnTwiceNamesBothSubsystems) {
  EXPECT_EQ(ErrorOf(R"({"subsystems": [
        {"nqn": "nqn.2024-01.io.nvmpath:a", "paths": ["127.0.0.1:4420"]},
        {"nqn": "nqn.2024-01.io.nvmpath:b", "paths": ["127.0.0.1:4421"]},
        {"nqn": "nqn.2024-01.io.nvmpath:a", "paths": ["127.0.0.2:4420"]}]})"),
            "subsystems[2].nqn: \"nqn.2024-01.io.nvmpath:a\" is already used by subsystems[0]");
}

TEST(HostConfig, IoThreadsMustBe1To64) {
  const std::string sub = R"("subsystems": [{"discovery": "127.0.0.1:8009"}])";
  EXPECT_EQ(ErrorOf("{\"io_threads\": 0, " + sub + "}"),
            "io_threads: expected an integer 1..64, got 0");
  EXPECT_EQ(ErrorOf("{\"io_threads\": 65, " + sub + "}"),
            "io_threads: expected an integer 1..64, got 65");
  EXPECT_EQ(ErrorOf("{\"io_threads\": -1, " + sub + "}"),
            "io_threads: expected an integer 1..64, got -1");
  auto c = ParseHostConfig("{\"io_threads\": 64, " + sub + "}");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->subsystems[0].io_threads, 64u);
}

TEST(HostConfig, BadNbdAddressOrFuseDirNamesTheField) {
  EXPECT_EQ(ErrorOf(R"({"exports": {"nbd": ["unix:/a", "127.0.0.1:x"]}})"),
            "exports.nbd[1]: NBD address \"127.0.0.1:x\": port \"x\" is not a number in 0..65535");
  EXPECT_EQ(ErrorOf(R"({"exports": {"nbd": ["unix:/a", "unix:/a"]}})"),
            "exports.nbd[1]: \"unix:/a\" is already listed as exports.nbd[0]");
  EXPECT_EQ(ErrorOf(R"({"exports": {"fuse": ""}})"),
            "exports.fuse: is empty (leave the field out for no FUSE mount)");
}

TEST(HostConfig, BadQosNamesTheFieldAndThePart) {
  std::string e = ErrorOf(WithField(R"("path_qos": "iops=ten")"));
  EXPECT_NE(e.find("subsystems[0].path_qos"), std::string::npos) << e;
  EXPECT_NE(e.find("iops=\"ten\""), std::string::npos) << e;
  e = ErrorOf(WithField(R"("head_qos": 5)"));
  EXPECT_NE(e.find("subsystems[0].head_qos"), std::string::npos) << e;
}

TEST(HostConfig, BadPolicyListsTheValidNames) {
  EXPECT_EQ(ErrorOf(WithField(R"("policy": "fastest")")),
            "subsystems[0].policy: unknown policy 'fastest' (expected numa, round-robin or "
            "queue-depth)");
}

TEST(HostConfig, BadHostIdentityNamesTheField) {
  EXPECT_EQ(ErrorOf(R"({"hostid": "1234", "subsystems": []})"),
            "hostid: \"1234\" is not a UUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex "
            "digits)");
  EXPECT_EQ(ErrorOf(WithField(R"("hostnqn": "host-a")")),
            "subsystems[0].hostnqn: \"host-a\" is not an NQN (it must start with \"nqn.\", e.g. "
            "\"nqn.2026-11.io.nvmpath:demo\")");
  EXPECT_EQ(ErrorOf(WithSubsystem(R"("nqn": "demo", "paths": ["127.0.0.1"])")),
            "subsystems[0].nqn: \"demo\" is not an NQN (it must start with \"nqn.\", e.g. "
            "\"nqn.2026-11.io.nvmpath:demo\")");
}

TEST(CheckNbdAddress, AcceptsUnixPathsAndIpv4WithPort) {
  for (const char* ok : {"unix:/run/nvmpath.sock", "unix:rel/nbd.sock", "127.0.0.1:10809",
                         "0.0.0.0:1", "10.1.2.3:65535"}) {
    EXPECT_TRUE(CheckNbdAddress(ok).ok()) << ok << ": " << CheckNbdAddress(ok).message();
  }
}

TEST(CheckNbdAddress, ErrorsNameTheText) {
  EXPECT_EQ(CheckNbdAddress("unix:").message(),
            "NBD address \"unix:\": the socket path is empty (expected unix:/path/to/socket)");
  EXPECT_EQ(CheckNbdAddress("unix:/" + std::string(107, 'a')).message(),
            "NBD address \"unix:/" + std::string(107, 'a') +
                "\": the socket path is 108 bytes; a Unix socket path is at most 107");
  EXPECT_TRUE(CheckNbdAddress("unix:/" + std::string(106, 'a')).ok());
  EXPECT_EQ(CheckNbdAddress("/run/nvmpath.sock").message(),
            "NBD address \"/run/nvmpath.sock\": expected \"unix:PATH\" or \"ADDR:PORT\" (e.g. "
            "\"unix:/run/nvmpath.sock\", \"127.0.0.1:10809\")");
  EXPECT_EQ(CheckNbdAddress("127.0.0.1").code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckNbdAddress("127.0.0.1:").message(),
            "NBD address \"127.0.0.1:\": port \"\" is not a number in 0..65535");
  EXPECT_EQ(CheckNbdAddress("127.0.0.1:65536").message(),
            "NBD address \"127.0.0.1:65536\": port \"65536\" is not a number in 0..65535");
  EXPECT_EQ(CheckNbdAddress("localhost:10809").message(),
            "NBD address \"localhost:10809\": \"localhost\" is not a numeric IPv4 address "
            "(expected ADDR:PORT, e.g. 127.0.0.1:10809, or unix:PATH)");
  EXPECT_FALSE(CheckNbdAddress("[::1]:10809").ok());
  EXPECT_FALSE(CheckNbdAddress(":10809").ok());
}

// A file in the test's temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(std::string_view contents)
      : path_((std::filesystem::temp_directory_path() /
               ("nvmpath_host_config_test_" + std::to_string(::getpid()) + ".json"))
                  .string()) {
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LoadHostConfig, MissingFileNamesTheFile) {
  auto c = LoadHostConfig("/nonexistent/nvmpath-host.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
  EXPECT_EQ(c.status().message(),
            "host config /nonexistent/nvmpath-host.json: No such file or directory");
}

TEST(LoadHostConfig, ReadsTheFileAndNamesItInParseErrors) {
  {
    TempFile f(kFull);
    auto c = LoadHostConfig(f.path());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->subsystems.size(), 2u);
  }
  TempFile f(WithField(R"("polcy": "numa")"));
  auto c = LoadHostConfig(f.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "host config " + f.path() +
                ": subsystems[0].polcy: unknown field (did you mean \"policy\"?)");
}

// docs/host-config.md's full example must stay a valid config.
TEST(HostConfig, TheDocumentedExampleParses) {
  // The source tree from CMake: __FILE__ may be relative (compiler caches rewrite it).
  const auto doc = std::filesystem::path(NVMPATH_SOURCE_DIR) / "docs/host-config.md";
  std::ifstream in(doc);
  ASSERT_TRUE(in) << "cannot open " << doc;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const size_t start = text.find("```json\n");
  ASSERT_NE(start, std::string::npos);
  const size_t end = text.find("```", start + 8);
  ASSERT_NE(end, std::string::npos);
  auto c = ParseHostConfig(std::string_view(text).substr(start + 8, end - start - 8));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->subsystems.size(), 2u);
  EXPECT_FALSE(c->nbd.empty());
  EXPECT_FALSE(c->fuse.empty());
}

}  // namespace
}  // namespace nvmpath::cli
