#include "export/fuse_export.h"

#define FUSE_USE_VERSION 314
#include <fcntl.h>
#include <fmt/format.h>
#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/assert.h"
#include "base/log.h"

namespace nvmpath::exports {
namespace {

// Attributes are never cached: the size follows the head's capacity at every stat. Names map to
// fixed inodes, so entries may be cached a little.
constexpr double kAttrTimeoutS = 0.0;
constexpr double kEntryTimeoutS = 1.0;
// libfuse 3.14's ceiling: its receive buffer holds FUSE_MAX_MAX_PAGES (256) pages.
constexpr unsigned kMaxWriteBytes = 1u << 20;
// Device I/Os of one request in flight at once; a completion issues the next.
constexpr uint32_t kChunkWindow = 32;
// One NVMe Write Zeroes clears at most 65536 blocks (NLB is 16 bits, 0's based); the Device
// refuses more. Deallocate ranges are 32-bit, but a bounded command keeps the target's work
// per command bounded too.
constexpr uint32_t kWriteZeroesMaxBlocks = 65536;
constexpr uint32_t kDeallocateMaxBlocks = 1u << 24;
constexpr unsigned kBackgroundMax = 64;  // async (AIO / readahead) requests the kernel may queue

thread_local bool t_on_session_thread = false;

// ---- libfuse's messages: captured while Mount runs on this thread, logged otherwise ----

thread_local std::string* t_log_capture = nullptr;

void FuseLog(enum fuse_log_level level, const char* fmt, va_list ap) {
  char line[1024];
  vsnprintf(line, sizeof(line), fmt, ap);
  std::string_view s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  if (t_log_capture != nullptr) {
    if (!t_log_capture->empty()) *t_log_capture += "; ";
    *t_log_capture += s;
    return;
  }
  if (level <= FUSE_LOG_ERR) {
    NVMP_LOG_ERROR("libfuse: {}", s);
  } else if (level <= FUSE_LOG_WARNING) {
    NVMP_LOG_WARN("libfuse: {}", s);
  } else {
    NVMP_LOG_DEBUG("libfuse: {}", s);
  }
}

class LogCapture {
 public:
  LogCapture() {
    static std::once_flag once;
    std::call_once(once, [] { fuse_set_log_func(FuseLog); });
    t_log_capture = &text_;
  }
  ~LogCapture() { t_log_capture = nullptr; }
  std::string text() const { return text_.empty() ? "libfuse gave no reason" : text_; }

 private:
  std::string text_;
};

int ErrnoOf(const Status& st) {
  const int e = st.ToErrno();
  return e > 0 ? e : EIO;
}

// Blocks [first, end) of a head.
struct BlockSpan {
  uint64_t first = 0;
  uint64_t end = 0;
  uint64_t size() const { return end - first; }
  bool Overlaps(const BlockSpan& o) const { return first < o.end && o.first < end; }
  friend bool operator==(const BlockSpan&, const BlockSpan&) = default;
};

enum class OpKind : uint8_t { kRead, kWrite, kWriteZeroes, kDeallocate, kFlush };

struct File;

// One data request from the kernel until its reply. Heap-allocated by the session thread,
// deleted by whichever thread finishes it.
struct Op {
  OpKind kind = OpKind::kRead;
  fuse_req_t req = nullptr;
  File* file = nullptr;
  Device* dev = nullptr;
  uint32_t bs = 0;
  uint32_t chunk_blocks = 1;       // blocks per Device I/O
  BlockSpan span;                  // the blocks the Device I/Os cover (empty for a flush)
  size_t skip = 0;                 // the request's first byte within buf
  size_t bytes = 0;                // the request's length, cut at the end of the head
  std::unique_ptr<uint8_t[]> buf;  // span.size() * bs: read data, or the blocks to write
  bool gated = false;              // holds `span` in file->gate
  // Unaligned writes: the edge blocks as they are on the head, read before writing.
  bool need_head = false, need_tail = false;
  std::unique_ptr<uint8_t[]> edges;  // head edge at 0, tail edge at bs (or at 0: one block)

