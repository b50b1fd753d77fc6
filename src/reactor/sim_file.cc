#include "reactor/sim_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/assert.h"
#include "reactor/sim.h"

namespace nvmpath::reactor {

struct SimFile::Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() { ::close(fd); }
  const int fd;
};


Result<std::unique_ptr<File>> SimFile::Open(Sim* reactor, const std::string& path,
                                            OpenMode mode) {
  auto opened = internal::OpenFd(path, mode);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  return std::unique_ptr<File>(new SimFile(reactor, std::make_shared<Fd>(fd), path));
}

SimFile::SimFile(Sim* reactor, std::shared_ptr<Fd> fd, std::string path)
    : reactor_(reactor), fd_(std::move(fd)), path_(std::move(path)) {}

void SimFile::Complete(Result<size_t> result, OnDone on_done) {
  NVMP_ASSERT(on_done != nullptr);
  SimWorld& w = reactor_->world();
  w.Schedule(reactor_, w.now() + SimWorld::kFileLatency, w.NewLane(),
             [fd = fd_, result = std::move(result), on_done = std::move(on_done)] {
               on_done(result);
             });
}

void SimFile::Read(uint64_t offset, std::span<uint8_t> buf, OnDone on_done) {
  const ssize_t n = ::pread(fd_->fd, buf.data(), buf.size(), static_cast<off_t>(offset));
  Complete(n < 0 ? Result<size_t>(ErrnoStatus("read " + path_, errno))
                 : Result<size_t>(static_cast<size_t>(n)),
           std::move(on_done));
}

void SimFile::Write(uint64_t offset, std::span<const uint8_t> buf, OnDone on_done) {
  const ssize_t n = ::pwrite(fd_->fd, buf.data(), buf.size(), static_cast<off_t>(offset));
  Complete(n < 0 ? Result<size_t>(ErrnoStatus("write " + path_, errno))
                 : Result<size_t>(static_cast<size_t>(n)),
           std::move(on_done));
}

void SimFile::Sync(OnDone on_done) {
  const int rc = ::fdatasync(fd_->fd);
  Complete(rc != 0 ? Result<size_t>(ErrnoStatus("sync " + path_, errno)) : Result<size_t>(size_t{0}),
           std::move(on_done));
}

void SimFile::PunchHole(uint64_t offset, uint64_t length, OnDone on_done) {
  const int rc = ::fallocate(fd_->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             static_cast<off_t>(offset), static_cast<off_t>(length));
  Complete(rc != 0 ? Result<size_t>(ErrnoStatus("punch hole in " + path_, errno))
                   : Result<size_t>(size_t{0}),
           std::move(on_done));
}

Result<uint64_t> SimFile::Size() const {
  struct stat st {};
  if (::fstat(fd_->fd, &st) != 0) return ErrnoStatus("stat " + path_, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status SimFile::Truncate(uint64_t size) {
  if (::ftruncate(fd_->fd, static_cast<off_t>(size)) != 0) {
    return ErrnoStatus("truncate " + path_, errno);
  }
  return Status::Ok();
}

}  // namespace nvmpath::reactor
