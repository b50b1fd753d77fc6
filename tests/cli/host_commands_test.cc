// The host subcommands end to end: the built `nvmpath` binary (NVMPATH_BINARY) against a real
// target (target::control::TargetRunner, in this process) on 127.0.0.1 ports the OS picks, over
// two paths (port 1 optimized, port 2 non-optimized; a third port, optimized too, for the
// round-robin bench that must spread I/O over two optimized paths).
//
// Goal: what a user sees is right — list-subsys shows both controllers live with their ANA
// states and the namespace's capacity; --json parses and has the keys scripts read; io write then
// io read gives the file back; bench randread and verify do I/O and verify finds no mismatch;
// and each kind of mistake (unreachable port, wrong NQN, unknown --ns, a bad flag) ends in one
// line on stderr naming what is wrong and a non-zero exit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "target/control/config_json.h"
#include "target/control/target_runner.h"

namespace nvmpath::cli {
namespace {

constexpr const char* kNqn = "nqn.2026-11.io.nvmpath:cli-host";

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs the binary with `args`, stdin from `stdin_path` (or /dev/null); bounded by 60 s.
RunResult RunNvmpath(const std::vector<std::string>& args, const std::string& stdin_path = "") {
  char dir_template[] = "/tmp/nvmpath-cli-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string out_path = dir + "/out", err_path = dir + "/err";
  const pid_t pid = fork();
  if (pid == 0) {
    int in = open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    std::string bin = NVMPATH_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  RunResult r;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);  // our own child
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "nvmpath did not finish in 60 s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out_path);
  r.err = Slurp(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  rmdir(dir.c_str());
  return r;
}

size_t Lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// The value column of a row of bench's table ("  errors     0" → "0"); "" if there is no row.
std::string RowValue(const std::string& table, const std::string& row) {
  std::istringstream lines(table);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("  " + row + " ", 0) == 0) return line.substr(line.find_last_of(' ') + 1);
  }
  return "";
}

class HostCommands : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto config = target::control::ParseTargetConfig(R"({
      "ports": [{"id": 1, "address": "127.0.0.1", "port": 0},
                {"id": 2, "address": "127.0.0.1", "port": 0},
                {"id": 3, "address": "127.0.0.1", "port": 0}],
      "subsystems": [{"nqn": "nqn.2026-11.io.nvmpath:cli-host", "serial": "cli-01",
                      "model": "cli test", "allowed_hosts": [],
                      "namespaces": [{"nsid": 1, "backend": "memory", "size": "32MiB",
                                      "block_size": 512, "ana_group": 1}]}],
      "ana": [{"port": 1, "group": 1, "state": "optimized"},
              {"port": 2, "group": 1, "state": "non-optimized"},
              {"port": 3, "group": 1, "state": "optimized"}]
    })");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto runner = target::control::TargetRunner::Start(std::move(*config), {.reactors = 1});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    runner_ = runner->release();
    for (const auto& p : runner_->ports()) {
      paths_.push_back("127.0.0.1:" + std::to_string(p.bound_port));
    }
  }
  static void TearDownTestSuite() {
    if (runner_ != nullptr) {
      EXPECT_TRUE(runner_->Shutdown().ok());
      delete runner_;
      runner_ = nullptr;
    }
  }

  // `command` with the connection options of both paths, then `extra`.
  static std::vector<std::string> Cmd(std::vector<std::string> command,
                                      const std::vector<std::string>& extra = {}) {
    command.insert(command.end(), {"--nqn", kNqn, "--path", paths_[0], "--path", paths_[1]});
    command.insert(command.end(), extra.begin(), extra.end());
    return command;
  }

  static inline target::control::TargetRunner* runner_ = nullptr;
  static inline std::vector<std::string> paths_;
};