  uint64_t chunks = 0;            // Device I/Os in all
  std::atomic<uint64_t> next{0};  // the next chunk to issue
  std::atomic<uint32_t> outstanding{0};
  std::atomic<int> err{0};  // the first error's errno

  size_t span_bytes() const { return static_cast<size_t>(span.size()) * bs; }
  bool single_block() const { return span.size() == 1; }
};

// An asynchronous range lock over a file's blocks for write-like requests. A request whose span
// overlaps a held span, or an earlier waiting one, waits in arrival order; Release hands the
// span to the waiters it unblocks. Never blocks a thread; the mutex only guards the lists.
class WriteGate {
 public:
  // True: `op` holds its span now. False: it waits; a later Release returns it as ready.
  bool Acquire(Op* op) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Blocked(op->span, waiting_.size())) {
      waiting_.push_back(op);
      return false;
    }
    held_.push_back(op->span);
    return true;
  }
  // Frees `span`; appends the waiters that now hold their spans to `ready`, in arrival order.
  void Release(const BlockSpan& span, std::vector<Op*>* ready) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(held_.begin(), held_.end(), span);
    NVMP_ASSERT(it != held_.end(), "write gate: released a span it does not hold");
    *it = held_.back();
    held_.pop_back();
    for (size_t i = 0; i < waiting_.size();) {
      if (Blocked(waiting_[i]->span, i)) {
        ++i;
        continue;
      }
      held_.push_back(waiting_[i]->span);
      ready->push_back(waiting_[i]);
      waiting_.erase(waiting_.begin() + static_cast<ptrdiff_t>(i));
    }
  }

 private:
  // Overlaps a held span or one of the first `earlier` waiting ones.
  bool Blocked(const BlockSpan& s, size_t earlier) const {
    for (const auto& h : held_) {
      if (h.Overlaps(s)) return true;
    }
    for (size_t i = 0; i < earlier; ++i) {
      if (waiting_[i]->span.Overlaps(s)) return true;
    }
    return false;
  }

  std::mutex mu_;
  std::vector<BlockSpan> held_;  // guarded by mu_
  std::deque<Op*> waiting_;      // guarded by mu_
};

// One head as a file. Inodes are never forgotten: a name keeps its inode for the whole mount.
struct File {
  fuse_ino_t ino = 0;
  std::string name;
  std::atomic<Device*> device{nullptr};
  WriteGate gate;
};

struct DirEntry {
  std::string name;
  fuse_ino_t ino;
  mode_t type;
};

}  // namespace

struct FuseExport::Impl {
  Impl(std::string d, const HeadTable* h, FuseOptions o)
      : dir(std::move(d)), heads(h), options(o), uid(getuid()), gid(getgid()) {
    clock_gettime(CLOCK_REALTIME, &start_time);
  }

  // ---- control ----
  void SessionLoop();
  void Stop();

  // ---- inodes ----
  File* FileFor(const ExportedHead& head);
  File* FileOfIno(fuse_ino_t ino);
  struct stat FileStat(const File& f) const;
  struct stat DirStat() const;

  // ---- data path ----
  Op* NewOp(OpKind kind, fuse_req_t req, File* f, Device* dev);
  void Gate(Op* op);
  void StartGated(Op* op);
  void ReadEdges(Op* op);
  void EdgeDone(Op* op, const Status& st);
  void IssueChunks(Op* op);
  void SubmitChunk(Op* op, uint64_t index);
  void ChunkDone(Op* op, const Status& st);
  void Finish(Op* op);
  void RequestDone();

  const std::string dir;
  const HeadTable* const heads;
  const FuseOptions options;
  const uid_t uid;
  const gid_t gid;
  timespec start_time{};

  fuse_session* se = nullptr;
  bool mounted = false;
  int stop_fd = -1;  // eventfd: readable once Stop began, wakes every session thread
  std::vector<std::thread> threads;
  std::atomic<uint32_t> max_write{0};
  std::atomic<bool> connection_ended{false};

  std::mutex files_mu;
  std::vector<std::unique_ptr<File>> files;                 // inode i at i - 2; guarded
  std::map<std::string, File*, std::less<>> files_by_name;  // guarded by files_mu

  std::atomic<uint64_t> in_flight{0};
  std::mutex idle_mu;  // decrements of in_flight happen under it, so Stop's wait sees them
  std::condition_variable idle_cv;

