// SimFile: a real file behind reactor::Sim. I/O runs at once (pread/pwrite) but completes through
// an event SimWorld::kFileLatency later, so callbacks never run inside Read/Write.
// Thread: the thread driving the SimWorld. Completions still run if the File is destroyed first
// (the descriptor stays open until the last one).
#pragma once

#include <memory>
#include <string>

#include "reactor/reactor.h"

namespace nvmpath::reactor {

class Sim;

class SimFile final : public File {
 public:
  // Errors: ErrnoStatus("open <path>", errno).
  static Result<std::unique_ptr<File>> Open(Sim* reactor, const std::string& path, OpenMode mode);

  void Read(uint64_t offset, std::span<uint8_t> buf, OnDone on_done) override;
  void Write(uint64_t offset, std::span<const uint8_t> buf, OnDone on_done) override;
  void Sync(OnDone on_done) override;
  void PunchHole(uint64_t offset, uint64_t length, OnDone on_done) override;
  Result<uint64_t> Size() const override;
  Status Truncate(uint64_t size) override;

  struct Fd;  // closes on destruction

 private:
  SimFile(Sim* reactor, std::shared_ptr<Fd> fd, std::string path);
  void Complete(Result<size_t> result, OnDone on_done);

  Sim* const reactor_;
  std::shared_ptr<Fd> fd_;
  const std::string path_;
};

}  // namespace nvmpath::reactor
