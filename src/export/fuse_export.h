// exports::FuseExport — `nvmpath host --fuse DIR`: every head as a regular file DIR/<head name>
// (HeadTable names, "nvmpath0n1"), through libfuse3's low-level API (fuse_lowlevel.h).
//
//   exports::HeadTable heads({client.get()});
//   auto fuse = exports::FuseExport::Mount("/mnt/nvmpath", &heads);
//   if (!fuse.ok()) { /* fuse.status().message() names the directory and why */ }
//   ...  // losetup -f --show /mnt/nvmpath/nvmpath0n1; dd ... conv=notrunc; fio --filename=...
//   (*fuse)->Stop();                         // or destroy it
//
// Files: size = the head's capacity_blocks() * block_size(), read afresh for every getattr and
// lookup (attr timeout 0), so a resize on the target shows at the next stat. read / write /
// fsync (Device flush) / fallocate: PUNCH_HOLE|KEEP_SIZE deallocates, ZERO_RANGE writes zeroes,
// mode 0 or KEEP_SIZE on the existing range is a no-op (mode 0 past the end: EFBIG, a head does
// not grow); other modes EOPNOTSUPP; like a block device, punch / zero ranges must be
// block-aligned (EINVAL). A write that starts at or past the end fails with ENOSPC, one that
// crosses it is cut short; a read at the end returns 0 bytes. Files cannot be created, removed,
// renamed, linked, chmod'ed or resized (EPERM); truncate to the current size succeeds (tools do
// it), so `dd of=FILE` needs conv=notrunc.
//
// Data path: the session threads read requests from /dev/fuse and submit them with the Device
// async calls (the Device posts them to an I/O thread itself); they never wait for an I/O. The
// completion callback, on an I/O thread, replies with fuse_reply_* (thread-safe). A request
// larger than Device::max_io_blocks() is split into several Device I/Os (at most 32 in flight;
// a completion issues the next) and replied to once all are done, the first error winning.
// Writes copy the request's data (libfuse reuses its receive buffer once the handler returns).
// Unaligned writes read-modify-write their edge blocks; every write-like request (write, write
// zeroes, deallocate) first takes its block span in the file's write gate, an asynchronous
// range lock: overlapping spans run one after the other in arrival order, disjoint spans in
// parallel, so an RMW never writes back a stale copy of a block another write changed under
// it. Reads take no lock. A waiting request is started by the completion that frees its span.
//
// Caching: files are opened with direct_io (FOPEN_DIRECT_IO) and without keep_cache: the kernel
// keeps no page cache for them and sends every read and write here. Above a loop device
// (`losetup` on a file here) the loop device's own page cache is then the only cache — a second
// copy in the FUSE file's page cache would double the memory, add a copy per I/O, and could
// serve stale data after another host wrote the namespace. The kernel's max_write is raised to
// 1 MiB (max_pages 256, when the kernel offers FUSE_MAX_PAGES; libfuse's ceiling), and async DIO
// is on, so the kernel may split a large AIO request into concurrent FUSE requests.
// Parallel direct writes (FOPEN_PARALLEL_DIRECT_WRITES: no inode lock around a direct write)
// need libfuse 3.15 (fuse_file_info::parallel_direct_writes); 3.14 has neither the bit nor the
// flag, so the kernel serializes synchronous direct writes per file (AIO / io_uring writes drop
// the lock once queued).
//
// FUSE over io_uring (checked: not available with this libfuse). The kernel has the transport
// (/sys/module/fuse/parameters/enable_uring, N here), but Debian's libfuse 3.14 speaks only
// read() / writev() on /dev/fuse: libfuse gained it in 3.18.0 (2025-12, FUSE_CAP_OVER_IO_URING,
// lib/fuse_uring.c). With it, each CPU gets a queue of ring entries registered with the kernel;
// a request arrives as a CQE already in its entry's buffer, and the reply is sent together with
// fetching the next request in one COMMIT_AND_FETCH SQE, on the CPU that issued the request.
// Today every request costs a read() and a writev() on one shared /dev/fuse queue, one request
// per read(); with io_uring it is one io_uring_enter that can reap several requests, so fewer
// syscalls and, under load, fewer context switches (a session thread sleeps once per batch, not
// once per request). At QD1 the two wake-ups per request remain. Our replies come from the
// client's I/O threads, which 3.18 allows by taking the queue's ring lock and submitting on that
// queue's ring (its io_uring_single_issuer fast path would not apply).
// Measured here (FuseExportTest.DISABLED_MeasureLatency: 4 KiB reads at QD1 of a memory
// namespace over 127.0.0.1, 2 I/O threads): Device::Read p50 48 us / p99 75 us, 4.0 context
// switches per I/O in the process; pread O_DIRECT through FUSE p50 62 us / p99 88 us, 6.0
// switches. The FUSE round trip costs ~14 us and 2 switches (the session thread woken for the
// request, the application woken by the reply); at QD1 io_uring would trim the syscalls in it,
// not those two wake-ups.
//
// Errors: Mount fails with a message naming DIR and why ("FUSE export at /x: No such file or
// directory", "...: not a directory", libfuse's own words for a refused mount). A stale mount
// left by a run that was killed (stat DIR fails with ENOTCONN, "Transport endpoint is not
// connected") is detected before mounting: kUnavailable naming `fusermount3 -u DIR` (or
// `umount -l DIR`). I/O errors reach the application as Status::ToErrno() (kNoPath and
// kIoError: EIO).
//
// Thread: Mount, Stop and the destructor from any thread except a session thread (inside a
// handler) or one of the Client's I/O threads (Stop waits for completions that run there).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "export/head_table.h"
#include "nvmpath/status.h"