  std::mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu
};

namespace {

constexpr fuse_ino_t kRootIno = FUSE_ROOT_ID;
constexpr fuse_ino_t kFirstFileIno = 2;

FuseExport::Impl* Self(fuse_req_t req) {
  return static_cast<FuseExport::Impl*>(fuse_req_userdata(req));
}

File* FileOfHandle(const fuse_file_info* fi) {
  return reinterpret_cast<File*>(static_cast<uintptr_t>(fi->fh));
}

}  // namespace

// ---- inodes ----

File* FuseExport::Impl::FileFor(const ExportedHead& head) {
  std::lock_guard<std::mutex> lock(files_mu);
  auto it = files_by_name.find(head.name);
  if (it != files_by_name.end()) {
    // A namespace removed and added again may come back as another Device.
    it->second->device.store(head.device, std::memory_order_release);
    return it->second;
  }
  auto f = std::make_unique<File>();
  f->ino = kFirstFileIno + files.size();
  f->name = head.name;
  f->device.store(head.device, std::memory_order_release);
  File* raw = f.get();
  files.push_back(std::move(f));
  files_by_name.emplace(head.name, raw);
  return raw;
}

File* FuseExport::Impl::FileOfIno(fuse_ino_t ino) {
  std::lock_guard<std::mutex> lock(files_mu);
  if (ino < kFirstFileIno || ino - kFirstFileIno >= files.size()) return nullptr;
  return files[ino - kFirstFileIno].get();
}

struct stat FuseExport::Impl::FileStat(const File& f) const {
  struct stat st {};
  const Device* d = f.device.load(std::memory_order_acquire);
  const uint64_t bs = d->block_size();
  st.st_ino = f.ino;
  st.st_mode = S_IFREG | 0600;
  st.st_nlink = 1;
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_size = static_cast<off_t>(d->capacity_blocks() * bs);
  st.st_blksize = static_cast<blksize_t>(std::max<uint64_t>(bs, 4096));
  st.st_blocks = st.st_size / 512;
  st.st_atim = st.st_mtim = st.st_ctim = start_time;
  return st;
}

struct stat FuseExport::Impl::DirStat() const {
  struct stat st {};
  st.st_ino = kRootIno;
  st.st_mode = S_IFDIR | 0755;
  st.st_nlink = 2;
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_atim = st.st_mtim = st.st_ctim = start_time;
  return st;
}

// ---- data path ----

Op* FuseExport::Impl::NewOp(OpKind kind, fuse_req_t req, File* f, Device* dev) {
  in_flight.fetch_add(1, std::memory_order_relaxed);
  auto* op = new Op;
  op->kind = kind;
  op->req = req;
  op->file = f;
  op->dev = dev;
  op->bs = dev->block_size();
  if (kind == OpKind::kRead || kind == OpKind::kWrite) {
    op->chunk_blocks = std::max<uint32_t>(1, dev->max_io_blocks());
  } else if (kind == OpKind::kWriteZeroes) {
    op->chunk_blocks = kWriteZeroesMaxBlocks;
  } else if (kind == OpKind::kDeallocate) {
    op->chunk_blocks = kDeallocateMaxBlocks;
  }
  return op;
}

void FuseExport::Impl::Gate(Op* op) {
  op->gated = true;
  if (op->file->gate.Acquire(op)) StartGated(op);
}

void FuseExport::Impl::StartGated(Op* op) {
  if (op->kind == OpKind::kWrite && (op->need_head || op->need_tail)) return ReadEdges(op);
  IssueChunks(op);
}

// Reads the partial edge blocks of an unaligned write (one read when both are the same block).
void FuseExport::Impl::ReadEdges(Op* op) {
  const uint32_t bs = op->bs;
  op->edges = std::make_unique_for_overwrite<uint8_t[]>(2 * size_t{bs});
  const bool one = op->single_block();
  const bool head = op->need_head || one;
  const bool tail = op->need_tail && !one;
  op->outstanding.store((head ? 1 : 0) + (tail ? 1 : 0), std::memory_order_relaxed);
  // The last submit may finish `op` on another thread: read what the calls need first.
  Device* dev = op->dev;
  const uint64_t first = op->span.first, last = op->span.end - 1;
  uint8_t* edges = op->edges.get();
  auto done = [this, op](Status st) { EdgeDone(op, st); };
  if (head) dev->ReadAsync(first, 1, {edges, bs}, done);
  if (tail) dev->ReadAsync(last, 1, {edges + bs, bs}, done);
}

