// host::QueuePair against a scripted controller (fake_controller.h) on reactor::Sim.
//
// Goal: every rule of the queue pair's side of NVMe/TCP, including the error paths: IC
// negotiation and the ICResp checks, Fabrics Connect, reads by C2HData + CapsuleResp and by
// SUCCESS, in-capsule and R2T/H2CData writes, timeouts, and teardown — a cut connection or a
// protocol error fails every outstanding command at once with 0x371, a stale CID is rejected.
// Method: the fake controller records what the host sends and the test scripts each reply; the
// simulated clock is advanced, never slept on.
#include "host/queue_pair.h"

#include <gtest/gtest.h>

#include <numeric>
#include <optional>

#include "fake_controller.h"
#include "reactor/sim.h"
#include "reactor/sim_network.h"

namespace nvmpath::host {
namespace {

using nvme::NvmeStatus;
using testing::FakeController;
namespace sc = nvme::sc;

constexpr char kAddr[] = "127.0.0.1";
constexpr uint16_t kPort = 4420;

class QueuePairTest : public ::testing::Test {
 protected:
  QueuePairTest() : world_(42), r_(world_.AddReactor()), fake_(r_, kAddr, kPort) {
    opts_.name = "q0";
    opts_.subnqn = "nqn.2024-01.io.nvmpath:sub";
    opts_.hostnqn = "nqn.2024-01.io.nvmpath:host";
    opts_.hostid[0] = 0xAB;
    opts_.kato_ms = 5000;
    opts_.command_timeout = std::chrono::seconds(30);
  }

  // Builds the queue pair and connects it; returns Connect's result.
  Result<uint16_t> Connect() {
    qp_ = std::make_unique<QueuePair>(
        r_, opts_,
        QueuePair::Events{.on_failed = [this](const Status& s) { failures_.push_back(s); },
                          .on_timeout = [this](const Status& s) { timeouts_.push_back(s); }});
    std::optional<Result<uint16_t>> out;
    qp_->Connect(kAddr, kPort, [&](Result<uint16_t> r) { out = std::move(r); });
    EXPECT_TRUE(world_.RunUntil([&] { return out.has_value(); }, std::chrono::seconds(20)));
    return out.value_or(Result<uint16_t>(Internal("no connect result")));
  }

  void Run(Duration d = std::chrono::milliseconds(1)) { world_.RunFor(d); }

  struct Done {
    bool called = false;
    CommandResult result;
    uint64_t event = 0;
  };
  QueuePair::Callback Track(Done* d) {
    return [this, d](const CommandResult& r) {
      EXPECT_FALSE(d->called) << "completed twice";
      d->called = true;
      d->result = r;
      d->event = world_.events_run();
    };
  }

  reactor::SimWorld world_;
  reactor::Sim* r_;
  FakeController fake_;
  QueuePairOptions opts_;
  std::unique_ptr<QueuePair> qp_;
  std::vector<Status> failures_;
  std::vector<Status> timeouts_;
};

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
  return v;
}

TEST_F(QueuePairTest, AdminConnectNegotiatesAndSendsConnect) {
  auto r = Connect();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 7);
  EXPECT_TRUE(qp_->live());
  EXPECT_EQ(qp_->maxh2cdata(), 16384u);
  ASSERT_GE(fake_.log.size(), 2u);
  const auto& ic = fake_.log[0];
  EXPECT_EQ(ic.type, tcp::PduType::kIcReq);
  EXPECT_EQ(ic.icreq.pfv, 0);
  EXPECT_EQ(ic.icreq.hpda, 0);
  EXPECT_EQ(ic.icreq.maxr2t, 0u);
  EXPECT_FALSE(ic.icreq.hdgst);
  ASSERT_TRUE(fake_.connect.has_value());
  const auto args = nvme::ConnectFieldsFrom(fake_.connect->sqe);
  EXPECT_EQ(args.qid, 0);
  EXPECT_EQ(args.sqsize, 31);
  EXPECT_EQ(args.kato_ms, 5000u);
  EXPECT_TRUE(args.cattr & nvme::kCattrDisableSqFlowControl);
  EXPECT_TRUE(fake_.connect->sqe.sgl1().IsInCapsule());
  auto data = nvme::ConnectData::Decode(fake_.connect->data);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->cntlid, nvme::kCntlidDynamic);
  EXPECT_EQ(data->subnqn, opts_.subnqn);
  EXPECT_EQ(data->hostnqn, opts_.hostnqn);
  EXPECT_EQ(data->hostid[0], 0xAB);
}

