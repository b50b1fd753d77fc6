// host::NamespaceScanner against the project's target on reactor::Sim.
//
// Goal: the scan finds every active namespace with its size, block size, ANA group and
// identifiers; namespace attribute AENs add, remove and resize paths; ANA change AENs move ANA
// states; a group in CHANGE past 2 x ANATT resets the controller; a deleted controller takes its
// paths out; a refused path is reported and destroyed. Method: ScanFixture; target control
// methods play the changes; the clock advances.
#include "host/ns_scan.h"

#include <gtest/gtest.h>

#include "scan_fixture.h"

namespace nvmpath::host::testing {
namespace {

TEST_F(ScanFixture, ScanFindsNamespacesWithIdentity) {
  Start();
  EXPECT_EQ(scanner_->nsids(), (std::vector<uint32_t>{1, 3}));
  ASSERT_EQ(listener_.added.size(), 2u);
  const NamespaceInfo& a = listener_.added[1];
  EXPECT_EQ(a.capacity_blocks, (1u << 20) / 512);
  EXPECT_EQ(a.block_size, 512u);
  EXPECT_EQ(a.anagrpid, 1u);
  EXPECT_TRUE(a.ids.nguid || a.ids.uuid || a.ids.eui64);
  const NamespaceInfo& b = listener_.added[3];
  EXPECT_EQ(b.capacity_blocks, (2u << 20) / 4096);
  EXPECT_EQ(b.block_size, 4096u);
  EXPECT_NE(a.ids, b.ids);
  blk::PathState s = scanner_->path(1)->state();
  EXPECT_EQ(s.ctrl, CtrlState::kLive);
  EXPECT_TRUE(s.ready);
  EXPECT_FALSE(s.ana_pending);
  EXPECT_EQ(s.ana, nvme::AnaState::kOptimized);
  EXPECT_EQ(scanner_->path(3)->state().ana, nvme::AnaState::kNonOptimized);
  EXPECT_TRUE(listener_.errors.empty());
}

TEST_F(ScanFixture, AttributeAenAddsRemovesAndResizes) {
  Start();
  OnTarget([&] {
    ASSERT_TRUE(target_->AddNamespace(kScanSubnqn, {.nsid = 2, .size_bytes = 1 << 20}).ok());
  });
  ASSERT_TRUE(world_.RunUntil([&] { return scanner_->path(2) != nullptr; }, 1s));
  OnTarget([&] { ASSERT_TRUE(target_->RemoveNamespace(kScanSubnqn, 1).ok()); });
  ASSERT_TRUE(world_.RunUntil([&] { return scanner_->path(1) == nullptr; }, 1s));
  EXPECT_EQ(listener_.removed, std::vector<uint32_t>{1});
  OnTarget([&] { ASSERT_TRUE(target_->ResizeNamespace(kScanSubnqn, 3, 4 << 20).ok()); });
  ASSERT_TRUE(world_.RunUntil(
      [&] { return scanner_->path(3)->state().capacity_blocks == (4u << 20) / 4096; }, 1s));
  EXPECT_EQ(scanner_->counters().resizes, 1u);
  EXPECT_EQ(scanner_->nsids(), (std::vector<uint32_t>{2, 3}));
}

TEST_F(ScanFixture, AnaChangeAenUpdatesState) {
  Start();
  OnTarget([&] { ASSERT_TRUE(target_->SetAnaState(1, 1, nvme::AnaState::kInaccessible).ok()); });
  ASSERT_TRUE(world_.RunUntil(
      [&] { return scanner_->path(1)->state().ana == nvme::AnaState::kInaccessible; }, 1s));
  EXPECT_EQ(scanner_->path(3)->state().ana, nvme::AnaState::kNonOptimized);
  EXPECT_GT(listener_.notifications, 0);
}

TEST_F(ScanFixture, AnaChangeStateOutlastingTwiceAnattResetsController) {
  Start();
  const uint64_t assoc = ctrl_->associations();
  OnTarget([&] { ASSERT_TRUE(target_->SetAnaState(1, 1, nvme::AnaState::kChange).ok()); });
  ASSERT_TRUE(world_.RunUntil(
      [&] { return scanner_->path(1)->state().ana == nvme::AnaState::kChange; }, 1s));
  const TimePoint t0 = world_.now();
  const Duration limit = 2 * std::chrono::seconds(ctrl_->identify().anatt);
  world_.RunFor(limit - 100ms);
  EXPECT_EQ(scanner_->counters().anatt_resets, 0u);
  ASSERT_TRUE(world_.RunUntil([&] { return scanner_->counters().anatt_resets == 1; }, 1s));
  EXPECT_GE(world_.now() - t0, limit - 10ms);
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->live() && ctrl_->associations() > assoc; }, 2s));
}

