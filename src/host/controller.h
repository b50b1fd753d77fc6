// host::Controller — one NVMe/TCP controller: an admin queue on the home reactor and one I/O
// queue pair per host reactor, brought up, kept alive, and reconnected the way Linux's fabrics
// host does (shared/reference/multipath-and-nvme-tcp-facts.md 2.3, 2.7, 5.9).
//
// Bring-up (one "association"): admin queue (ICReq, Connect QID 0 with CNTLID FFFFh and KATO) →
// Property Get CAP → Property Set CC (EN, IOSQES 6, IOCQES 4, NVM) → poll CSTS.RDY within CAP.TO →
// Property Get VS → Identify Controller (fabrics checks: ICDOFF 0, IOCCSZ >= 4, IORCSZ >= 1, KAS)
// → Set Features Number of Queues → one I/O queue per reactor, each connected from its own
// reactor → Set Features Async Event Configuration → AER armed → live, keep-alive every KATO/2.
//
// Error recovery (socket or protocol error on any queue, command timeout, keep-alive failure):
// live → resetting → every queue torn down (outstanding commands complete at once with 0x371,
// which the head fails over) → connecting (fast_io_fail_tmo starts) → a new association every
// reconnect_delay until it is live again, or until ceil(ctrl_loss_tmo / reconnect_delay)
// attempts failed (or Connect failed with DNR) → deleting → deleting-noio. A Delete() takes the
// same way down. States and transitions: controller_state.h. Writes among those 0x371 commands
// may still execute on the controller: PathNs holds them for write_fence() (CQT or fence_delay)
// before the head may fail them over.
//
// Threads: the controller's state, its admin queue, timers and observer live on the home
// reactor; every public method except io_channel() must be called there. I/O queue i lives on
// reactors[i] and is touched only there, through io_channel(i) (messages carry the association
// epoch, so a message for a torn-down association is ignored).
// Destruction: only on home, and only in kNew or after Delete()'s callback ran (no queue, timer
// or message is left then).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/time.h"
#include "host/controller_state.h"
#include "host/queue_pair.h"
#include "nvme/ana_log.h"
#include "nvme/discovery_log.h"
#include "nvme/identify.h"
#include "nvme/log_pages.h"
#include "nvme/registers.h"
#include "reactor/reactor.h"

namespace nvmpath::host {

struct ControllerOptions {
  std::string name;  // for messages; default "address:port"
  std::string address;
  uint16_t port = 4420;
  std::string subnqn;
  std::string hostnqn;
  std::array<uint8_t, 16> hostid{};
  // Defaults follow Linux (facts 2.7).
  Duration kato = std::chrono::seconds(5);
  Duration reconnect_delay = std::chrono::seconds(10);
  Duration ctrl_loss_tmo = std::chrono::seconds(600);  // negative: reconnect forever
  Duration fast_io_fail_tmo = Duration(-1);            // negative: off
  Duration io_timeout = std::chrono::seconds(30);
  Duration admin_timeout = std::chrono::seconds(60);
  Duration connect_timeout = std::chrono::seconds(10);  // per queue: TCP + IC + Connect
  uint16_t queue_size = 128;       // I/O queue entries (capped by CAP.MQES + 1)
  uint16_t admin_queue_size = 32;
  bool hdgst = false;
  bool ddgst = false;
  uint32_t max_transfer_bytes = 1u << 20;  // further capped by MDTS
  // Linux gives up when the very first association fails; a multipath host may prefer to keep
  // trying a path that is down at start.
  bool retry_initial_connect = false;
  // Stale-write fencing (docs/ARCHITECTURE.md "Stale-write fencing"): a data-modifying command
  // whose connection was lost is handed back for failover only this long after the loss.
  // Negative: the controller's Command Quiesce Time (Identify Controller CQT; 0 when it reports
  // none). Zero or more: this value, whatever CQT says.
  Duration fence_delay = Duration(-1);
  // Tests only: no fence at all, so a test can show the stale overwrite the fence prevents.
  bool TEST_disable_write_fence = false;
};

// An Asynchronous Event Request completion (DW0): type [2:0], info [15:8], log page [23:16].
struct AsyncEvent {
  uint32_t raw = 0;
  uint8_t type() const { return raw & 0x7; }
  uint8_t info() const { return (raw >> 8) & 0xFF; }
  uint8_t log_page() const { return (raw >> 16) & 0xFF; }
  static constexpr uint8_t kTypeNotice = 2;
  bool ns_attribute_changed() const { return type() == kTypeNotice && info() == 0x00; }
  bool ana_change() const { return type() == kTypeNotice && info() == 0x03; }
  bool discovery_log_change() const { return type() == kTypeNotice && info() == 0xF0; }
};

class Controller;

class ControllerObserver {
 public:
  virtual ~ControllerObserver() = default;
  // state() or failfast_expired() changed. Home reactor.
  virtual void OnStateChanged(Controller* ctrl) { (void)ctrl; }
  // An AEN arrived (the AER is already re-armed). Reading the named log page without RAE
  // unmasks the event type again (the scan's job). Home reactor.
  virtual void OnAsyncEvent(Controller* ctrl, const AsyncEvent& event) {
    (void)ctrl;
    (void)event;
  }
};

class Controller {
 public:
  using Callback = QueuePair::Callback;
  template <typename T>
  using ResultCallback = std::function<void(Result<T>)>;

