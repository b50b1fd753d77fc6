// The NVMe status word and nvme::Decide, the one function that says what happens to a failed
// command: the order of its rules (DNR wins over path errors; failovers never use the retry
// budget) and nvmpath's one departure from Linux (namespace-gone statuses fail over).
#include "nvme/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace nvmpath::nvme {
namespace {

TEST(NvmeStatus, DecodesTheCqeWord) {
  // SCT 3, SC 02h, CRD 1, DNR, phase 1: field = 0x4B02 | (1<<11)..., built by hand from the spec.
  uint16_t field = 0x02 | (3u << 8) | (1u << 11) | (1u << 14);
  NvmeStatus s = NvmeStatus::FromCqeWord(static_cast<uint16_t>((field << 1) | 1));
  EXPECT_EQ(s.sc(), 0x02);
  EXPECT_EQ(s.sct(), Sct::kPath);
  EXPECT_EQ(s.crd(), 1);
  EXPECT_TRUE(s.dnr());
  EXPECT_FALSE(s.more());
  EXPECT_EQ(s.code(), sc::kAnaInaccessible);
  EXPECT_EQ(s.ToCqeWord(true), static_cast<uint16_t>((field << 1) | 1));
  EXPECT_EQ(s.ToString(), "Asymmetric Access Inaccessible (SCT 3h SC 02h) DNR");
}

TEST(NvmeStatus, ErrnoFollowsLinux) {
  EXPECT_EQ(NvmeStatus::Of(sc::kHostPathError).ToErrno(), ENOLINK);
  EXPECT_EQ(NvmeStatus::Of(sc::kLbaOutOfRange).ToErrno(), EREMOTEIO);
  EXPECT_EQ(NvmeStatus::Of(sc::kInvalidOpcode).ToErrno(), EOPNOTSUPP);
  EXPECT_EQ(NvmeStatus::Of(sc::kUnrecoveredReadError).ToErrno(), ENODATA);
  EXPECT_EQ(NvmeStatus::Of(sc::kGuardCheckError).ToErrno(), EILSEQ);
  EXPECT_EQ(NvmeStatus::Of(sc::kReservationConflict).ToErrno(), EBADE);
  EXPECT_EQ(NvmeStatus::Of(sc::kCapacityExceeded).ToErrno(), ENOSPC);
  EXPECT_EQ(NvmeStatus::Of(sc::kInternalError).ToErrno(), EIO);
  EXPECT_EQ(NvmeStatus().ToErrno(), 0);
}

TEST(Decide, SuccessCompletes) {
  EXPECT_EQ(Decide(NvmeStatus(), 0, true).disposition, Disposition::kComplete);
}

TEST(Decide, PathErrorsFailOverThroughAHead) {
  for (uint16_t c : {sc::kInternalPathError, sc::kAnaPersistentLoss, sc::kAnaInaccessible,
                     sc::kAnaTransition, sc::kControllerPathError, sc::kHostPathError,
                     sc::kAbortedByHost}) {
    EXPECT_EQ(Decide(NvmeStatus::Of(c), 0, true).disposition, Disposition::kFailover) << c;
    // Without a head (no multipath) there is no other path: retry here.
    EXPECT_EQ(Decide(NvmeStatus::Of(c), 0, false).disposition, Disposition::kRetrySamePath) << c;
  }
}

TEST(Decide, DnrWinsOverPathErrors) {
  Decision d = Decide(NvmeStatus::Of(sc::kAnaInaccessible, /*dnr=*/true), 0, true);
  EXPECT_EQ(d.disposition, Disposition::kFail);
  EXPECT_EQ(d.path_action, PathAction::kAnaPending) << "the ANA state is still re-read";
}

TEST(Decide, AnaErrorsMarkThePathPending) {
  EXPECT_EQ(Decide(NvmeStatus::Of(sc::kAnaTransition), 0, true).path_action, PathAction::kAnaPending);
  EXPECT_EQ(Decide(NvmeStatus::Of(sc::kInternalPathError), 0, true).path_action, PathAction::kNone);
}

TEST(Decide, OtherErrorsRetryHereUntilTheBudgetIsUsed) {
  NvmeStatus s = NvmeStatus::Of(sc::kInternalError);
  EXPECT_EQ(Decide(s, 0, true).disposition, Disposition::kRetrySamePath);
  EXPECT_EQ(Decide(s, kMaxRetries - 1, true).disposition, Disposition::kRetrySamePath);
  EXPECT_EQ(Decide(s, kMaxRetries, true).disposition, Disposition::kFail);
  EXPECT_EQ(Decide(NvmeStatus::Of(sc::kInvalidField, true), 0, true).disposition, Disposition::kFail);
}

TEST(Decide, NamespaceGoneFailsOverThroughAHeadEvenWithDnr) {
  Decision d = Decide(NvmeStatus::Of(sc::kInvalidNamespace, /*dnr=*/true), 0, true);
  EXPECT_EQ(d.disposition, Disposition::kFailover);
  EXPECT_EQ(d.path_action, PathAction::kNamespaceGone);
  EXPECT_EQ(Decide(NvmeStatus::Of(sc::kNamespaceNotReady), 0, true).path_action,
            PathAction::kNamespaceGone);
  // Without a head there is nowhere to go: Linux behaviour.
  EXPECT_EQ(Decide(NvmeStatus::Of(sc::kInvalidNamespace, true), 0, false).disposition,
            Disposition::kFail);
}

}  // namespace
}  // namespace nvmpath::nvme