TEST_F(ScanFixture, AnaLeavingChangeCancelsTheTimer) {
  Start();
  OnTarget([&] { ASSERT_TRUE(target_->SetAnaState(1, 1, nvme::AnaState::kChange).ok()); });
  world_.RunFor(1s);
  OnTarget([&] { ASSERT_TRUE(target_->SetAnaState(1, 1, nvme::AnaState::kOptimized).ok()); });
  world_.RunFor(2 * std::chrono::seconds(ctrl_->identify().anatt) + 1s);
  EXPECT_EQ(scanner_->counters().anatt_resets, 0u);
  EXPECT_EQ(ctrl_->associations(), 1u);
}

// The listener hears the end of every ANA log read, in the event that applied it: a path added
// by a scan before the log knew its group is pending until then, and not after. (Without the
// report, the multipath host's start had to poll the paths' states.)
TEST_F(ScanFixture, AnaLogDoneIsReportedOncePerReadWithTheStatesApplied) {
  Start();
  world_.RunFor(10ms);
  EXPECT_GT(listener_.ana_logs_done, 0);
  EXPECT_EQ(static_cast<uint64_t>(listener_.ana_logs_done), scanner_->counters().ana_reads);

  // Group 5 is new: the path the rescan adds waits for the read that follows the scan.
  std::vector<std::pair<TimePoint, bool>> reports;  // (when, nsid 2 still pending)
  listener_.on_ana_log_done = [&] {
    PathNs* p = scanner_->path(2);
    if (p != nullptr) reports.emplace_back(world_.now(), p->state().ana_pending);
  };
  OnTarget([&] {
    ASSERT_TRUE(target_->AddNamespace(kScanSubnqn, {.nsid = 2, .size_bytes = 1 << 20,
                                                     .ana_group = 5}).ok());
  });
  ASSERT_TRUE(world_.RunUntil([&] { return scanner_->path(2) != nullptr; }, 1s));
  ASSERT_TRUE(scanner_->path(2)->state().ana_pending) << "the log already knew group 5";
  ASSERT_TRUE(world_.RunUntil([&] { return !scanner_->path(2)->state().ana_pending; }, 1s));
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().first, world_.now()) << "the state moved without a report";
  EXPECT_FALSE(reports.back().second);
  world_.RunFor(10ms);
  EXPECT_EQ(static_cast<uint64_t>(listener_.ana_logs_done), scanner_->counters().ana_reads);
}

// A read held by the test hook is applied — and reported — only when released, at that moment.
TEST_F(ScanFixture, HeldAnaLogReadIsAppliedWhenReleased) {
  Start();
  scanner_->TEST_HoldAnaLogReads(true);
  OnTarget([&] { ASSERT_TRUE(target_->SetAnaState(1, 1, nvme::AnaState::kInaccessible).ok()); });
  world_.RunFor(50ms);
  EXPECT_EQ(scanner_->path(1)->state().ana, nvme::AnaState::kOptimized);
  const int reports = listener_.ana_logs_done;
  scanner_->TEST_HoldAnaLogReads(false);
  EXPECT_EQ(scanner_->path(1)->state().ana, nvme::AnaState::kInaccessible);
  EXPECT_EQ(listener_.ana_logs_done, reports + 1);
}

TEST_F(ScanFixture, ControllerLossRemovesPaths) {
  Start();
  OnTarget([&] { ASSERT_TRUE(target_->SetPortEnabled(1, false).ok()); });
  // ctrl_loss_tmo 2 s: deleted, and its paths leave.
  ASSERT_TRUE(world_.RunUntil([&] { return ctrl_->state() == CtrlState::kDeletingNoIo; }, 5s));
  ASSERT_TRUE(world_.RunUntil([&] { return scanner_->path_count() == 0; }, 1s));
  EXPECT_EQ(listener_.removed.size(), 2u);
}

TEST_F(ScanFixture, RefusedPathIsReportedAndDropped) {
  listener_.refuse = Status(Code::kAlreadyExists, "identifiers don't match");
  Start();
  EXPECT_EQ(scanner_->path_count(), 0u);
  EXPECT_EQ(scanner_->counters().paths_refused, 2u);
  ASSERT_EQ(listener_.errors.size(), 2u);
  EXPECT_EQ(listener_.errors[0].code(), Code::kAlreadyExists);
}

}  // namespace
}  // namespace nvmpath::host::testing
