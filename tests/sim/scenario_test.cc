// The scenario engine's parts on their own: the seeded schedule (same seed, same faults; every
// lasting fault undone later; events counted once), the runner's report of a fault the model
// cannot play (a check that must be able to fire), and the translation of faults to the target's
// control calls (what it refuses, and the model it keeps for a restart).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <variant>

#include "reactor/sim.h"
#include "sim/mem_fabric.h"
#include "sim/remap_storm.h"
#include "sim/runner.h"
#include "sim/schedule.h"
#include "sim/target_faults.h"
#include "sim/tcp_storm.h"

namespace nvmpath::sim {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> Lines(const Schedule& s) {
  std::vector<std::string> out;
  for (const TimedFault& e : s) {
    out.push_back(fmt::format("{} {} {}", ToMicros(e.at), e.primary, Describe(e)));
  }
  return out;
}

TEST(Schedule, SameSeedSameFaultsOtherSeedOthers) {
  const StormShape shape{.ports = 3, .namespaces = 2, .events = 50};
  EXPECT_EQ(Lines(MakeStormSchedule(9, TcpStormMix(), shape)),
            Lines(MakeStormSchedule(9, TcpStormMix(), shape)));
  EXPECT_NE(Lines(MakeStormSchedule(9, TcpStormMix(), shape)),
            Lines(MakeStormSchedule(10, TcpStormMix(), shape)));
}

TEST(Schedule, EventsCountedOnceAndInTimeOrder) {
  const StormShape shape{.ports = 4, .namespaces = 2, .events = 200};
  const Schedule s = MakeStormSchedule(3, TcpStormMix(), shape);
  int primary = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    primary += s[i].primary;
    if (i > 0) {
      EXPECT_LE(s[i - 1].at, s[i].at) << i;
    }
  }
  EXPECT_EQ(primary, 200);
  EXPECT_GT(s.size(), 200u) << "no fault that lasts was drawn in 200 events";
}

// A port is disabled only while enabled, and every disable has its enable later; likewise the
// target is not killed while down and every kill has its restart.
TEST(Schedule, LastingFaultsAreUndoneAndNeverStacked) {
  const StormShape shape{.ports = 3, .namespaces = 2, .events = 400};
  const Schedule s = MakeStormSchedule(5, TcpStormMix(), shape);
  std::vector<int> disabled(3, 0);
  int down = 0, kills = 0;
  for (const TimedFault& e : s) {
    if (auto* f = std::get_if<fault::PortEnabled>(&e.fault)) {
      disabled[f->port] += f->enabled ? -1 : 1;
      EXPECT_GE(disabled[f->port], 0);
      EXPECT_LE(disabled[f->port], 1) << "port " << f->port + 1 << " disabled twice";
    }
    if (std::holds_alternative<fault::TargetKill>(e.fault)) {
      ++kills;
      EXPECT_EQ(down++, 0) << "target killed while down";
    }
    if (std::holds_alternative<fault::TargetRestart>(e.fault)) --down;
  }
  EXPECT_EQ(down, 0);
  EXPECT_GT(kills, 0);
  for (int d : disabled) EXPECT_EQ(d, 0);
}

// Both storms draw remaps, each with an identity not used before, and never while the namespace
// is removed (its NsPresent undo is due).
TEST(Schedule, BothStormsDrawRemapsOfPresentNamespacesWithNewIdentities) {
  const StormShape shape{.ports = 3, .namespaces = 2, .events = 400};
  for (const FaultMix& mix : {RemapStormMix(), TcpStormMix()}) {
    const Schedule s = MakeStormSchedule(5, mix, shape);
    std::vector<bool> absent(2, false);
    std::set<uint32_t> identities;
    for (const TimedFault& e : s) {
      if (auto* f = std::get_if<fault::NsPresent>(&e.fault)) absent[f->ns] = !f->present;
      if (auto* f = std::get_if<fault::NsRemapped>(&e.fault)) {
        EXPECT_FALSE(absent[f->ns]) << "namespace " << f->ns + 1 << " remapped while removed";
        EXPECT_TRUE(identities.insert(f->identity).second) << "identity " << f->identity << " twice";
      }
    }
    EXPECT_GT(identities.size(), 3u) << "a storm that draws (next to) no remaps";
  }
}