  // REQUIRES: reactors non-empty, home < reactors.size(); every reactor outlives the controller.
  Controller(ControllerOptions options, std::vector<reactor::Reactor*> reactors, unsigned home = 0);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void SetObserver(ControllerObserver* observer) { observer_ = observer; }

  // new → connecting → first association. `done` gets OK when live, or the first attempt's
  // error (kUnavailable, kProtocol, kTimedOut, kIoError with the NVMe status, kUnsupported for a
  // controller the host cannot use). Unless retry_initial_connect, a failed first attempt
  // deletes the controller.
  // REQUIRES: state() == kNew.
  void Start(std::function<void(Status)> done);
  // Error recovery on request (as if the connection broke): live → resetting → reconnect.
  void Reset(const Status& why);
  // Tears everything down (outstanding commands complete with 0x371) and ends in
  // kDeletingNoIo; `done` runs then (on home). Calling it again while deleting is a no-op
  // except that `done` also runs.
  void Delete(std::function<void()> done);
  // Changes ctrl_loss_tmo and fast_io_fail_tmo (an operator's set-timeout). Home only, where
  // both are read: ctrl_loss_tmo counts at the next reconnect decision (a running reconnect loop
  // included), fast_io_fail_tmo from the next loss of the connection on (a fast-fail timer
  // already armed keeps its value).
  void SetLossTimeouts(Duration ctrl_loss_tmo, Duration fast_io_fail_tmo);

  CtrlState state() const { return state_; }
  bool live() const { return state_ == CtrlState::kLive; }
  bool failfast_expired() const { return failfast_expired_; }
  const std::string& name() const { return options_.name; }
  const ControllerOptions& options() const { return options_; }
  // Valid once live (kept from the last association).
  const nvme::IdentifyController& identify() const { return id_; }
  nvme::CapRegister cap() const { return cap_; }
  nvme::VsRegister vs() const { return vs_; }
  uint16_t cntlid() const { return cntlid_; }
  uint32_t max_transfer_bytes() const { return max_transfer_; }
  // The NUMA node of the network device the admin connection goes through (host/numa_node.h);
  // -1 (none) for loopback and virtual devices, and until the first connection.
  int numa_node() const { return numa_node_; }
  unsigned io_queue_count() const { return static_cast<unsigned>(channels_.size()); }
  bool is_discovery() const { return discovery_; }
  // Failed association attempts since the last time the controller was live.
  uint32_t reconnect_attempts() const { return nr_reconnects_; }
  uint64_t associations() const { return associations_; }
  uint64_t keep_alives_sent() const { return keep_alives_; }
  // Keep-alives that got no answer within KATO (each one ended an association).
  uint64_t keep_alive_timeouts() const { return keep_alive_timeouts_; }
  // Why the controller last left live, or why the last attempt failed.
  const Status& last_error() const { return last_error_; }
  // How long a data-modifying command that completed with 0x371 (the connection was lost after
  // it may have reached the controller) is held before failover: fence_delay when set, else the
  // CQT of the last association's Identify Controller, else 0; 0 under
  // TEST_disable_write_fence. Any of the controller's reactors.
  Duration write_fence() const {
    return Duration(write_fence_ns_.load(std::memory_order_relaxed));
  }

  // ---- I/O ----
  // One reactor's door to its I/O queue (what SPDK calls an I/O channel): the data path holds
  // the channel of its reactor and never looks the queue up.
  class IoChannel {
   public:
    // Sends `cmd` (CID and DPTR are set by the queue) on this reactor's I/O queue. `done` runs on
    // this reactor, never inside Submit: the controller's status; 0x370 when the queue is not
    // live; 0x371 when the connection is lost first. Returns kUnavailable when the queue is full
    // (then `done` is not called), kInvalidArgument when `data` exceeds the maximum transfer.
    // REQUIRES: called on reactor(); `data` valid until `done`.
    Status Submit(const nvme::Command& cmd, std::span<uint8_t> data, Callback done);
    reactor::Reactor* reactor() const { return reactor_; }
    unsigned index() const { return index_; }

   private:
    friend class Controller;
    Controller* ctrl_ = nullptr;
    unsigned index_ = 0;
    reactor::Reactor* reactor_ = nullptr;
    std::unique_ptr<QueuePair> qp_;
  };
  // The channel of the controller's `shard`-th reactor (the order of the constructor's list).
  // Stable for the controller's lifetime. Any thread.
  IoChannel& io_channel(unsigned shard) { return *channels_.at(shard); }