TEST_F(QueuePairTest, IoQueueConnectCarriesCntlidAndNoKato) {
  opts_.qid = 3;
  opts_.cntlid = 7;
  opts_.queue_size = 128;
  ASSERT_TRUE(Connect().ok());
  const auto args = nvme::ConnectFieldsFrom(fake_.connect->sqe);
  EXPECT_EQ(args.qid, 3);
  EXPECT_EQ(args.sqsize, 127);
  EXPECT_EQ(args.kato_ms, 0u);
  EXPECT_EQ(nvme::ConnectData::Decode(fake_.connect->data)->cntlid, 7);
  EXPECT_EQ(qp_->capacity(), 127u);
}

TEST_F(QueuePairTest, DigestsNegotiatedAndUsedForReads) {
  opts_.hdgst = opts_.ddgst = true;
  ASSERT_TRUE(Connect().ok());
  EXPECT_TRUE(fake_.log[0].icreq.hdgst && fake_.log[0].icreq.ddgst);
  std::vector<uint8_t> buf(4096);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeRead(0, 1, 0, 8, {}), buf, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  ASSERT_TRUE(cmd);
  EXPECT_TRUE(cmd->flags & tcp::kFlagHdgst);
  auto payload = Pattern(4096, 3);
  fake_.SendC2H(cmd->sqe.cid, 0, payload, true);
  fake_.SendResp(cmd->sqe.cid);
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_TRUE(d.result.status.ok());
  EXPECT_EQ(buf, payload);
}

// Each bad ICResp fails Connect with a protocol error naming the field.
TEST_F(QueuePairTest, BadIcRespRejected) {
  struct Case {
    const char* name;
    tcp::IcResp resp;
    bool host_hdgst;
    const char* expect;
  };
  const Case cases[] = {
      {"hdgst not requested", {.hdgst = true, .maxh2cdata = 8192}, false, "header digest enabled"},
      {"ddgst refused", {.ddgst = false, .maxh2cdata = 8192}, true, "header digest disabled"},
      {"maxh2cdata small", {.maxh2cdata = 1024}, false, "MAXH2CDATA 1024"},
      {"maxh2cdata unaligned", {.maxh2cdata = 4098}, false, "MAXH2CDATA 4098"},
      {"pfv", {.pfv = 1, .maxh2cdata = 8192}, false, "PFV 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fake_.auto_icresp = c.resp;
    fake_.echo_digests = false;
    opts_.hdgst = c.host_hdgst;
    auto r = Connect();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kProtocol) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().ToString();
    EXPECT_EQ(qp_->state(), QueueState::kFailed);
    EXPECT_TRUE(failures_.empty()) << "on_failed is for live queues; Connect reports setup errors";
    qp_.reset();
    Run();
  }
}

TEST_F(QueuePairTest, ConnectErrorStatusReported) {
  fake_.auto_connect_cntlid.reset();
  qp_ = std::make_unique<QueuePair>(r_, opts_, QueuePair::Events{});
  std::optional<Result<uint16_t>> out;
  qp_->Connect(kAddr, kPort, [&](Result<uint16_t> r) { out = std::move(r); });
  ASSERT_TRUE(world_.RunUntil([&] { return !fake_.received.empty(); }, std::chrono::seconds(1)));
  auto cmd = fake_.NextCommand();
  fake_.SendResp(cmd->sqe.cid, NvmeStatus::Of(sc::kConnectInvalidHost, /*dnr=*/true));
  ASSERT_TRUE(world_.RunUntil([&] { return out.has_value(); }, std::chrono::seconds(1)));
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->status().code(), Code::kIoError);
  EXPECT_TRUE(qp_->connect_status().dnr());
  EXPECT_EQ(qp_->connect_status().code(), sc::kConnectInvalidHost);
}