TEST(Fault, DescribeCountsPortsAndNamespacesFromOne) {
  EXPECT_EQ(Describe(Fault(fault::Ana{1, 0, nvme::AnaState::kInaccessible})),
            "port 2: namespace 1 ANA inaccessible");
  EXPECT_EQ(Describe(TimedFault{0us, fault::PortEnabled{0, false}, true, "why"}),
            "port 1 disabled (why)");
}

// The runner's check that every fault plays: in-process paths have no links, so a schedule with
// a link cut reports it, naming the fault, and the run still ends cleanly.
TEST(Runner, AFaultTheModelCannotPlayIsReported) {
  MemFabric fabric(MemFabricOptions{.seed = 2});
  const Schedule s = {{100us, fault::Ana{0, 0, nvme::AnaState::kNonOptimized}, true, {}},
                      {200us, fault::LinkCut{1}, true, {}}};
  const ScenarioReport r = RunScenario(fabric, s, ScenarioOptions{.seed = 2});
  EXPECT_EQ(r.events, 2u);
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_NE(r.violations[0].find("\"link to port 2 cut\" did not play"), std::string::npos)
      << r.violations[0];
  EXPECT_NE(r.violations[0].find("in-process paths have no links"), std::string::npos);
  EXPECT_GT(r.ios, 0u);
  EXPECT_FALSE(r.hung);
}

// Entries after the last event never play: the heal undoes everything then.
TEST(Runner, UndoEntriesAfterTheLastEventDoNotPlay) {
  MemFabric fabric(MemFabricOptions{.seed = 4});
  std::vector<std::string> lines;
  const Schedule s = {{100us, fault::StallResponses{0, true}, true, {}},
                      {5ms, fault::StallResponses{0, false}, false, {}}};
  ScenarioOptions o{.seed = 4};
  o.on_line = [&](const std::string& l) { lines.push_back(l); };
  const ScenarioReport r = RunScenario(fabric, s, o);
  EXPECT_TRUE(r.ok()) << r.violations[0];
  for (const std::string& l : lines) EXPECT_EQ(l.find("resumes"), std::string::npos) << l;
}

TEST(TargetFaults, BadIndexAndForeignFaultsAreRefused) {
  TargetModel m = TargetModel::Make("nqn.2026-11.io.nvmpath:t", 2, 4420, 1, 1 << 20);
  Status st = ApplyToTarget(nullptr, m, fault::Ana{2, 0, nvme::AnaState::kOptimized});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("no port 3 or namespace 1"), std::string::npos) << st.ToString();
  st = ApplyToTarget(nullptr, m, fault::LinkCut{0});
  EXPECT_EQ(st.code(), Code::kUnsupported);
  EXPECT_NE(st.message().find("link to port 1 cut"), std::string::npos) << st.ToString();
}

// A target down keeps the model current, so a restart comes up as the faults left it: port 2
// disabled, the namespace away, port 1's ANA state changed.
TEST(TargetFaults, TheModelIsWhatARestartedTargetComesUpWith) {
  TargetModel m = TargetModel::Make("nqn.2026-11.io.nvmpath:t", 2, 4420, 1, 1 << 20);
  ASSERT_TRUE(ApplyToTarget(nullptr, m, fault::PortEnabled{1, false}).ok());
  ASSERT_TRUE(ApplyToTarget(nullptr, m, fault::Ana{0, 0, nvme::AnaState::kChange}).ok());
  ASSERT_TRUE(ApplyToTarget(nullptr, m, fault::NsPresent{0, false}).ok());
  const target::TargetConfig c = m.Config();
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_TRUE(c.ports[0].enabled);
  EXPECT_FALSE(c.ports[1].enabled);
  EXPECT_TRUE(c.subsystems[0].namespaces.empty());
  EXPECT_EQ(c.ana[0].state, nvme::AnaState::kChange);
  m.Heal();
  EXPECT_TRUE(m.Config().ports[1].enabled);
  EXPECT_EQ(m.Config().ana[0].state, nvme::AnaState::kOptimized);
}

}  // namespace
}  // namespace nvmpath::sim