TEST_F(HostCommands, ListSubsysShowsBothControllersLiveAnaStatesAndCapacity) {
  RunResult r = RunNvmpath(Cmd({"list-subsys"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string& o = r.out;
  EXPECT_NE(o.find(kNqn), std::string::npos) << o;
  for (const std::string& p : {paths_[0], paths_[1]}) {
    const std::string port = p.substr(p.find(':') + 1);
    EXPECT_NE(o.find("traddr=127.0.0.1,trsvcid=" + port), std::string::npos) << o;
  }
  EXPECT_NE(o.find(paths_[0] + " live optimized usable"), std::string::npos) << o;
  EXPECT_NE(o.find(paths_[1] + " live non-optimized usable"), std::string::npos) << o;
  EXPECT_NE(o.find("32.0 MiB (65536 blocks of 512 B)"), std::string::npos) << o;
  EXPECT_NE(o.find("model=\"cli test\" serial=cli-01"), std::string::npos) << o;
}

TEST_F(HostCommands, ListSubsysJsonParses) {
  RunResult r = RunNvmpath(Cmd({"list-subsys"}, {"--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("subnqn"), kNqn);
  ASSERT_EQ(j.at("controllers").size(), 2u);
  for (const auto& c : j["controllers"]) EXPECT_EQ(c.at("state"), "live");
  ASSERT_EQ(j.at("namespaces").size(), 1u);
  const auto& ns = j["namespaces"][0];
  EXPECT_EQ(ns.at("nsid"), 1);
  EXPECT_EQ(ns.at("capacity_blocks"), 65536);
  EXPECT_EQ(ns.at("block_size"), 512);
  ASSERT_EQ(ns.at("paths").size(), 2u);
  EXPECT_EQ(ns["paths"][0].at("ana_state"), "optimized");
  EXPECT_EQ(ns["paths"][1].at("ana_state"), "non-optimized");
}

TEST_F(HostCommands, IoWriteThenReadRoundTripsAFile) {
  char dir_template[] = "/tmp/nvmpath-io-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  std::string data(64 * 1024 + 512, '\0');  // more than one piece if max_io_blocks is small
  std::mt19937 rng(5);
  for (char& c : data) c = static_cast<char>(rng());
  const std::string in = dir + "/in.bin", back = dir + "/back.bin";
  std::ofstream(in, std::ios::binary) << data;

  RunResult w = RunNvmpath(Cmd({"io", "write"}, {"--lba", "100", "--file", in}));
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_NE(w.out.find("wrote 129 blocks (66048 bytes)"), std::string::npos) << w.out;

  RunResult rd =
      RunNvmpath(Cmd({"io", "read"}, {"--lba", "100", "--blocks", "129", "--file", back}));
  ASSERT_EQ(rd.exit_code, 0) << rd.err;
  EXPECT_TRUE(Slurp(back) == data) << "read back differs";

  // stdin → namespace and namespace → stdout, shifted by one block from the first write.
  RunResult w2 = RunNvmpath(Cmd({"io", "write"}, {"--lba", "101", "--json"}), in);
  ASSERT_EQ(w2.exit_code, 0) << w2.err;
  EXPECT_EQ(nlohmann::json::parse(w2.out).at("blocks"), 129);
  RunResult r2 = RunNvmpath(Cmd({"io", "read"}, {"--lba", "101", "--blocks", "129"}));
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_TRUE(r2.out == data) << "stdout differs (" << r2.out.size() << " bytes)";
  EXPECT_NE(r2.err.find("read 129 blocks"), std::string::npos) << r2.err;

  // A file that is not whole blocks is refused before any I/O.
  std::ofstream(in, std::ios::binary) << std::string(1000, 'x');
  RunResult bad = RunNvmpath(Cmd({"io", "write"}, {"--file", in}));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(Lines(bad.err), 1u) << bad.err;
  EXPECT_NE(bad.err.find("1000 bytes, not a multiple of"), std::string::npos) << bad.err;
  std::remove(in.c_str());
  std::remove(back.c_str());
  rmdir(dir.c_str());
}

TEST_F(HostCommands, BenchRandreadJsonOverTwoPaths) {
  RunResult r =
      RunNvmpath({"bench", "randread", "--nqn", kNqn, "--path", paths_[0], "--path", paths_[2],
                  "--qd", "8", "--time", "1", "--policy", "round-robin", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "progress line on a pipe";
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j.at("iops").get<double>(), 0);
  EXPECT_GT(j.at("mib_s").get<double>(), 0);
  for (const char* k : {"mean", "p50", "p99", "p999", "max"}) {
    EXPECT_GT(j.at("lat_us").at(k).get<double>(), 0) << k;
  }
  EXPECT_LE(j["lat_us"]["p50"].get<double>(), j["lat_us"]["max"].get<double>());
  EXPECT_EQ(j.at("errors"), 0);
  EXPECT_EQ(j.at("failovers"), 0);
  ASSERT_EQ(j.at("paths").size(), 2u);
  uint64_t path_ios = 0;
  for (const auto& p : j["paths"]) {
    EXPECT_GT(p.at("ios").get<uint64_t>(), 0u) << p.dump();  // round-robin: both paths
    path_ios += p["ios"].get<uint64_t>();
  }
  EXPECT_EQ(path_ios, j.at("ios").get<uint64_t>());
  EXPECT_EQ(j.at("verify").at("blocks"), 0);
  EXPECT_EQ(j.at("verify").at("mismatches"), 0);
}

TEST_F(HostCommands, BenchVerifyFindsNoMismatchAndPrintsTheTable) {
  RunResult r =
      RunNvmpath(Cmd({"bench", "verify"}, {"--qd", "4", "--time", "1", "--size", "4MiB", "--bs",
                                           "8KiB", "--reactors", "2", "--seed", "9"}));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(RowValue(r.out, "verify mismatches"), "0") << r.out;
  EXPECT_EQ(RowValue(r.out, "errors"), "0") << r.out;
  EXPECT_NE(RowValue(r.out, "verify blocks"), "0") << r.out;
  EXPECT_NE(RowValue(r.out, "verify blocks"), "") << r.out;
  EXPECT_NE(r.out.find("x 2 I/O threads"), std::string::npos) << r.out;

  RunResult j = RunNvmpath(Cmd({"bench", "verify"}, {"--qd", "4", "--io-count", "400", "--time",
                                                     "0", "--size", "1MiB", "--json"}));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto v = nlohmann::json::parse(j.out);
  EXPECT_EQ(v.at("ios"), 400);  // 200 writes + 200 reads back
  EXPECT_EQ(v.at("verify").at("blocks"), 200 * 8);
  EXPECT_EQ(v.at("verify").at("mismatches"), 0);
}

TEST_F(HostCommands, UnreachablePortIsOneLineAndFails) {
  // A bound socket that does not listen: connecting to it is refused, and no one else gets it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string dead = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"list-subsys", "--nqn", kNqn, "--path", dead},
        {"bench", "--nqn", kNqn, "--path", dead, "--time", "1"}}) {
    RunResult r = RunNvmpath(args);
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(dead), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  close(fd);
}

TEST_F(HostCommands, WrongNqnIsOneLineNamingIt) {
  RunResult r =
      RunNvmpath({"list-subsys", "--nqn", "nqn.2026-11.io.nvmpath:nope", "--path", paths_[0]});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("nqn.2026-11.io.nvmpath:nope"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

TEST_F(HostCommands, UnknownNamespaceIsOneLineListingTheNsids) {
  for (const char* sub : {"list-subsys", "bench"}) {
    RunResult r = RunNvmpath(Cmd({sub}, {"--ns", "7"}));
    EXPECT_NE(r.exit_code, 0) << sub;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("--ns 7"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("NSIDs: 1"), std::string::npos) << r.err;
  }
}

TEST_F(HostCommands, BadValuesAreOneLineNamingThem) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  for (const Case& c : std::vector<Case>{
           {Cmd({"list-subsys"}, {"--path", "x:99999"}), "x:99999"},
           {Cmd({"list-subsys"}, {"--policy", "bogus"}), "round-robin"},
           {Cmd({"list-subsys"}, {"--bogus"}), "--bogus"},
           {Cmd({"bench", "randomread"}), "'randomread'"},
           {Cmd({"bench"}, {"--bs", "1000"}), "--bs 1000"},
           {Cmd({"bench"}, {"--size", "1GiB"}), "--size 1GiB"},
           {Cmd({"bench"}, {"--qd", "0"}), "--qd"},
           {Cmd({"io", "read"}, {"--lba", "65536", "--blocks", "1"}), "past the end"},
       }) {
    RunResult r = RunNvmpath(c.args);
    EXPECT_NE(r.exit_code, 0) << c.names;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << r.err;
  }
}

TEST_F(HostCommands, EveryHostSubcommandHelpShowsAnExample) {
  for (std::vector<std::string> args : {std::vector<std::string>{"list-subsys", "--help"},
                                        {"io", "--help"},
                                        {"io", "read", "--help"},
                                        {"io", "write", "--help"},
                                        {"bench", "--help"}}) {
    RunResult r = RunNvmpath(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("Example"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nvmpath " + args[0]), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace nvmpath::cli