void FuseExport::Impl::EdgeDone(Op* op, const Status& st) {
  if (!st.ok()) {
    int expected = 0;
    op->err.compare_exchange_strong(expected, ErrnoOf(st));
  }
  if (op->outstanding.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (op->err.load(std::memory_order_relaxed) != 0) return Finish(op);
  // Merge: the bytes around the request's data come from the blocks as they were.
  const size_t bs = op->bs;
  uint8_t* buf = op->buf.get();
  const uint8_t* edges = op->edges.get();
  if (op->need_head) std::memcpy(buf, edges, op->skip);
  if (op->need_tail) {
    const size_t last_start = op->span_bytes() - bs;
    const size_t data_end = op->skip + op->bytes;  // within buf
    const uint8_t* tail = op->single_block() ? edges : edges + bs;
    std::memcpy(buf + data_end, tail + (data_end - last_start), op->span_bytes() - data_end);
  }
  IssueChunks(op);
}

void FuseExport::Impl::IssueChunks(Op* op) {
  op->chunks =
      op->kind == OpKind::kFlush ? 1 : (op->span.size() + op->chunk_blocks - 1) / op->chunk_blocks;
  const uint32_t window = static_cast<uint32_t>(std::min<uint64_t>(op->chunks, kChunkWindow));
  NVMP_ASSERT(window > 0, "fuse export: a request with nothing to do reached the device");
  op->next.store(window, std::memory_order_relaxed);
  op->outstanding.store(window, std::memory_order_release);
  // Chunks may complete (and the op finish) before the loop ends: only `window` is read here.
  for (uint32_t i = 0; i < window; ++i) SubmitChunk(op, i);
}

void FuseExport::Impl::SubmitChunk(Op* op, uint64_t index) {
  auto done = [this, op](Status st) { ChunkDone(op, st); };
  if (op->kind == OpKind::kFlush) return op->dev->FlushAsync(std::move(done));
  const uint64_t lba = op->span.first + index * op->chunk_blocks;
  const auto n = static_cast<uint32_t>(std::min<uint64_t>(op->chunk_blocks, op->span.end - lba));
  const size_t at = static_cast<size_t>(lba - op->span.first) * op->bs;
  const size_t len = size_t{n} * op->bs;
  switch (op->kind) {
    case OpKind::kRead:
      return op->dev->ReadAsync(lba, n, {op->buf.get() + at, len}, std::move(done));
    case OpKind::kWrite:
      return op->dev->WriteAsync(lba, n, {op->buf.get() + at, len}, std::move(done));
    case OpKind::kWriteZeroes:
      return op->dev->WriteZeroesAsync(lba, n, std::move(done));
    case OpKind::kDeallocate:
      return op->dev->DeallocateAsync(lba, n, std::move(done));
    case OpKind::kFlush:
      break;
  }
  NVMP_UNREACHABLE("fuse export: bad op kind");
}

void FuseExport::Impl::ChunkDone(Op* op, const Status& st) {
  if (!st.ok()) {
    int expected = 0;
    op->err.compare_exchange_strong(expected, ErrnoOf(st));
    // As NBD does: an error a program sees is worth a line in the host's log.
    NVMP_LOG_WARN("fuse export: {}: {}", op->file->name, st.ToString());
  }
  if (op->err.load(std::memory_order_relaxed) == 0) {
    const uint64_t i = op->next.fetch_add(1, std::memory_order_relaxed);
    if (i < op->chunks) return SubmitChunk(op, i);  // this completion's slot goes on
  }
  if (op->outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1) Finish(op);
}

void FuseExport::Impl::Finish(Op* op) {
  std::vector<Op*> ready;
  if (op->gated) op->file->gate.Release(op->span, &ready);
  const int err = op->err.load(std::memory_order_relaxed);
  if (err != 0) {
    fuse_reply_err(op->req, err);
  } else if (op->kind == OpKind::kRead) {
    fuse_reply_buf(op->req, reinterpret_cast<const char*>(op->buf.get()) + op->skip, op->bytes);
  } else if (op->kind == OpKind::kWrite) {
    fuse_reply_write(op->req, op->bytes);
  } else {
    fuse_reply_err(op->req, 0);
  }
  delete op;
  for (Op* r : ready) StartGated(r);
  RequestDone();  // last: `this` may be destroyed once Stop sees no request in flight
}

void FuseExport::Impl::RequestDone() {
  std::lock_guard<std::mutex> lock(idle_mu);
  if (in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1) idle_cv.notify_all();
}

// ---- the handlers (session threads) ----

namespace {

void OnInit(void* userdata, fuse_conn_info* conn) {
  auto* self = static_cast<FuseExport::Impl*>(userdata);
  // The largest write and direct read per request: libfuse has already cut max_write to its
  // buffer (1 MiB with FUSE_MAX_PAGES, 128 KiB without) and derives max_pages from it.
  conn->max_write = std::min(conn->max_write, kMaxWriteBytes);
  // No splice: a request's data is copied once into our own buffer anyway. Truncation comes as
  // setattr (refused unless the size stays), not as O_TRUNC in open.
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
                  FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE);
  if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  conn->max_background = kBackgroundMax;
  conn->congestion_threshold = kBackgroundMax * 3 / 4;
  self->max_write.store(conn->max_write, std::memory_order_relaxed);
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto* self = Self(req);
  if (parent != kRootIno || !ParseHeadName(name)) return (void)fuse_reply_err(req, ENOENT);
  auto head = self->heads->Find(name);
  if (!head.ok()) return (void)fuse_reply_err(req, ENOENT);
  File* f = self->FileFor(*head);
  fuse_entry_param e{};
  e.ino = f->ino;
  e.generation = 1;
  e.attr = self->FileStat(*f);
  e.attr_timeout = kAttrTimeoutS;
  e.entry_timeout = kEntryTimeoutS;
  fuse_reply_entry(req, &e);
}

void OnGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  auto* self = Self(req);
  if (ino == kRootIno) {
    struct stat st = self->DirStat();
    return (void)fuse_reply_attr(req, &st, kAttrTimeoutS);
  }
  File* f = self->FileOfIno(ino);
  if (f == nullptr) return (void)fuse_reply_err(req, ENOENT);
  struct stat st = self->FileStat(*f);
  fuse_reply_attr(req, &st, kAttrTimeoutS);
}

