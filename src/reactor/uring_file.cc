#include "reactor/uring_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/assert.h"
#include "reactor/uring.h"

namespace nvmpath::reactor {

struct UringFile::Fd {
  Fd(int f, std::string p) : fd(f), path(std::move(p)) {}
  ~Fd() { ::close(fd); }
  const int fd;
  const std::string path;
};

namespace {

class FileOp final : public UringOp {
 public:
  // `what` names the operation in errors ("write /path: ...").
  FileOp(std::shared_ptr<UringFile::Fd> fd, const char* what, File::OnDone on_done)
      : fd_(std::move(fd)), what_(what), on_done_(std::move(on_done)) {}
  void Complete(int res, bool discard) override {
    std::unique_ptr<FileOp> self(this);
    if (discard) return;
    if (res < 0) {
      on_done_(ErrnoStatus(std::string(what_) + " " + fd_->path, -res));
    } else {
      on_done_(static_cast<size_t>(res));
    }
  }

 private:
  std::shared_ptr<UringFile::Fd> fd_;
  const char* const what_;
  File::OnDone on_done_;
};


}  // namespace

Result<std::unique_ptr<File>> UringFile::Open(Uring* loop, const std::string& path,
                                              OpenMode mode) {
  auto opened = internal::OpenFd(path, mode);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  return std::unique_ptr<File>(new UringFile(loop, std::make_shared<Fd>(fd, path)));
}

void UringFile::Read(uint64_t offset, std::span<uint8_t> buf, OnDone on_done) {
  NVMP_ASSERT(on_done != nullptr);
  io_uring_sqe* sqe = loop_->GetSqe();
  io_uring_prep_read(sqe, fd_->fd, buf.data(), static_cast<unsigned>(buf.size()), offset);
  loop_->Track(sqe, new FileOp(fd_, "read", std::move(on_done)));
}

void UringFile::Write(uint64_t offset, std::span<const uint8_t> buf, OnDone on_done) {
  NVMP_ASSERT(on_done != nullptr);
  io_uring_sqe* sqe = loop_->GetSqe();
  io_uring_prep_write(sqe, fd_->fd, buf.data(), static_cast<unsigned>(buf.size()), offset);
  loop_->Track(sqe, new FileOp(fd_, "write", std::move(on_done)));
}

void UringFile::Sync(OnDone on_done) {
  NVMP_ASSERT(on_done != nullptr);
  io_uring_sqe* sqe = loop_->GetSqe();
  io_uring_prep_fsync(sqe, fd_->fd, IORING_FSYNC_DATASYNC);
  loop_->Track(sqe, new FileOp(fd_, "sync", std::move(on_done)));
}

void UringFile::PunchHole(uint64_t offset, uint64_t length, OnDone on_done) {
  NVMP_ASSERT(on_done != nullptr);
  io_uring_sqe* sqe = loop_->GetSqe();
  io_uring_prep_fallocate(sqe, fd_->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                          static_cast<off_t>(offset), static_cast<off_t>(length));
  loop_->Track(sqe, new FileOp(fd_, "punch hole in", std::move(on_done)));
}

Result<uint64_t> UringFile::Size() const {
  struct stat st {};
  if (::fstat(fd_->fd, &st) != 0) return ErrnoStatus("stat " + fd_->path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status UringFile::Truncate(uint64_t size) {
  if (::ftruncate(fd_->fd, static_cast<off_t>(size)) != 0) {
    return ErrnoStatus("truncate " + fd_->path, errno);
  }
  return Status::Ok();
}

}  // namespace nvmpath::reactor