  // ---- Admin (home reactor; while live) ----
  // Errors for the helpers: kUnavailable when not live or the connection was lost, kIoError
  // naming the command and its NVMe status, or the decoder's kInvalidArgument.
  Status SubmitAdmin(const nvme::Command& cmd, std::span<uint8_t> data, Callback done,
                     Duration timeout = QueuePair::kDefaultTimeout);
  void Identify(nvme::Cns cns, uint32_t nsid, ResultCallback<std::vector<uint8_t>> done);
  // Active NSIDs greater than `after` (one page: up to 1024).
  void IdentifyActiveNamespaces(uint32_t after, ResultCallback<std::vector<uint32_t>> done);
  void IdentifyNamespace(uint32_t nsid, ResultCallback<nvme::IdentifyNamespace> done);
  void IdentifyNsDescriptors(uint32_t nsid, ResultCallback<nvme::NsIdentifiers> done);
  void GetLogPage(const nvme::GetLogPageArgs& args, ResultCallback<std::vector<uint8_t>> done);
  // The whole ANA log (16 + NANAGRPID * 32 + MNAN * 4 bytes, as Linux sizes it).
  void GetAnaLog(ResultCallback<nvme::AnaLog> done);
  // Reading it (RAE 0) re-arms the namespace-attribute AEN.
  void GetChangedNamespaces(ResultCallback<nvme::ChangedNsList> done);
  // Header, entries, header again; retried while GENCTR moves (up to 10 times, like nvme-cli).
  void GetDiscoveryLog(ResultCallback<nvme::DiscoveryLog> done);

 private:
  void SetState(CtrlState to);
  void Notify();
  // One association attempt, step by step; each step checks that `epoch` is still current.
  void StartAttempt();
  void ReadCap(uint64_t epoch);
  void EnableController(uint64_t epoch);
  void PollReady(uint64_t epoch, TimePoint deadline);
  void ReadVersionAndIdentify(uint64_t epoch);
  void OnIdentify(uint64_t epoch, const nvme::IdentifyController& id);
  void SetNumberOfQueues(uint64_t epoch);
  void ConnectIoQueues(uint64_t epoch);
  void OnIoQueueConnected(uint64_t epoch, unsigned shard, const Status& st);
  void ConfigureAsyncEvents(uint64_t epoch);
  void BecomeLive(uint64_t epoch);
  void AttemptFailed(uint64_t epoch, const Status& why);
  // Internal admin command during bring-up: status errors become a failed attempt.
  void SetupCommand(uint64_t epoch, const nvme::Command& cmd, std::span<uint8_t> data,
                    const char* what, std::function<void(const CommandResult&)> next);
  void ArmAer(uint64_t epoch);
  void ScheduleKeepAlive(uint64_t epoch);
  // The admin queue's command timeout: counts a keep-alive timeout, then error recovery.
  void OnAdminTimeout(uint64_t e, const Status& why);
  void ErrorRecovery(uint64_t epoch, const Status& why);
  // Fails and destroys every queue of the current association (bumps the epoch); `then` runs
  // on home once every reactor has done so.
  void TeardownQueues(const Status& why, std::function<void()> then);
  void ScheduleReconnect();
  bool ShouldReconnect() const;
  void FinishDelete();
  void CancelTimer(reactor::TimerId& id);
  QueuePairOptions QueueOptions(uint16_t qid) const;
  // Recomputes write_fence() from the options and id_ (home).
  void UpdateWriteFence();

  ControllerOptions options_;
  reactor::Reactor* const home_;
  std::vector<std::unique_ptr<IoChannel>> channels_;
  ControllerObserver* observer_ = nullptr;

  // home
  CtrlState state_ = CtrlState::kNew;
  bool failfast_expired_ = false;
  uint64_t epoch_ = 0;  // association generation; bumped by every teardown and attempt
  std::unique_ptr<QueuePair> admin_;
  std::function<void(Status)> start_done_;
  std::vector<std::function<void()>> delete_done_;
  std::vector<std::function<void()>> after_teardown_;
  uint32_t teardown_acks_pending_ = 0;
  unsigned io_queues_pending_ = 0;
  reactor::TimerId step_timer_ = reactor::kNoTimer;       // CSTS poll
  reactor::TimerId reconnect_timer_ = reactor::kNoTimer;
  reactor::TimerId failfast_timer_ = reactor::kNoTimer;
  reactor::TimerId keepalive_timer_ = reactor::kNoTimer;
  uint32_t nr_reconnects_ = 0;
  uint64_t associations_ = 0;
  uint64_t keep_alives_ = 0;
  uint64_t keep_alive_timeouts_ = 0;
  // When each keep-alive in flight must have answered, oldest first (they answer in order).
  std::deque<TimePoint> keep_alive_deadlines_;
  bool connect_dnr_ = false;
  bool discovery_ = false;
  Status last_error_;
  nvme::CapRegister cap_;
  nvme::VsRegister vs_;
  nvme::IdentifyController id_;
  uint16_t cntlid_ = 0;
  uint32_t max_transfer_ = 0;
  int numa_node_ = -1;
  uint32_t io_in_capsule_ = 0;
  uint16_t io_queue_size_ = 0;
  // write_fence(), in Duration ticks: written on home (construction, identify), read anywhere.
  std::atomic<Duration::rep> write_fence_ns_{0};
};

}  // namespace nvmpath::host