namespace nvmpath::sim {
namespace {

// The same faults said over the target's control socket: the methods and fields `nvmpath
// target-ctl` sends, counted from 1, with the model kept as ApplyToTarget keeps it.
TEST(TargetFaults, FaultsSaidAsControlRequests) {
  TargetModel m = TargetModel::Make("nqn.2026-11.io.nvmpath:t", 4, 4420, 2, 1 << 20);
  auto ana = FaultToRpc(m, fault::Ana{2, 1, nvme::AnaState::kInaccessible});
  ASSERT_TRUE(ana.ok()) << ana.status().ToString();
  ASSERT_EQ(ana->size(), 1u);
  EXPECT_EQ((*ana)[0].method, "ana_set");
  EXPECT_EQ((*ana)[0].params, (nlohmann::json{{"port", 3}, {"group", 2}, {"state", "inaccessible"}}));
  EXPECT_EQ(m.ana[2][1], nvme::AnaState::kInaccessible);
  auto late = FaultToRpc(m, fault::LateWrites{0, 2, 100ms});
  ASSERT_TRUE(late.ok());
  EXPECT_EQ((*late)[0].params, (nlohmann::json{{"port", 1}, {"count", 2}, {"delay_ms", 100}}));
  auto back = FaultToRpc(m, fault::NsPresent{1, false});
  ASSERT_TRUE(back.ok());
  back = FaultToRpc(m, fault::NsPresent{1, true});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].method, "ns_add");
  EXPECT_EQ((*back)[0].params["namespace"]["nsid"], 2);
  EXPECT_FALSE(FaultToRpc(m, fault::LinkStall{0, true}).ok());
}

}  // namespace
}  // namespace nvmpath::sim

namespace nvmpath::sim {
namespace {

// Expectations attached to schedule steps: a met one leaves the report clean and shows in the
// timeline; one not met is a violation that names its step, its fault and what was expected, and
// the run goes on to the next step (both failures are reported).
TEST(Runner, StepExpectationsMetAndNotMet) {
  MemFabric fabric(MemFabricOptions{.seed = 6});
  auto head_ios = [&fabric] {
    uint64_t n = 0;
    for (mpath::Head* h : fabric.heads()) n += h->TEST_Stats().head.completed;
    return n;
  };
  Schedule s = {{100us, fault::Ana{0, 0, nvme::AnaState::kNonOptimized}, true, {}, {}},
                {200us, fault::Ana{0, 0, nvme::AnaState::kOptimized}, true, {}, {}}};
  s[0].expect.push_back(Over("I/O goes on over 2 ms", 2ms, [&] {
    const uint64_t before = head_ios();
    return [&, before] { return head_ios() > before; };
  }));
  s[0].expect.push_back(Eventually("the clock reaches 1 ms", [&] { return true; }, 1ms));
  std::vector<std::string> lines;
  ScenarioOptions o{.seed = 6};
  o.on_line = [&](const std::string& l) { lines.push_back(l); };
  ScenarioReport r = RunScenario(fabric, s, o);
  EXPECT_TRUE(r.ok()) << r.violations[0];
  EXPECT_EQ(r.events, 2u);
  int met = 0;
  for (const std::string& l : lines) met += l.find("I/O goes on over 2 ms — met") != std::string::npos;
  EXPECT_EQ(met, 1);

  // The same schedule with expectations that cannot hold.
  MemFabric again(MemFabricOptions{.seed = 6});
  s[0].expect = {Eventually("no head ever completes an I/O again", [] { return false; }, 3ms)};
  s[1].expect = {Over("I/O stops", 1ms, [] { return [] { return false; }; })};
  r = RunScenario(again, s, ScenarioOptions{.seed = 6});
  ASSERT_EQ(r.violations.size(), 2u) << ::testing::PrintToString(r.violations);
  EXPECT_NE(r.violations[0].find("after step 1 (\"port 1: namespace 1 ANA non-optimized\"): "
                                 "expected no head ever completes an I/O again, not met within 3 ms"),
            std::string::npos)
      << r.violations[0];
  EXPECT_NE(r.violations[1].find("after step 2"), std::string::npos) << r.violations[1];
  EXPECT_NE(r.violations[1].find("expected I/O stops, not met;"), std::string::npos);
  EXPECT_FALSE(r.hung);
}

// A step waits for its predecessor's expectations: entries at 0 play one after the other.
TEST(Runner, StepsAtZeroPlayAfterThePreviousExpectations) {
  MemFabric fabric(MemFabricOptions{.seed = 8});
  std::vector<TimePoint> played;
  Schedule s = {{100us, fault::Ana{0, 0, nvme::AnaState::kNonOptimized}, true, {}, {}},
                {0us, fault::Ana{0, 0, nvme::AnaState::kOptimized}, true, {}, {}}};
  s[0].expect = {Over("5 ms pass", 5ms, [] { return [] { return true; }; })};
  ScenarioOptions o{.seed = 8};
  o.before_fault = [&](const TimedFault&) { played.push_back(fabric.now()); };
  const ScenarioReport r = RunScenario(fabric, s, o);
  EXPECT_TRUE(r.ok()) << r.violations[0];
  ASSERT_EQ(played.size(), 2u);
  EXPECT_GE(played[1] - played[0], 5ms);
}

// A remap: the namespace back with new identifiers, derived from (namespace, identity), on the
// same file; said to a target process as ns_remove + ns_add carrying the identifiers.
TEST(TargetFaults, RemappedNamespaceComesBackWithNewIdentifiers) {
  TargetModel m = TargetModel::Make("nqn.2026-11.io.nvmpath:t", 2, 4420, 2, 1 << 20,
                                    {"/tmp/ns1", "/tmp/ns2"});
  EXPECT_FALSE(m.NsConfig(0).nguid.has_value());  // the target's own identifiers until a remap
  auto calls = FaultToRpc(m, fault::NsRemapped{0, 1});
  ASSERT_TRUE(calls.ok()) << calls.status().ToString();
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[0].method, "ns_remove");
  EXPECT_EQ((*calls)[1].method, "ns_add");
  const nlohmann::json first = (*calls)[1].params["namespace"];
  EXPECT_EQ(first["path"], "/tmp/ns1");
  ASSERT_TRUE(first.contains("nguid") && first.contains("uuid") && first.contains("eui64"));
  const target::NamespaceConfig one = m.NsConfig(0);
  EXPECT_EQ((*one.uuid)[6] >> 4, 4);  // a version 4 UUID
  EXPECT_EQ((*one.uuid)[8] >> 6, 2);  // variant 1

