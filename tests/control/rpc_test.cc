// JSON-RPC framing and dispatch, first on the dispatcher alone, then over a real Unix socket in a
// temporary directory with test handlers (no Target): every error class gets its JSON-RPC code and
// a message naming what is wrong; an over-long line, a second client, and a client vanishing
// mid-line disturb nobody; ReactorExecutor runs handlers on the reactor's thread.
#include "control/rpc.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "reactor/uring.h"
#include "control/rpc_client.h"
#include "control/rpc_server.h"

namespace nvmpath::control {
namespace {

using Json = nlohmann::json;

// echo {text} → {text}; fail_missing → NotFound; needs_nsid {nsid} → InvalidArgument naming nsid.
RpcDispatcher TestDispatcher() {
  RpcDispatcher d;
  d.Register("echo", [](const Json& params) -> Result<Json> { return params; });
  d.Register("fail_missing", [](const Json&) -> Result<Json> {
    return NotFound("subsystem nqn.x: no such subsystem");
  });
  d.Register("needs_nsid", [](const Json& params) -> Result<Json> {
    if (!params.contains("nsid") || !params["nsid"].is_number_unsigned()) {
      return InvalidArgument("nsid: expected an integer 1..4294967294, got \"x\"");
    }
    return Json{{"nsid", params["nsid"]}};
  });
  return d;
}

Json Handle(const RpcDispatcher& d, std::string_view line) {
  std::string out = d.HandleLine(line);
  if (out.empty()) return nullptr;
  return Json::parse(out);
}

TEST(RpcDispatcher, CallsTheHandlerAndEchoesTheId) {
  RpcDispatcher d = TestDispatcher();
  Json r = Handle(d, R"({"jsonrpc":"2.0","method":"echo","params":{"a":1},"id":"abc"})");
  EXPECT_EQ(r, Json::parse(R"({"jsonrpc":"2.0","result":{"a":1},"id":"abc"})"));
  Json no_params = Handle(d, R"({"jsonrpc":"2.0","method":"echo","id":7})");
  EXPECT_EQ(no_params["result"], Json::object());
  EXPECT_EQ(no_params["id"], 7);
}

TEST(RpcDispatcher, ParseErrorCarriesLineAndColumn) {
  Json r = Handle(TestDispatcher(), R"({"jsonrpc":"2.0",)");
  EXPECT_EQ(r["error"]["code"], -32700);
  EXPECT_EQ(r["id"], nullptr);
  std::string m = r["error"]["message"];
  EXPECT_EQ(m.rfind("parse error: malformed JSON at line 1, column 18: ", 0), 0u) << m;
}

TEST(RpcDispatcher, InvalidRequestsNameWhatIsWrong) {
  RpcDispatcher d = TestDispatcher();
  struct Case {
    const char* line;
    const char* message;
  };
  for (const Case& c : {
           Case{R"([1])", "invalid request: expected a request object, got 1"},
           Case{R"("hi")", "invalid request: expected a request object, got \"hi\""},
           Case{R"({"jsonrpc":"2.0","id":1})",
                "invalid request: method: expected a string, got nothing"},
           Case{R"({"jsonrpc":"2.0","method":5,"id":1})",
                "invalid request: method: expected a string, got 5"},
           Case{R"({"method":"echo","id":1})",
                "invalid request: jsonrpc: expected \"2.0\", got nothing"},
           Case{R"({"jsonrpc":"1.0","method":"echo","id":1})",
                "invalid request: jsonrpc: expected \"2.0\", got \"1.0\""},
           Case{R"({"jsonrpc":"2.0","method":"echo","params":[1,2],"id":1})",
                "invalid request: params: expected an object, got [1,2]"},
           Case{R"({"jsonrpc":"2.0","method":"echo","id":{"x":1}})",
                "invalid request: id: expected a string, number or null, got {\"x\":1}"},
           Case{R"({"jsonrpc":"2.0","metod":"echo","id":1})",
                "invalid request: metod: unknown field (did you mean \"method\"?)"},
           Case{R"([])", "invalid request: empty batch"},
       }) {
    std::string out = d.HandleLine(c.line);
    Json r = Json::parse(out);
    if (r.is_array()) r = r[0];
    EXPECT_EQ(r["error"]["code"], -32600) << c.line;
    EXPECT_EQ(r["error"]["message"], c.message) << c.line;
  }
}

TEST(RpcDispatcher, UnknownMethodListsTheKnownOnes) {
  Json r = Handle(TestDispatcher(), R"({"jsonrpc":"2.0","method":"ecoh","id":1})");
  EXPECT_EQ(r["error"]["code"], -32601);
  EXPECT_EQ(r["error"]["message"],
            "unknown method \"ecoh\" (known: echo, fail_missing, needs_nsid)");
  EXPECT_EQ(r["id"], 1);
}

TEST(RpcDispatcher, InvalidParamsNameTheParam) {
  Json r = Handle(TestDispatcher(),
                  R"({"jsonrpc":"2.0","method":"needs_nsid","params":{"nsid":"x"},"id":2})");
  EXPECT_EQ(r["error"]["code"], -32602);
  EXPECT_EQ(r["error"]["message"],
            "invalid params: nsid: expected an integer 1..4294967294, got \"x\"");
}

TEST(RpcDispatcher, HandlerFailureIsAServerErrorWithItsCode) {
  Json r = Handle(TestDispatcher(), R"({"jsonrpc":"2.0","method":"fail_missing","id":3})");
  EXPECT_EQ(r["error"]["code"], -32000);
  EXPECT_EQ(r["error"]["message"], "not found: subsystem nqn.x: no such subsystem");
  EXPECT_EQ(r["error"]["data"]["status"], "not found");
}

TEST(RpcDispatcher, NotificationsGetNoResponseAndBatchesAnswerEach) {
  RpcDispatcher d = TestDispatcher();
  EXPECT_EQ(d.HandleLine(R"({"jsonrpc":"2.0","method":"echo"})"), "");
  Json r = Handle(d, R"([{"jsonrpc":"2.0","method":"echo","params":{"n":1},"id":1},
                         {"jsonrpc":"2.0","method":"echo"},
                         {"jsonrpc":"2.0","method":"nope","id":3}])");
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["result"]["n"], 1);
  EXPECT_EQ(r[1]["error"]["code"], -32601);
}