TEST_F(QueuePairTest, ConnectRefusedAndConnectTimeout) {
  world_.network().SetRefuse(kAddr, kPort, true);
  auto r = Connect();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  world_.network().SetRefuse(kAddr, kPort, false);
  fake_.auto_icresp.reset();  // never answer ICReq
  opts_.connect_timeout = std::chrono::seconds(3);
  const TimePoint start = world_.now();
  r = Connect();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTimedOut) << r.status().ToString();
  EXPECT_GE(world_.now() - start, std::chrono::seconds(3));
}

TEST_F(QueuePairTest, ReadByC2HDataThenCapsuleResp) {
  ASSERT_TRUE(Connect().ok());
  std::vector<uint8_t> buf(8192, 0);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeRead(0, 1, 100, 16, {}), buf, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  ASSERT_TRUE(cmd);
  EXPECT_EQ(cmd->sqe.opcode, 0x02);
  EXPECT_TRUE(cmd->sqe.sgl1().IsTransport());
  EXPECT_EQ(cmd->sqe.sgl1().length, 8192u);
  auto payload = Pattern(8192, 1);
  fake_.SendC2H(cmd->sqe.cid, 0, std::span(payload).first(4096), false);
  fake_.SendC2H(cmd->sqe.cid, 4096, std::span(payload).subspan(4096), true);
  Run();
  EXPECT_FALSE(d.called) << "no SUCCESS flag: the CapsuleResp completes the command";
  fake_.SendResp(cmd->sqe.cid, {}, 0x1234, 0x5678);
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_TRUE(d.result.status.ok());
  EXPECT_EQ(d.result.dw0, 0x1234u);
  EXPECT_EQ(d.result.dw1, 0x5678u);
  EXPECT_EQ(buf, payload);
  EXPECT_EQ(qp_->in_flight(), 0u);
}

TEST_F(QueuePairTest, ReadCompletedBySuccessFlag) {
  ASSERT_TRUE(Connect().ok());
  std::vector<uint8_t> buf(4096, 0);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeRead(0, 1, 0, 8, {}), buf, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  auto payload = Pattern(4096, 9);
  fake_.SendC2H(cmd->sqe.cid, 0, payload, true, /*success=*/true);
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_TRUE(d.result.status.ok());
  EXPECT_EQ(buf, payload);
  EXPECT_TRUE(qp_->live());
}

TEST_F(QueuePairTest, SuccessWithMissingDataIsProtocolError) {
  ASSERT_TRUE(Connect().ok());
  std::vector<uint8_t> buf(8192);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeRead(0, 1, 0, 16, {}), buf, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  fake_.SendC2H(cmd->sqe.cid, 0, Pattern(4096, 0), true, true);
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_EQ(d.result.status.code(), sc::kAbortedByHost);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_EQ(failures_[0].code(), Code::kProtocol);
}

TEST_F(QueuePairTest, InCapsuleWrite) {
  ASSERT_TRUE(Connect().ok());
  auto payload = Pattern(4096, 5);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeWrite(0, 1, 8, 8, {}), payload, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  ASSERT_TRUE(cmd);
  EXPECT_TRUE(cmd->sqe.sgl1().IsInCapsule());
  EXPECT_EQ(cmd->sqe.sgl1().length, 4096u);
  EXPECT_EQ(cmd->data, payload);
  fake_.SendResp(cmd->sqe.cid);
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_TRUE(d.result.status.ok());
}