namespace nvmpath::exports {

struct FuseOptions {
  // -o allow_other: users other than the mounting one may open the files (their mode, 0600 and
  // owned by the mounting user, still applies: default_permissions). A non-root mount needs
  // user_allow_other in /etc/fuse.conf.
  bool allow_other = false;
  // Threads reading /dev/fuse. They only parse, copy and submit, so a few suffice.
  unsigned session_threads = 2;
};

class FuseExport {
 public:
  // Mounts the heads of `heads` at `dir` (an existing directory) and starts the session
  // threads. Errors, each naming `dir`: kNotFound / kPermissionDenied / kInvalidArgument from
  // stat (missing, not searchable, not a directory); kUnavailable for a stale mount there,
  // naming `fusermount3 -u DIR`; kIoError with libfuse's words when the mount is refused (no
  // /dev/fuse, not permitted, allow_other not allowed); kInternal if libfuse rejects options.
  // REQUIRES: `heads` and its Clients outlive the export (until Stop returns).
  static Result<std::unique_ptr<FuseExport>> Mount(const std::string& dir, const HeadTable* heads,
                                                   FuseOptions options = {});

  // Stops taking requests (the session threads return; requests the kernel still queues then
  // fail with ENOTCONN), waits until every request in flight has been replied to, unmounts
  // (lazily: open files see ENOTCONN) and destroys the session. Idempotent; concurrent callers
  // return once it is done. REQUIRES: not on a session thread or an I/O thread of the Clients.
  // I/O in flight completes by the Client's rules (no_path_timeout); closing the Client
  // meanwhile cancels it.
  void Stop();
  ~FuseExport();

  const std::string& dir() const;
  // Data requests (read, write, fsync, fallocate) accepted and not yet replied to.
  uint64_t requests_in_flight() const;
  // The largest write the kernel sends in one request, as agreed at FUSE_INIT (0 before the
  // kernel's INIT arrived): 1 MiB with a kernel that offers max_pages.
  uint32_t max_write_bytes() const;

  struct Impl;

 private:
  explicit FuseExport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nvmpath::exports