TEST(RpcDispatcher, AThrowingHandlerIsAnErrorNotACrash) {
  RpcDispatcher d;
  d.Register("boom", [](const Json& params) -> Result<Json> {
    return Json(params.at("missing"));  // throws out_of_range
  });
  Json r = Handle(d, R"({"jsonrpc":"2.0","method":"boom","id":1})");
  EXPECT_EQ(r["error"]["code"], -32000);
  EXPECT_EQ(r["error"]["data"]["status"], "internal error");
}

// ---- Over a real Unix socket. ----

class RpcSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/nvmpath-rpc-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/control.sock";
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  void StartServer(RpcServerOptions options = {}) {
    options.socket_path = path_;
    auto s = RpcServer::Start(dispatcher_, std::move(options));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  // A raw client connection.
  int Connect() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  static void SendAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << strerror(errno);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads one response line (blocking, 10 s limit); "" on EOF or timeout.
  static std::string ReadLine(int fd) {
    std::string line;
    char c;
    while (recv(fd, &c, 1, 0) == 1) {
      if (c == '\n') return line;
      line.push_back(c);
    }
    return "";
  }
  static std::string Request(std::string_view method, const Json& params, int id) {
    return Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", params}, {"id", id}}.dump() +
           "\n";
  }

  RpcDispatcher dispatcher_ = TestDispatcher();
  std::string dir_;
  std::string path_;
  std::unique_ptr<RpcServer> server_;
};