TEST_F(QueuePairTest, R2TWriteWithSeveralR2TsAndMaxH2CDataChunks) {
  opts_.in_capsule_max = 4096;
  ASSERT_TRUE(Connect().ok());
  auto payload = Pattern(64 * 1024, 11);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeWrite(0, 1, 0, 128, {}), payload, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  ASSERT_TRUE(cmd);
  EXPECT_TRUE(cmd->sqe.sgl1().IsTransport());
  EXPECT_TRUE(cmd->data.empty());
  std::vector<uint8_t> got(payload.size());
  int pdus = 0;
  for (uint32_t off : {0u, 32768u}) {
    fake_.SendR2T(cmd->sqe.cid, static_cast<uint16_t>(off / 1024), off, 32768);
    Run();
    while (!fake_.received.empty()) {
      auto p = fake_.received.front();
      fake_.received.pop_front();
      ASSERT_EQ(p.type, tcp::PduType::kH2CData);
      EXPECT_EQ(p.h2c.cccid, cmd->sqe.cid);
      EXPECT_EQ(p.h2c.ttag, off / 1024);
      EXPECT_LE(p.data.size(), 16384u) << "chunks respect MAXH2CDATA";
      EXPECT_EQ(p.h2c.last, p.h2c.datao + p.data.size() == off + 32768);
      std::copy(p.data.begin(), p.data.end(), got.begin() + p.h2c.datao);
      ++pdus;
    }
  }
  EXPECT_EQ(pdus, 4);
  EXPECT_EQ(got, payload);
  EXPECT_FALSE(d.called);
  fake_.SendResp(cmd->sqe.cid);
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_TRUE(d.result.status.ok());
}

TEST_F(QueuePairTest, R2TWithDataDigest) {
  opts_.ddgst = true;
  opts_.in_capsule_max = 0;
  ASSERT_TRUE(Connect().ok());
  auto payload = Pattern(8192, 2);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeWrite(0, 1, 0, 16, {}), payload, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  fake_.SendR2T(cmd->sqe.cid, 1, 0, 8192);
  Run();
  EXPECT_FALSE(fake_.decode_error.has_value()) << "the controller's decoder checked our digests";
  ASSERT_EQ(fake_.received.size(), 1u);
  EXPECT_TRUE(fake_.received.front().flags & tcp::kFlagDdgst);
  EXPECT_EQ(fake_.received.front().data, payload);
  qp_.reset();  // completes the write (0x371) while `d` still exists
  EXPECT_TRUE(d.called);
}

TEST_F(QueuePairTest, BadR2TFailsTheConnection) {
  opts_.in_capsule_max = 0;
  ASSERT_TRUE(Connect().ok());
  auto payload = Pattern(8192, 2);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeWrite(0, 1, 0, 16, {}), payload, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  fake_.SendR2T(cmd->sqe.cid, 1, 4096, 4096);  // fine: second half first
  Run();
  fake_.received.clear();
  fake_.SendR2T(cmd->sqe.cid, 1, 0, 4096);  // behind what was already sent
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_EQ(d.result.status.code(), sc::kAbortedByHost);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_NE(failures_[0].message().find("R2TO 0"), std::string::npos) << failures_[0].ToString();
  // The host told the controller why (H2CTermReq, FES 4).
  ASSERT_FALSE(fake_.received.empty());
  EXPECT_EQ(fake_.received.back().type, tcp::PduType::kH2CTermReq);
  EXPECT_EQ(fake_.received.back().term.fes, tcp::Fes::kDataOutOfRange);
}

TEST_F(QueuePairTest, R2TForReadRejected) {
  ASSERT_TRUE(Connect().ok());
  std::vector<uint8_t> buf(4096);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeRead(0, 1, 0, 8, {}), buf, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  fake_.SendR2T(cmd->sqe.cid, 1, 0, 4096);
  Run();
  EXPECT_EQ(d.result.status.code(), sc::kAbortedByHost);
  EXPECT_EQ(qp_->state(), QueueState::kFailed);
}