  // Removed first, then remapped: only the add; another identity, other identifiers; the other
  // namespace with the same identity number differs too.
  ASSERT_TRUE(FaultToRpc(m, fault::NsPresent{0, false}).ok());
  calls = FaultToRpc(m, fault::NsRemapped{0, 2});
  ASSERT_TRUE(calls.ok());
  ASSERT_EQ(calls->size(), 1u);
  EXPECT_EQ((*calls)[0].method, "ns_add");
  const nlohmann::json second = (*calls)[0].params["namespace"];
  EXPECT_NE(second["nguid"], first["nguid"]);
  EXPECT_NE(second["uuid"], first["uuid"]);
  EXPECT_NE(second["eui64"], first["eui64"]);
  ASSERT_TRUE(ApplyToTarget(nullptr, m, fault::NsRemapped{1, 2}).ok());
  EXPECT_NE(m.NsConfig(1).nguid, m.NsConfig(0).nguid);
  // A restarted target comes up with the identifiers of the last remap.
  EXPECT_EQ(m.Config().subsystems[0].namespaces[0].nguid, m.NsConfig(0).nguid);
  EXPECT_EQ(ApplyToTarget(nullptr, m, fault::NsRemapped{0, 0}).code(), Code::kInvalidArgument);
}

// Both models play a remap: in-process paths leave and come back; on the real target the host
// takes the new identifiers into the same head, I/O and data intact.
TEST(Runner, RemapPlaysOnBothFabrics) {
  const Schedule s = {{200us, fault::NsRemapped{0, 1}, true, {}, {}},
                      {2ms, fault::NsRemapped{0, 2}, true, {}, {}}};
  MemFabric mem(MemFabricOptions{.seed = 3});
  ScenarioReport r = RunScenario(mem, s, ScenarioOptions{.seed = 3});
  EXPECT_TRUE(r.ok()) << r.violations[0];
  EXPECT_EQ(r.mismatches, 0u);

  TcpFabric tcp(TcpFabricOptions{.seed = 3});
  Schedule t = s;
  t[1].expect = {Eventually("every path back under the new identifiers",
                            [&tcp] { return tcp.AllPathsBack(); }, 2s)};
  r = RunScenario(tcp, t, ScenarioOptions{.seed = 3, .run_for = 5ms});
  EXPECT_TRUE(r.ok()) << r.violations[0];
  EXPECT_EQ(r.mismatches, 0u);
  EXPECT_GT(r.readback_blocks, 0u);
}

}  // namespace
}  // namespace nvmpath::sim