TEST_F(RpcSocketTest, RpcCallRoundTrip) {
  StartServer();
  auto r = RpcCall(path_, "echo", {{"hello", "world"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["hello"], "world");
  EXPECT_EQ(server_->requests_served(), 1u);
}

TEST_F(RpcSocketTest, RpcCallReturnsTheServersErrors) {
  StartServer();
  auto bad = RpcCall(path_, "needs_nsid", {{"nsid", "x"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "invalid params: nsid: expected an integer 1..4294967294, got \"x\"");
  auto missing = RpcCall(path_, "fail_missing", Json::object());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "not found: subsystem nqn.x: no such subsystem");
  auto unknown = RpcCall(path_, "nope", Json::object());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message().rfind("unknown method \"nope\" (known: echo,", 0), 0u);
}

TEST_F(RpcSocketTest, RpcCallWithoutAServerSaysSo) {
  auto r = RpcCall(path_, "echo", Json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().message(), "cannot connect to " + path_ +
                                      ": No such file or directory (is `nvmpath target` running?)");
}

TEST_F(RpcSocketTest, MalformedLinesGetErrorsAndTheConnectionStaysUsable) {
  StartServer();
  int fd = Connect();
  SendAll(fd, "this is not json\n");
  Json parse = Json::parse(ReadLine(fd));
  EXPECT_EQ(parse["error"]["code"], -32700);
  SendAll(fd, "{\"jsonrpc\":\"2.0\",\"id\":1}\n");
  EXPECT_EQ(Json::parse(ReadLine(fd))["error"]["code"], -32600);
  SendAll(fd, "\n   \r\n");  // blank lines are skipped, not answered
  SendAll(fd, Request("echo", {{"k", 1}}, 9));
  Json ok = Json::parse(ReadLine(fd));
  EXPECT_EQ(ok["result"]["k"], 1);
  EXPECT_EQ(ok["id"], 9);
  close(fd);
}

TEST_F(RpcSocketTest, TwoMibLineIsRejectedAndTheNextLineIsServed) {
  StartServer();
  int fd = Connect();
  std::string huge = R"({"jsonrpc":"2.0","method":"echo","params":{"pad":")" +
                     std::string(2 << 20, 'x') + "\"},\"id\":1}\n";
  std::thread sender([&] { SendAll(fd, huge + Request("echo", {{"after", true}}, 2)); });
  Json rejected = Json::parse(ReadLine(fd));
  EXPECT_EQ(rejected["error"]["code"], -32600);
  EXPECT_EQ(rejected["error"]["message"],
            "invalid request: the request line is longer than 1048576 bytes");
  Json next = Json::parse(ReadLine(fd));
  EXPECT_EQ(next["result"]["after"], true);
  EXPECT_EQ(next["id"], 2);
  sender.join();
  close(fd);
}

TEST_F(RpcSocketTest, TwoClientsAtOnceDoNotWaitForEachOthersLines) {
  StartServer();
  int a = Connect();
  int b = Connect();
  std::string request_a = Request("echo", {{"who", "a"}}, 1);
  SendAll(a, request_a.substr(0, 20));  // a's line is unfinished
  SendAll(b, Request("echo", {{"who", "b"}}, 2));
  EXPECT_EQ(Json::parse(ReadLine(b))["result"]["who"], "b");
  SendAll(a, request_a.substr(20));
  EXPECT_EQ(Json::parse(ReadLine(a))["result"]["who"], "a");
  close(a);
  close(b);
}

TEST_F(RpcSocketTest, ClientDisconnectingMidLineDisturbsNobody) {
  StartServer();
  int other = Connect();
  for (int i = 0; i < 5; ++i) {
    int quitter = Connect();
    SendAll(quitter, R"({"jsonrpc":"2.0","method":"ec)");
    close(quitter);
  }
  SendAll(other, Request("echo", {{"still", "here"}}, 1));
  EXPECT_EQ(Json::parse(ReadLine(other))["result"]["still"], "here");
  auto r = RpcCall(path_, "echo", {{"x", 1}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(server_->requests_served(), 2u);  // the partial lines were never served
  close(other);
}

TEST_F(RpcSocketTest, ClientsBeyondTheLimitAreToldWhy) {
  StartServer({.max_clients = 2});
  int a = Connect();
  int b = Connect();
  SendAll(a, Request("echo", Json::object(), 1));
  SendAll(b, Request("echo", Json::object(), 1));
  ReadLine(a);
  ReadLine(b);  // both accepted by now
  int c = Connect();
  Json refused = Json::parse(ReadLine(c));
  EXPECT_EQ(refused["error"]["message"], "too many control clients (at most 2)");
  EXPECT_EQ(server_->clients_rejected(), 1u);
  close(a);
  close(b);
  close(c);
}

TEST_F(RpcSocketTest, StaleSocketIsReplacedLiveOneIsNot) {
  StartServer();
  RpcServerOptions second;
  second.socket_path = path_;
  auto busy = RpcServer::Start(dispatcher_, second);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(busy.status().message(), "control socket " + path_ + " is in use by a running server");

  // A socket file nobody listens on (a crashed target) is taken over.
  server_->Stop();
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);
  ASSERT_TRUE(std::filesystem::exists(path_));
  StartServer();
  EXPECT_TRUE(RpcCall(path_, "echo", Json::object()).ok());
}

TEST_F(RpcSocketTest, StopRemovesTheSocketFile) {
  StartServer();
  EXPECT_TRUE(std::filesystem::exists(path_));
  server_->Stop();
  EXPECT_FALSE(std::filesystem::exists(path_));
  EXPECT_EQ(RpcCall(path_, "echo", Json::object()).status().code(), Code::kUnavailable);
}

TEST_F(RpcSocketTest, PathThatIsNotASocketIsRefused) {
  std::string file = dir_ + "/plain";
  FILE* f = fopen(file.c_str(), "w");
  fclose(f);
  RpcServerOptions o;
  o.socket_path = file;
  auto s = RpcServer::Start(dispatcher_, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "control socket " + file + ": the path exists and is not a socket");
}

TEST_F(RpcSocketTest, ReactorExecutorRunsHandlersOnTheReactorThread) {
  auto loop = reactor::Uring::Create(0);
  ASSERT_TRUE(loop.ok()) << loop.status().ToString();
  reactor::Uring* uring = loop->get();
  std::atomic<reactor::Reactor*> ran_on{nullptr};
  dispatcher_.Register("where", [&](const Json&) -> Result<Json> {
    ran_on = reactor::Current();
    return Json("here");
  });
  uring->StartThread();
  StartServer({.executor = ReactorExecutor(*uring, std::chrono::seconds(5))});
  auto r = RpcCall(path_, "where", Json::object());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ran_on.load(), uring);
  server_->Stop();
  uring->Stop();
  uring->Join();
}

TEST_F(RpcSocketTest, ReactorExecutorTimesOutOnAStoppedReactor) {
  auto loop = reactor::Uring::Create(0);
  ASSERT_TRUE(loop.ok()) << loop.status().ToString();
  // The loop never runs: the posted call waits forever, the executor does not.
  StartServer({.executor = ReactorExecutor(**loop, std::chrono::milliseconds(100))});
  auto r = RpcCall(path_, "echo", Json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTimedOut);
  EXPECT_EQ(r.status().message(), "timed out: the target did not answer within 0.1 s");
  server_->Stop();
  // Running the loop now runs the late call; it owns its arguments, so nothing dangles.
  (*loop)->RunOnce(std::chrono::milliseconds(10));
}

}  // namespace
}  // namespace nvmpath::control