TEST_F(QueuePairTest, CommandTimeoutReportedOnceToOwner) {
  ASSERT_TRUE(Connect().ok());
  Done d, aer;
  ASSERT_TRUE(qp_->Submit(nvme::MakeFlush(0, 1), {}, Track(&d)).ok());
  ASSERT_TRUE(qp_->Submit(nvme::MakeAsyncEventRequest(0), {}, Track(&aer), QueuePair::kNoTimeout).ok());
  world_.RunFor(std::chrono::seconds(29));
  EXPECT_TRUE(timeouts_.empty());
  world_.RunFor(std::chrono::seconds(5));
  ASSERT_EQ(timeouts_.size(), 1u);
  EXPECT_EQ(timeouts_[0].code(), Code::kTimedOut);
  EXPECT_NE(timeouts_[0].message().find("command 0x00"), std::string::npos);
  world_.RunFor(std::chrono::seconds(60));
  EXPECT_EQ(timeouts_.size(), 1u) << "reported once; the AER has no timeout";
  EXPECT_FALSE(d.called) << "the owner decides: it resets the controller";
  qp_->Fail(Unavailable("reset"));
  EXPECT_TRUE(d.called && aer.called);
  EXPECT_EQ(d.result.status.code(), sc::kAbortedByHost);
  EXPECT_TRUE(failures_.empty()) << "Fail() by the owner does not call on_failed";
}

TEST_F(QueuePairTest, CutFailsEveryOutstandingCommandAtOnce) {
  ASSERT_TRUE(Connect().ok());
  std::vector<uint8_t> b1(4096), b2(4096);
  auto w = Pattern(4096, 4);
  Done d[4];
  ASSERT_TRUE(qp_->Submit(nvme::MakeRead(0, 1, 0, 8, {}), b1, Track(&d[0])).ok());
  ASSERT_TRUE(qp_->Submit(nvme::MakeRead(0, 1, 8, 8, {}), b2, Track(&d[1])).ok());
  ASSERT_TRUE(qp_->Submit(nvme::MakeWrite(0, 1, 8, 8, {}), w, Track(&d[2])).ok());
  ASSERT_TRUE(qp_->Submit(nvme::MakeAsyncEventRequest(0), {}, Track(&d[3]), QueuePair::kNoTimeout).ok());
  Run();
  EXPECT_EQ(qp_->in_flight(), 4u);
  EXPECT_EQ(world_.network().Cut(kAddr, kPort), 1u);
  Run();
  for (auto& x : d) {
    ASSERT_TRUE(x.called);
    EXPECT_EQ(x.result.status.code(), sc::kAbortedByHost);
    EXPECT_EQ(x.event, d[0].event) << "all in the same event";
  }
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_EQ(failures_[0].code(), Code::kUnavailable);
  EXPECT_EQ(qp_->in_flight(), 0u);
  // A queue that failed stays failed: new commands get 0x370, after Submit returns.
  Done late;
  ASSERT_TRUE(qp_->Submit(nvme::MakeFlush(0, 1), {}, Track(&late)).ok());
  EXPECT_FALSE(late.called);
  Run();
  ASSERT_TRUE(late.called);
  EXPECT_EQ(late.result.status.code(), sc::kHostPathError);
}

TEST_F(QueuePairTest, ControllerCloseAndTermReqFailTheQueue) {
  ASSERT_TRUE(Connect().ok());
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeFlush(0, 1), {}, Track(&d)).ok());
  Run();
  std::vector<uint8_t> term;
  tcp::AppendTermReq(term, tcp::PduType::kC2HTermReq, {tcp::Fes::kHeaderDigestError, 0}, {});
  fake_.SendRaw(term);
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_EQ(d.result.status.code(), sc::kAbortedByHost);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_NE(failures_[0].message().find("terminated"), std::string::npos);
}

