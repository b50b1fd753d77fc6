#include "reactor/uring.h"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <system_error>
#include <thread>

#include "base/assert.h"
#include "base/log.h"
#include "reactor/uring_file.h"
#include "reactor/uring_net.h"

namespace nvmpath::reactor {
namespace {

// Runs `fn` on a thread that exits before this returns.
//
// Why: the kernel enrolls every task that creates a ring (io_uring_setup) or submits to it, and
// its deferred teardown of a closed ring (io_ring_exit_work, tens of ms after the close) queues
// TWA_SIGNAL task_work on each enrolled task still alive and waits for it. That interrupts
// whatever blocking call the task is in: one that cannot be restarted, such as a socket read with
// SO_RCVTIMEO, fails with EINTR though no signal was sent. So the application thread that creates
// and destroys a Uring whose loop runs on another thread must do neither itself; a thread that
// exits leaves the list (io_uring_files_cancel at exit). The loop thread enrolls itself by
// submitting; StartThread's thread has exited by the time the Uring is destroyed.
void OnPassingThread(const std::function<void()>& fn) {
  try {
    std::thread(fn).join();
  } catch (const std::system_error&) {
    fn();  // no thread to be had: do it here rather than fail
  }
}

}  // namespace

Result<std::unique_ptr<Uring>> Uring::Create(unsigned index) {
  std::unique_ptr<Uring> u(new Uring(index));
  NVMP_RETURN_IF_ERROR(u->Init());
  return u;
}

Uring::Uring(unsigned index) : index_(index) {}

Status Uring::Init() {
  int rc = 0;
  OnPassingThread([&] {
    rc = io_uring_queue_init(kQueueDepth, &ring_, IORING_SETUP_COOP_TASKRUN);
    if (rc == -EINVAL) rc = io_uring_queue_init(kQueueDepth, &ring_, 0);
  });
  if (rc < 0) return ErrnoStatus("io_uring_queue_init", -rc);
  ring_ready_ = true;
  // Blocking on purpose: io_uring returns -EAGAIN for reads of an O_NONBLOCK fd instead of
  // waiting for it to become readable.
  event_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (event_fd_ < 0) return ErrnoStatus("eventfd", errno);
  ArmWakeup();
  return Status::Ok();
}

Uring::~Uring() {
  NVMP_ASSERT(!thread_.joinable(), "Join() the loop thread before destroying its Uring");
  if (!ring_ready_) return;
  // It submits (cancels): not from this thread (OnPassingThread says why).
  OnPassingThread([this] { Teardown(); });
  io_uring_queue_exit(&ring_);
  if (event_fd_ >= 0) ::close(event_fd_);
}

void Uring::Teardown() {
  // Shut down what users left behind, then wait (bounded) for every in-flight operation, so
  // nothing still owned by a CQE leaks.
  std::vector<UringHandle*> live(handles_.begin(), handles_.end());
  for (UringHandle* h : live) h->Abort();
  flush_list_.clear();
  if (wakeup_armed_) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_cancel(sqe, &wakeup_op_, 0);
    Untracked(sqe);
  }
  const TimePoint give_up = now() + std::chrono::seconds(2);
  while (ops_in_flight_ > 0 && now() < give_up) {
    __kernel_timespec ts{0, 10'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    ReapCompletions(/*discard=*/true);
  }
  if (ops_in_flight_ > 0) {
    NVMP_LOG_WARN("uring {}: {} operations still in flight at shutdown", index_, ops_in_flight_);
  }
}

TimePoint Uring::now() const {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return TimePoint(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}

io_uring_sqe* Uring::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void Uring::Track(io_uring_sqe* sqe, UringOp* op) {
  io_uring_sqe_set_data(sqe, op);
  ++ops_in_flight_;
}

void Uring::Untracked(io_uring_sqe* sqe) { io_uring_sqe_set_data(sqe, nullptr); }

void Uring::ArmWakeup() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, event_fd_, &wakeup_op_.value, sizeof(wakeup_op_.value), 0);
  Track(sqe, &wakeup_op_);
  wakeup_armed_ = true;
}

void Uring::WakeupOp::Complete(int /*res*/, bool discard) {
  loop_->wakeup_armed_ = false;
  if (!discard) loop_->ArmWakeup();
}

void Uring::Post(Task task) {
  NVMP_ASSERT(task != nullptr, "Post of an empty task");
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(task));
    posted_pending_.store(true, std::memory_order_release);
  }
  // The loop thread checks the queue before it sleeps; other threads must wake it.
  if (was_empty && Current() != this) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof(one));
  }
}

void Uring::Stop() {
  stop_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof(one));
}

