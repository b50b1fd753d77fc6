// reactor::Reactor — how the data path and the protocol code (host/, mpath/, target/) touch time,
// sockets, files and threads. Control-path code outside it reads the OS directly where no loop is
// involved (host/numa_node's sysfs and interface list, the target's config file and control
// socket thread, the FUSE session threads): docs/ARCHITECTURE.md "Layers as built".
//
// A reactor is one thread running one event loop. Every callback a reactor makes runs on that
// reactor's loop, never inside the call that registered it ("submitting only enqueues"). While a
// callback runs, reactor::Current() returns the reactor running it.
//
// Two implementations: reactor::Uring (io_uring, real time, real sockets and files) and
// reactor::Sim (virtual time, in-memory streams, seeded choice among ready events). One contract
// test suite (tests/reactor/reactor_contract_test.cc) runs against both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "base/time.h"
#include "nvmpath/status.h"

namespace nvmpath::reactor {

using Task = std::function<void()>;
using TimerId = uint64_t;
inline constexpr TimerId kNoTimer = 0;

// A TCP-like byte stream: ordered, reliable until it is closed or breaks.
// Thread: owned by and used only on the reactor that created or accepted it.
class Stream {
 public:
  // Bytes that arrived; valid only during the call. Parse in place, copy what must outlive it.
  using OnReceive = std::function<void(std::span<const uint8_t> bytes)>;
  // The stream ended: OK for an orderly close by the peer, an error status for a broken one.
  // Called at most once, never after Close() or destruction.
  using OnClose = std::function<void(const Status& why)>;

  virtual ~Stream() = default;

  // Installs the callbacks; receiving starts when they are set.
  virtual void SetHandlers(OnReceive on_receive, OnClose on_close) = 0;

  // Queues bytes to send (copied). Everything queued during one loop turn goes out in one
  // gathered send. Sending on a closed or broken stream drops the bytes silently: the OnClose
  // callback already told the owner.
  virtual void Send(std::span<const uint8_t> bytes) = 0;
  void Send(std::span<const std::span<const uint8_t>> pieces) {
    for (auto p : pieces) Send(p);
  }

  // Closes the stream; queued bytes are flushed first where the transport can. No callback
  // follows. Destroying a Stream closes it.
  virtual void Close() = 0;

  virtual bool is_open() const = 0;
  // "127.0.0.1:4420 <- 127.0.0.1:53312" style description for messages.
  virtual std::string description() const = 0;
  // The local IP address of the connection ("127.0.0.1"); "" when there is none (simulated
  // streams) or the socket is closed. Used to find the network device a path goes through.
  virtual std::string local_address() const { return ""; }
};

// A listening TCP port. Destroying it stops accepting; accepted streams live on.
class Listener {
 public:
  virtual ~Listener() = default;
  virtual uint16_t port() const = 0;  // the bound port (useful when 0 was asked for)
};

// A file opened for asynchronous positioned I/O (target namespace backends).
class File {
 public:
  using OnDone = std::function<void(Result<size_t> bytes)>;
  virtual ~File() = default;
  // REQUIRES: buf stays valid until on_done runs.
  virtual void Read(uint64_t offset, std::span<uint8_t> buf, OnDone on_done) = 0;
  virtual void Write(uint64_t offset, std::span<const uint8_t> buf, OnDone on_done) = 0;
  virtual Result<uint64_t> Size() const = 0;
  // Makes every write that completed before the call durable (fdatasync); on_done gets 0.
  virtual void Sync(OnDone on_done) = 0;
  // Frees [offset, offset + length) and keeps the size (fallocate PUNCH_HOLE | KEEP_SIZE): the
  // range reads as zeroes afterwards. on_done gets 0. Errors: a file system or device that cannot
  // punch holes (kUnsupported, from EOPNOTSUPP), named with the path.
  virtual void PunchHole(uint64_t offset, uint64_t length, OnDone on_done) = 0;
  // Sets the file's length (ftruncate: growing reads back zeroes). Synchronous, like Size(): a
  // control-path call (namespace resize), never on the I/O path. Errors: a block device or a
  // read-only file cannot change length (named, with errno).
  virtual Status Truncate(uint64_t size) = 0;
};

enum class OpenMode : uint8_t { kReadOnly, kReadWrite, kReadWriteCreate };

class Reactor {
 public:
  using OnAccept = std::function<void(std::unique_ptr<Stream> stream)>;
  using OnConnect = std::function<void(Result<std::unique_ptr<Stream>> stream)>;

  virtual ~Reactor() = default;

  // A small number that names this reactor (its shard index among its peers); set at creation.
  virtual unsigned index() const = 0;

  // The reactor's monotonic clock.
  virtual TimePoint now() const = 0;

  // Runs `task` on this reactor's loop. Thread-safe; callable from any thread.
  virtual void Post(Task task) = 0;

  // Runs `task` once after `delay` (on this reactor). Returns an id for CancelTimer.
  virtual TimerId AddTimer(Duration delay, Task task) = 0;
  // Returns true if the timer had not fired yet and now never will.
  virtual bool CancelTimer(TimerId id) = 0;

  // TCP. `address` is a numeric IPv4/IPv6 address. Listen binds at once (port 0: any port).
  virtual Result<std::unique_ptr<Listener>> Listen(const std::string& address, uint16_t port,
                                                   OnAccept on_accept) = 0;
  virtual void Connect(const std::string& address, uint16_t port, OnConnect on_connect) = 0;

  virtual Result<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) = 0;
};

// The reactor whose loop is running the current callback, or nullptr outside any loop.
Reactor* Current();
// The NUMA node of the CPU the calling thread runs on now (getcpu); -1 if unknown.
int CurrentNumaNode();

namespace internal {
// open(2) for a File of either implementation: the flags for `mode`, close-on-exec, errors named
// ("open /x: No such file or directory").
Result<int> OpenFd(const std::string& path, OpenMode mode);

// Set by reactor implementations around each callback they run.
void SetCurrent(Reactor* r);
class ScopedCurrent {
 public:
  explicit ScopedCurrent(Reactor* r) : prev_(Current()) { SetCurrent(r); }
  ~ScopedCurrent() { SetCurrent(prev_); }
  ScopedCurrent(const ScopedCurrent&) = delete;
  ScopedCurrent& operator=(const ScopedCurrent&) = delete;

 private:
  Reactor* prev_;
};
}  // namespace internal

}  // namespace nvmpath::reactor