TEST_F(QueuePairTest, StaleCidRejected) {
  ASSERT_TRUE(Connect().ok());
  Done a, b;
  ASSERT_TRUE(qp_->Submit(nvme::MakeFlush(0, 1), {}, Track(&a)).ok());
  Run();
  auto ca = fake_.NextCommand();
  fake_.SendResp(ca->sqe.cid);
  Run();
  ASSERT_TRUE(a.called && a.result.status.ok());
  ASSERT_TRUE(qp_->Submit(nvme::MakeFlush(0, 1), {}, Track(&b)).ok());
  Run();
  auto cb = fake_.NextCommand();
  EXPECT_EQ(ca->sqe.cid & 0xFFF, cb->sqe.cid & 0xFFF) << "the tag is reused";
  EXPECT_NE(ca->sqe.cid, cb->sqe.cid) << "with a new generation";
  fake_.SendResp(ca->sqe.cid);  // a duplicate of the first completion
  Run();
  ASSERT_TRUE(b.called);
  EXPECT_EQ(b.result.status.code(), sc::kAbortedByHost) << "B must not be completed by A's CQE";
  EXPECT_EQ(qp_->stale_completions(), 1u);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_NE(failures_[0].message().find("stale generation"), std::string::npos)
      << failures_[0].ToString();
}

TEST_F(QueuePairTest, UnknownCidRejected) {
  ASSERT_TRUE(Connect().ok());
  fake_.SendResp(0x0ABC);
  Run();
  EXPECT_EQ(qp_->state(), QueueState::kFailed);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_NE(failures_[0].message().find("unknown tag"), std::string::npos);
}

TEST_F(QueuePairTest, DataDigestErrorFailsTheQueue) {
  opts_.ddgst = true;
  ASSERT_TRUE(Connect().ok());
  std::vector<uint8_t> buf(4096);
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeRead(0, 1, 0, 8, {}), buf, Track(&d)).ok());
  Run();
  auto cmd = fake_.NextCommand();
  fake_.CorruptNextDataDigest();
  fake_.SendC2H(cmd->sqe.cid, 0, Pattern(4096, 1), true, true);
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_EQ(d.result.status.code(), sc::kAbortedByHost);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_NE(failures_[0].message().find("digest"), std::string::npos) << failures_[0].ToString();
}

TEST_F(QueuePairTest, NotLiveCompletesWith0x370AndFullQueueRefuses) {
  qp_ = std::make_unique<QueuePair>(r_, opts_, QueuePair::Events{});
  Done d;
  ASSERT_TRUE(qp_->Submit(nvme::MakeFlush(0, 1), {}, Track(&d)).ok());
  EXPECT_FALSE(d.called) << "never inside Submit";
  Run();
  ASSERT_TRUE(d.called);
  EXPECT_EQ(d.result.status.code(), sc::kHostPathError);

  opts_.queue_size = 4;
  ASSERT_TRUE(Connect().ok());
  Done q[3];
  for (auto& x : q) ASSERT_TRUE(qp_->Submit(nvme::MakeFlush(0, 1), {}, Track(&x)).ok());
  Done extra;
  Status st = qp_->Submit(nvme::MakeFlush(0, 1), {}, Track(&extra));
  EXPECT_EQ(st.code(), Code::kUnavailable);
  Run();
  EXPECT_FALSE(extra.called);
  qp_->Close();
  for (auto& x : q) EXPECT_EQ(x.result.status.code(), sc::kAbortedByHost);
  EXPECT_EQ(qp_->state(), QueueState::kClosed);
}

TEST(QueueStateTest, TransitionsFollowTheSetupOrder) {
  using S = QueueState;
  EXPECT_TRUE(QueueStateTransitionAllowed(S::kNew, S::kTcpConnecting));
  EXPECT_TRUE(QueueStateTransitionAllowed(S::kFabricsConnect, S::kLive));
  EXPECT_TRUE(QueueStateTransitionAllowed(S::kLive, S::kFailed));
  EXPECT_FALSE(QueueStateTransitionAllowed(S::kNew, S::kLive));
  EXPECT_FALSE(QueueStateTransitionAllowed(S::kFailed, S::kLive));
  EXPECT_FALSE(QueueStateTransitionAllowed(S::kClosed, S::kFailed));
  EXPECT_FALSE(QueueStateTransitionAllowed(S::kLive, S::kIcExchange));
}

}  // namespace
}  // namespace nvmpath::host