TimerId Uring::AddTimer(Duration delay, Task task) {
  NVMP_ASSERT(task != nullptr, "AddTimer of an empty task");
  const TimerId id = next_timer_++;
  const TimePoint deadline = now() + std::max(delay, Duration::zero());
  timers_.emplace(std::make_pair(deadline, id), std::move(task));
  timer_deadlines_.emplace(id, deadline);
  return id;
}

bool Uring::CancelTimer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  timer_deadlines_.erase(it);
  return true;
}

void Uring::ScheduleFlush(std::shared_ptr<UringStreamCore> core) {
  flush_list_.push_back(std::move(core));
}

size_t Uring::ReapCompletions(bool discard) {
  size_t n = 0;
  io_uring_cqe* batch[64];
  for (;;) {
    const unsigned got = io_uring_peek_batch_cqe(&ring_, batch, 64);
    if (got == 0) break;
    // Copy out and advance first: completions may submit new SQEs and re-enter GetSqe.
    std::pair<uint64_t, int> done[64];
    for (unsigned i = 0; i < got; ++i) done[i] = {batch[i]->user_data, batch[i]->res};
    io_uring_cq_advance(&ring_, got);
    for (unsigned i = 0; i < got; ++i) {
      const uint64_t ud = done[i].first;
      if (ud == 0 || ud == LIBURING_UDATA_TIMEOUT) continue;
      NVMP_ASSERT(ops_in_flight_ > 0);
      --ops_in_flight_;
      reinterpret_cast<UringOp*>(ud)->Complete(done[i].second, discard);
      ++n;
    }
  }
  return n;
}

size_t Uring::RunTimers() {
  const TimePoint t = now();
  const TimerId id_limit = next_timer_;  // timers added by timers wait for the next turn
  size_t n = 0;
  while (!timers_.empty()) {
    auto it = timers_.begin();
    if (it->first.first > t || it->first.second >= id_limit) break;
    Task task = std::move(it->second);
    timer_deadlines_.erase(it->first.second);
    timers_.erase(it);
    task();
    ++n;
  }
  return n;
}

size_t Uring::RunPosted() {
  if (!posted_pending_.load(std::memory_order_acquire)) return 0;
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    tasks.swap(posted_);
    posted_pending_.store(false, std::memory_order_relaxed);
  }
  for (Task& t : tasks) t();
  return tasks.size();
}

void Uring::FlushSends() {
  std::vector<std::shared_ptr<UringStreamCore>> list;
  list.swap(flush_list_);
  for (auto& core : list) core->Flush();
}

bool Uring::RunOnce(Duration max_wait) {
  Duration wait = max_wait;
  if (posted_pending_.load(std::memory_order_acquire) || !flush_list_.empty()) {
    wait = Duration::zero();
  } else if (!timers_.empty()) {
    wait = std::min(wait, std::max(Duration::zero(), timers_.begin()->first.first - now()));
  }
  io_uring_cqe* cqe = nullptr;
  if (wait > Duration::zero()) {
    __kernel_timespec ts{};
    ts.tv_sec = wait.count() / 1'000'000'000;
    ts.tv_nsec = wait.count() % 1'000'000'000;
    const int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    NVMP_ASSERT(rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EBUSY || rc == -EAGAIN,
                "io_uring_submit_and_wait_timeout failed");
  } else {
    io_uring_submit(&ring_);
  }
  internal::ScopedCurrent current(this);
  size_t ran = ReapCompletions(/*discard=*/false);
  ran += RunTimers();
  ran += RunPosted();
  FlushSends();
  io_uring_submit(&ring_);
  return ran > 0;
}

void Uring::Run() {
  while (!stop_.load(std::memory_order_acquire)) RunOnce(std::chrono::seconds(1));
  stop_.store(false, std::memory_order_release);
}

void Uring::StartThread() {
  NVMP_ASSERT(!thread_.joinable(), "the loop thread is already running");
  thread_ = std::thread([this] { Run(); });
}

void Uring::Join() {
  if (thread_.joinable()) thread_.join();
}

Result<std::unique_ptr<Listener>> Uring::Listen(const std::string& address, uint16_t port,
                                                OnAccept on_accept) {
  return UringListener::Create(this, address, port, std::move(on_accept));
}

Result<std::unique_ptr<Listener>> Uring::ListenUnix(const std::string& path, OnAccept on_accept) {
  return UringListener::CreateUnix(this, path, std::move(on_accept));
}

std::unique_ptr<Stream> Uring::AdoptSocket(int fd) { return MakeUringStream(this, fd); }

void Uring::Connect(const std::string& address, uint16_t port, OnConnect on_connect) {
  UringConnect(this, address, port, std::move(on_connect));
}

Result<std::unique_ptr<File>> Uring::OpenFile(const std::string& path, OpenMode mode) {
  return UringFile::Open(this, path, mode);
}

}  // namespace nvmpath::reactor
