#include "target/namespace_backend.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace nvmpath::target {
namespace {

// The blocks live in an anonymous mapping: pages are zero until written (no up-front memset of
// the whole namespace), and with transparent huge pages on request (`madvise` mode, Debian's
// default) a random 4 KiB read misses the TLB once per 2 MiB instead of once per 4 KiB — the
// memcpy out of a 1 GiB namespace was a third of the target's CPU on 4 KiB random reads.
class MemoryBackend final : public Backend {
 public:
  static Result<std::shared_ptr<Backend>> Make(uint64_t size) {
    auto b = std::make_shared<MemoryBackend>();
    NVMP_RETURN_IF_ERROR(b->Map(size));
    return std::shared_ptr<Backend>(std::move(b));
  }
  ~MemoryBackend() override {
    if (bytes_ != nullptr) munmap(bytes_, size_);
  }
  const char* kind_name() const override { return "memory"; }
  uint64_t size_bytes() const override { return size_; }
  void Read(uint64_t offset, std::span<uint8_t> out, Done done) override {
    std::memcpy(out.data(), bytes_ + offset, out.size());
    done(Status::Ok());
  }
  void Write(uint64_t offset, std::span<const uint8_t> in, Done done) override {
    std::memcpy(bytes_ + offset, in.data(), in.size());
    done(Status::Ok());
  }
  void WriteZeroes(uint64_t offset, uint64_t length, Done done) override {
    std::memset(bytes_ + offset, 0, length);
    done(Status::Ok());
  }
  void Deallocate(uint64_t offset, uint64_t length, Done done) override {
    WriteZeroes(offset, length, std::move(done));
  }
  void Flush(Done done) override { done(Status::Ok()); }
  // Growing keeps the data and adds zero pages; shrinking unmaps the tail, so growing again
  // later reads zeroes there, as a fresh namespace would.
  Status Resize(uint64_t size) override {
    if (size == size_) return Status::Ok();
    if (bytes_ == nullptr || size == 0) {
      if (bytes_ != nullptr) munmap(bytes_, size_);
      bytes_ = nullptr;
      size_ = 0;
      return Map(size);
    }
    void* p = mremap(bytes_, size_, size, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) {
      return ErrnoStatus(fmt::format("memory namespace: resize {} to {} bytes", size_, size),
                         errno);
    }
    bytes_ = static_cast<uint8_t*>(p);
    size_ = size;
    Advise();
    return Status::Ok();
  }

 private:
  Status Map(uint64_t size) {
    if (size == 0) return Status::Ok();
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      return ErrnoStatus(fmt::format("memory namespace: map {} bytes", size), errno);
    }
    bytes_ = static_cast<uint8_t*>(p);
    size_ = size;
    Advise();
    return Status::Ok();
  }
  // Best effort: without THP (or with it off) the mapping works with 4 KiB pages.
  void Advise() { (void)madvise(bytes_, size_, MADV_HUGEPAGE); }

  uint8_t* bytes_ = nullptr;
  uint64_t size_ = 0;
};

class NullBackend final : public Backend {
 public:
  explicit NullBackend(uint64_t size) : size_(size) {}
  const char* kind_name() const override { return "null"; }
  uint64_t size_bytes() const override { return size_; }
  void Read(uint64_t, std::span<uint8_t> out, Done done) override {
    std::memset(out.data(), 0, out.size());
    done(Status::Ok());
  }
  void Write(uint64_t, std::span<const uint8_t>, Done done) override { done(Status::Ok()); }
  void WriteZeroes(uint64_t, uint64_t, Done done) override { done(Status::Ok()); }
  void Deallocate(uint64_t, uint64_t, Done done) override { done(Status::Ok()); }
  void Flush(Done done) override { done(Status::Ok()); }
  Status Resize(uint64_t size) override {
    size_ = size;
    return Status::Ok();
  }

 private:
  uint64_t size_;
};

