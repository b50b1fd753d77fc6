// UringFile: positioned asynchronous file I/O on reactor::Uring (IORING_OP_READ / WRITE /
// FSYNC / FALLOCATE).
// Each operation is a heap-allocated UringOp that holds the descriptor open, so completions
// still arrive (and their callbacks run) if the File is destroyed first.
// Thread: the owning Uring's loop thread.
#pragma once

#include <memory>
#include <string>

#include "reactor/reactor.h"

namespace nvmpath::reactor {

class Uring;

class UringFile final : public File {
 public:
  // Errors: ErrnoStatus("open <path>", errno).
  static Result<std::unique_ptr<File>> Open(Uring* loop, const std::string& path, OpenMode mode);

  // Errors to on_done: ErrnoStatus("read|write <path>", -res). A short count is not an error.
  void Read(uint64_t offset, std::span<uint8_t> buf, OnDone on_done) override;
  void Write(uint64_t offset, std::span<const uint8_t> buf, OnDone on_done) override;
  void Sync(OnDone on_done) override;
  void PunchHole(uint64_t offset, uint64_t length, OnDone on_done) override;
  Result<uint64_t> Size() const override;
  Status Truncate(uint64_t size) override;

  struct Fd;

 private:
  UringFile(Uring* loop, std::shared_ptr<Fd> fd) : loop_(loop), fd_(std::move(fd)) {}
  Uring* const loop_;
  std::shared_ptr<Fd> fd_;
};

}  // namespace nvmpath::reactor