// Times are accepted and ignored (touch); owner and mode stay; the size only stays.
void OnSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  auto* self = Self(req);
  if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    return (void)fuse_reply_err(req, EPERM);
  }
  if (ino == kRootIno) {
    if (to_set & FUSE_SET_ATTR_SIZE) return (void)fuse_reply_err(req, EISDIR);
    struct stat st = self->DirStat();
    return (void)fuse_reply_attr(req, &st, kAttrTimeoutS);
  }
  File* f = self->FileOfIno(ino);
  if (f == nullptr) return (void)fuse_reply_err(req, ENOENT);
  struct stat st = self->FileStat(*f);
  if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size) {
    return (void)fuse_reply_err(req, EPERM);  // a head is resized on the target, not here
  }
  fuse_reply_attr(req, &st, kAttrTimeoutS);
}

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino == kRootIno) return (void)fuse_reply_err(req, EISDIR);
  File* f = Self(req)->FileOfIno(ino);
  if (f == nullptr) return (void)fuse_reply_err(req, ENOENT);
  fi->fh = reinterpret_cast<uintptr_t>(f);
  // Direct I/O, no page cache here: see the header. A loop device's page cache above this file
  // is then the only cache, and every read sees what the head holds now.
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->noflush = 1;  // close has nothing to write back
  fuse_reply_open(req, fi);
}