// Positioned I/O through the reactor's File. A short transfer is an I/O error: the namespace size
// came from the file, so a short read means the file shrank under us.
class FileBackend final : public Backend, public std::enable_shared_from_this<FileBackend> {
 public:
  FileBackend(std::unique_ptr<reactor::File> file, uint64_t size)
      : file_(std::move(file)), size_(size) {}
  const char* kind_name() const override { return "file"; }
  uint64_t size_bytes() const override { return size_; }
  void Read(uint64_t offset, std::span<uint8_t> out, Done done) override {
    const size_t want = out.size();
    file_->Read(offset, out, [self = shared_from_this(), want, done](Result<size_t> n) {
      done(Check(n, want, "read"));
    });
  }
  void Write(uint64_t offset, std::span<const uint8_t> in, Done done) override {
    const size_t want = in.size();
    file_->Write(offset, in, [self = shared_from_this(), want, done](Result<size_t> n) {
      done(Check(n, want, "write"));
    });
  }
  void WriteZeroes(uint64_t offset, uint64_t length, Done done) override {
    // Zeroes go out in chunks of at most 1 MiB, one after another, from one shared buffer.
    auto zeroes = std::make_shared<std::vector<uint8_t>>(std::min<uint64_t>(length, 1 << 20), 0);
    WriteZeroChunk(offset, length, std::move(zeroes), std::move(done));
  }
  // A hole where the file system can punch one; zeroes written where it cannot, so a
  // deallocated range reads as zeroes on every backend.
  void Deallocate(uint64_t offset, uint64_t length, Done done) override {
    file_->PunchHole(offset, length,
                     [self = shared_from_this(), offset, length, done](Result<size_t> r) {
                       if (r.ok()) return done(Status::Ok());
                       if (r.status().code() != Code::kUnsupported) return done(r.status());
                       self->WriteZeroes(offset, length, done);
                     });
  }
  // The target advertises a volatile write cache: Flush is what makes writes durable.
  void Flush(Done done) override {
    file_->Sync([self = shared_from_this(), done](Result<size_t> r) {
      done(r.ok() ? Status::Ok() : r.status());
    });
  }
  // The file follows the namespace: growing extends it with zeroes, shrinking cuts it. A block
  // device cannot change length, and ftruncate says so.
  Status Resize(uint64_t size) override {
    NVMP_RETURN_IF_ERROR(file_->Truncate(size));
    size_ = size;
    return Status::Ok();
  }

 private:
  static Status Check(const Result<size_t>& n, size_t want, const char* what) {
    if (!n.ok()) return n.status();
    if (*n != want) return IoError(std::string("short ") + what);
    return Status::Ok();
  }
  void WriteZeroChunk(uint64_t offset, uint64_t left, std::shared_ptr<std::vector<uint8_t>> z,
                      Done done) {
    if (left == 0) {
      done(Status::Ok());
      return;
    }
    const size_t n = std::min<uint64_t>(left, z->size());
    file_->Write(offset, std::span<const uint8_t>(z->data(), n),
                 [self = shared_from_this(), offset, left, n, z, done](Result<size_t> r) {
                   Status s = Check(r, n, "write");
                   if (!s.ok()) {
                     done(s);
                     return;
                   }
                   self->WriteZeroChunk(offset + n, left - n, z, done);
                 });
  }

  std::unique_ptr<reactor::File> file_;
  uint64_t size_;
};

}  // namespace

Result<std::shared_ptr<Backend>> MakeBackend(const NamespaceConfig& config, reactor::Reactor* r) {
  switch (config.backend) {
    case BackendKind::kMemory:
      return MemoryBackend::Make(config.size_bytes);
    case BackendKind::kNull:
      return std::shared_ptr<Backend>(std::make_shared<NullBackend>(config.size_bytes));
    case BackendKind::kFile: {
      auto f = r->OpenFile(config.path, reactor::OpenMode::kReadWrite);
      if (!f.ok()) return f.status().WithContext(config.path);
      auto size = (*f)->Size();
      if (!size.ok()) return size.status().WithContext(config.path);
      const uint64_t usable = *size / config.block_size * config.block_size;
      if (usable == 0) return InvalidArgument(config.path + ": smaller than one block");
      return std::shared_ptr<Backend>(std::make_shared<FileBackend>(std::move(*f), usable));
    }
  }
  return InvalidArgument("unknown backend kind");
}

}  // namespace nvmpath::target