namespace nvmpath::sim {
namespace {

// A checkpoint breaks nothing on any model: it only carries expectations.
TEST(Fault, CheckpointPlaysAsNothingEverywhere) {
  EXPECT_EQ(Describe(Fault(fault::Checkpoint{})), "checkpoint");
  TargetModel m = TargetModel::Make("nqn.2026-11.io.nvmpath:t", 2, 4420, 1, 1 << 20);
  auto calls = FaultToRpc(m, fault::Checkpoint{});
  ASSERT_TRUE(calls.ok());
  EXPECT_TRUE(calls->empty());
  EXPECT_TRUE(ApplyToTarget(nullptr, m, fault::Checkpoint{}).ok());
  MemFabric fabric(MemFabricOptions{.seed = 9});
  bool checked = false;
  Schedule s = {{.at = 100us, .fault = fault::Checkpoint{}}};
  s[0].expect = {Eventually("checked", [&] { return checked = true; }, 0us)};
  const ScenarioReport r = RunScenario(fabric, s, ScenarioOptions{.seed = 9});
  EXPECT_TRUE(r.ok()) << r.violations[0];
  EXPECT_TRUE(checked);
}

}  // namespace
}  // namespace nvmpath::sim

namespace nvmpath::sim {
namespace {

// The host's own fault plays on every fabric's heads: the named head's policy changes, the other
// head's does not; a head the host does not have is refused (the runner reports it); the target
// refuses it as not its own.
TEST(Fault, HostPolicyPlaysOnTheHostOfEveryFabric) {
  EXPECT_EQ(Describe(Fault(fault::HostPolicy{1, mpath::Policy::kQueueDepth})),
            "host: namespace 2 I/O policy queue-depth");
  TargetModel m = TargetModel::Make("nqn.2026-11.io.nvmpath:t", 2, 4420, 2, 1 << 20);
  EXPECT_EQ(FaultToRpc(m, fault::HostPolicy{0, mpath::Policy::kRoundRobin}).status().code(),
            Code::kUnsupported);
  auto play = [](Fabric& fabric) {
    auto policy = [&fabric](int h) { return fabric.heads()[h]->options().policy; };
    Schedule s = {{.at = 100us, .fault = fault::HostPolicy{1, mpath::Policy::kQueueDepth}},
                  {.at = 200us, .fault = fault::HostPolicy{7, mpath::Policy::kRoundRobin}}};
    mpath::Policy head1_before = mpath::Policy::kNuma;  // the fabric draws each head's policy
    s[0].expect = {Eventually("head 2 on queue-depth, head 1 on its own policy still", [&] {
      return policy(1) == mpath::Policy::kQueueDepth && policy(0) == head1_before;
    }, 0us)};
    ScenarioOptions o{.seed = 5};
    o.on_phase = [&](Phase p) {
      if (p == Phase::kStarted) head1_before = policy(0);
    };
    const ScenarioReport r = RunScenario(fabric, s, o);
    ASSERT_EQ(r.violations.size(), 1u) << ::testing::PrintToString(r.violations);
    EXPECT_NE(r.violations[0].find("the host has 2 heads"), std::string::npos) << r.violations[0];
    EXPECT_EQ(r.mismatches, 0u);
  };
  MemFabric mem(MemFabricOptions{.seed = 5});
  play(mem);
  TcpFabric tcp(TcpFabricOptions{.seed = 5, .heads = 2});
  play(tcp);
}

}  // namespace
}  // namespace nvmpath::sim