void OnFlushOrRelease(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void OnRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  auto* self = Self(req);
  File* f = FileOfHandle(fi);
  Device* dev = f->device.load(std::memory_order_acquire);
  const uint64_t bs = dev->block_size();
  const uint64_t cap = dev->capacity_blocks() * bs;
  if (off < 0 || bs == 0) return (void)fuse_reply_err(req, off < 0 ? EINVAL : EIO);
  if (size == 0 || static_cast<uint64_t>(off) >= cap) return (void)fuse_reply_buf(req, nullptr, 0);
  const uint64_t start = static_cast<uint64_t>(off);
  const uint64_t n = std::min<uint64_t>(size, cap - start);  // a read across the end is short
  Op* op = self->NewOp(OpKind::kRead, req, f, dev);
  op->span = {start / bs, (start + n + bs - 1) / bs};
  op->skip = start - op->span.first * bs;
  op->bytes = n;
  op->buf = std::make_unique_for_overwrite<uint8_t[]>(op->span_bytes());
  self->IssueChunks(op);
}

void OnWrite(fuse_req_t req, fuse_ino_t, const char* data, size_t size, off_t off,
             fuse_file_info* fi) {
  auto* self = Self(req);
  File* f = FileOfHandle(fi);
  Device* dev = f->device.load(std::memory_order_acquire);
  const uint64_t bs = dev->block_size();
  const uint64_t cap = dev->capacity_blocks() * bs;
  if (off < 0 || bs == 0) return (void)fuse_reply_err(req, off < 0 ? EINVAL : EIO);
  if (size == 0) return (void)fuse_reply_write(req, 0);
  const uint64_t start = static_cast<uint64_t>(off);
  if (start >= cap) return (void)fuse_reply_err(req, ENOSPC);  // as a block device
  const uint64_t n = std::min<uint64_t>(size, cap - start);    // a write across the end is short
  Op* op = self->NewOp(OpKind::kWrite, req, f, dev);
  op->span = {start / bs, (start + n + bs - 1) / bs};
  op->skip = start - op->span.first * bs;
  op->bytes = n;
  op->need_head = op->skip != 0;
  op->need_tail = (start + n) % bs != 0;
  // libfuse reuses `data` once this handler returns: the one copy of a write.
  op->buf = std::make_unique_for_overwrite<uint8_t[]>(op->span_bytes());
  std::memcpy(op->buf.get() + op->skip, data, n);
  self->Gate(op);
}

void OnFsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  auto* self = Self(req);
  File* f = FileOfHandle(fi);
  Op* op = self->NewOp(OpKind::kFlush, req, f, f->device.load(std::memory_order_acquire));
  self->IssueChunks(op);
}

void OnFallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length,
                 fuse_file_info* fi) {
  auto* self = Self(req);
  File* f = FileOfHandle(fi);
  Device* dev = f->device.load(std::memory_order_acquire);
  const uint64_t bs = dev->block_size();
  const uint64_t cap = dev->capacity_blocks() * bs;
  if (offset < 0 || length <= 0 || bs == 0) return (void)fuse_reply_err(req, EINVAL);
  const uint64_t start = static_cast<uint64_t>(offset);
  uint64_t end = start + static_cast<uint64_t>(length);
  const bool keep_size = (mode & FALLOC_FL_KEEP_SIZE) != 0;
  OpKind kind;
  switch (mode) {
    case 0:
    case FALLOC_FL_KEEP_SIZE:
      // Every block of a head exists: allocating is a no-op, growing is impossible.
      return (void)fuse_reply_err(req, keep_size || end <= cap ? 0 : EFBIG);
    case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
      kind = OpKind::kDeallocate;
      break;
    case FALLOC_FL_ZERO_RANGE:
    case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
      kind = OpKind::kWriteZeroes;
      break;
    default:
      return (void)fuse_reply_err(req, EOPNOTSUPP);
  }
  if (end > cap) {
    if (!keep_size) return (void)fuse_reply_err(req, EFBIG);
    end = cap;
  }
  // As blkdev_fallocate: whole blocks only.
  if (start % bs != 0 || end % bs != 0) return (void)fuse_reply_err(req, EINVAL);
  if (start >= end) return (void)fuse_reply_err(req, 0);
  Op* op = self->NewOp(kind, req, f, dev);
  op->span = {start / bs, end / bs};
  self->Gate(op);
}

void OnOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto* self = Self(req);
  if (ino != kRootIno) return (void)fuse_reply_err(req, ENOTDIR);
  auto list = std::make_unique<std::vector<DirEntry>>();
  list->push_back({".", kRootIno, S_IFDIR});
  list->push_back({"..", kRootIno, S_IFDIR});
  for (const ExportedHead& h : self->heads->List()) {
    list->push_back({h.name, self->FileFor(h)->ino, S_IFREG});
  }
  fi->fh = reinterpret_cast<uintptr_t>(list.get());
  if (fuse_reply_open(req, fi) == 0) list.release();  // releasedir frees it
}

void OnReaddir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  const auto* list = reinterpret_cast<const std::vector<DirEntry>*>(fi->fh);
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = static_cast<size_t>(std::max<off_t>(off, 0)); i < list->size(); ++i) {
    struct stat st {};
    st.st_ino = (*list)[i].ino;
    st.st_mode = (*list)[i].type;
    const size_t need = fuse_add_direntry(req, buf.data() + used, size - used,
                                          (*list)[i].name.c_str(), &st, static_cast<off_t>(i + 1));
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void OnReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<std::vector<DirEntry>*>(fi->fh);
  fuse_reply_err(req, 0);
}

void OnFsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) { fuse_reply_err(req, 0); }

// The set of files is the set of heads: nothing is created, removed, renamed or linked here.
void OnMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { fuse_reply_err(req, EPERM); }
void OnMkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EPERM); }
void OnRemove(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void OnSymlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void OnRename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
  fuse_reply_err(req, EPERM);
}
void OnLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void OnCreate(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
  fuse_reply_err(req, EPERM);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = OnInit;
  ops.lookup = OnLookup;
  ops.getattr = OnGetattr;
  ops.setattr = OnSetattr;
  ops.mknod = OnMknod;
  ops.mkdir = OnMkdir;
  ops.unlink = OnRemove;
  ops.rmdir = OnRemove;
  ops.symlink = OnSymlink;
  ops.rename = OnRename;
  ops.link = OnLink;
  ops.open = OnOpen;
  ops.read = OnRead;
  ops.write = OnWrite;
  ops.flush = OnFlushOrRelease;
  ops.release = OnFlushOrRelease;
  ops.fsync = OnFsync;
  ops.opendir = OnOpendir;
  ops.readdir = OnReaddir;
  ops.releasedir = OnReleasedir;
  ops.fsyncdir = OnFsyncdir;
  ops.create = OnCreate;
  ops.fallocate = OnFallocate;
  return ops;
}

const fuse_lowlevel_ops kOps = MakeOps();

}  // namespace

// ---- session ----

// A session thread: waits for a request or for Stop, reads one request and handles it. The fd
// is non-blocking, so a thread that lost the race for a request polls again, and Stop's eventfd
// wakes every thread at once (libfuse 3.14's own loop cannot be woken: fuse_session_exit only
// sets a flag that a blocked read() never looks at).
void FuseExport::Impl::SessionLoop() {
  t_on_session_thread = true;
  fuse_buf buf{};
  pollfd fds[2] = {{fuse_session_fd(se), POLLIN, 0}, {stop_fd, POLLIN, 0}};
  while (!fuse_session_exited(se)) {
    const int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      NVMP_LOG_ERROR("fuse export at {}: poll: {}", dir, std::strerror(errno));
      break;
    }
    if (fds[1].revents != 0) break;
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      // Unmounted from outside, or the connection was aborted: no request will come.
      if (!connection_ended.exchange(true)) {
        NVMP_LOG_WARN(
            "fuse export at {}: unmounted from outside (or the FUSE connection was "
            "aborted): no more requests",
            dir);
      }
      fuse_session_exit(se);
      break;
    }
    const int res = fuse_session_receive_buf(se, &buf);
    if (res == -EINTR || res == -EAGAIN) continue;
    if (res <= 0) {
      if (res < 0) NVMP_LOG_ERROR("fuse export at {}: read: {}", dir, std::strerror(-res));
      fuse_session_exit(se);
      break;
    }
    fuse_session_process_buf(se, &buf);
  }
  free(buf.mem);
  t_on_session_thread = false;
}

void FuseExport::Impl::Stop() {
  NVMP_ASSERT(!t_on_session_thread, "FuseExport::Stop inside a FUSE handler would wait for itself");
  std::lock_guard<std::mutex> stop_lock(stop_mu);
  if (stopped) return;
  stopped = true;
  if (se != nullptr) fuse_session_exit(se);
  if (stop_fd >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t w = write(stop_fd, &one, sizeof(one));
  }
  for (auto& t : threads) t.join();
  threads.clear();
  {
    // Every accepted request is replied to from its completion; wait for the last one.
    std::unique_lock<std::mutex> lock(idle_mu);
    idle_cv.wait(lock, [this] { return in_flight.load(std::memory_order_acquire) == 0; });
  }
  if (se != nullptr) {
    // Closes /dev/fuse (requests still queued in the kernel fail with ENOTCONN), then
    // umount2(MNT_DETACH) as root or `fusermount3 -u -z` otherwise.
    if (mounted) fuse_session_unmount(se);
    fuse_session_destroy(se);
    se = nullptr;
  }
  if (stop_fd >= 0) close(stop_fd);
  stop_fd = -1;
}

// ---- FuseExport ----

Result<std::unique_ptr<FuseExport>> FuseExport::Mount(const std::string& dir,
                                                      const HeadTable* heads, FuseOptions options) {
  if (heads == nullptr) return InvalidArgument(fmt::format("FUSE export at {}: no heads", dir));
  if (dir.empty()) return InvalidArgument("FUSE export: no mount directory given");
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOTCONN) {
      return Status(Code::kUnavailable,
                    fmt::format("FUSE export at {}: {}: a FUSE mount left there by a run that "
                                "ended without unmounting (killed?); clear it with `fusermount3 "
                                "-u {}` (or `umount -l {}`) and start again",
                                dir, std::strerror(err), dir, dir));
    }
    return ErrnoStatus(fmt::format("FUSE export at {}", dir), err);
  }
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument(fmt::format("FUSE export at {}: not a directory", dir));
  }
  if (options.session_threads == 0) options.session_threads = 1;

  auto impl = std::make_unique<Impl>(dir, heads, options);
  std::string mount_opts = "fsname=nvmpath,subtype=nvmpath,default_permissions";
  if (options.allow_other) mount_opts += ",allow_other";
  std::string arg0 = "nvmpath", arg1 = "-o";
  char* argv[] = {arg0.data(), arg1.data(), mount_opts.data(), nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, argv);
  {
    LogCapture capture;
    impl->se = fuse_session_new(&args, &kOps, sizeof(kOps), impl.get());
    fuse_opt_free_args(&args);
    if (impl->se == nullptr) {
      return Internal(
          fmt::format("FUSE export at {}: libfuse refused the session: {}", dir, capture.text()));
    }
    if (fuse_session_mount(impl->se, dir.c_str()) != 0) {
      const std::string why = capture.text();
      fuse_session_destroy(impl->se);
      impl->se = nullptr;
      return IoError(fmt::format("FUSE export at {}: mount failed: {}", dir, why));
    }
  }
  impl->mounted = true;
  const int fd = fuse_session_fd(impl->se);
  impl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->stop_fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    Status st = ErrnoStatus(fmt::format("FUSE export at {}: eventfd / fcntl", dir), errno);
    impl->Stop();
    return st;
  }
  for (unsigned i = 0; i < options.session_threads; ++i) {
    impl->threads.emplace_back([p = impl.get()] { p->SessionLoop(); });
  }
  NVMP_LOG_INFO("fuse export: heads mounted at {}", dir);
  return std::unique_ptr<FuseExport>(new FuseExport(std::move(impl)));
}

FuseExport::FuseExport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FuseExport::~FuseExport() { Stop(); }

void FuseExport::Stop() { impl_->Stop(); }

const std::string& FuseExport::dir() const { return impl_->dir; }

uint64_t FuseExport::requests_in_flight() const {
  return impl_->in_flight.load(std::memory_order_relaxed);
}

uint32_t FuseExport::max_write_bytes() const {
  return impl_->max_write.load(std::memory_order_relaxed);
}

}  // namespace nvmpath::exports
