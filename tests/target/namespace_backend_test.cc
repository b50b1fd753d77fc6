// The namespace backends. Memory: data kept across a resize, zeroes where the namespace is new,
// and a big namespace costs nothing until written (an anonymous mapping, not a zero-filled
// vector). File: Flush syncs through the reactor (and reports a failed sync), Deallocate punches
// a hole, or writes zeroes where the file system cannot punch one (a wrapped reactor refuses).
#include "target/namespace_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reactor/uring.h"

namespace nvmpath::target {
namespace {

std::shared_ptr<Backend> Memory(uint64_t size) {
  NamespaceConfig c;
  c.backend = BackendKind::kMemory;
  c.size_bytes = size;
  auto b = MakeBackend(c, /*r=*/nullptr);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : nullptr;
}

std::vector<uint8_t> ReadBack(Backend& b, uint64_t offset, size_t n) {
  std::vector<uint8_t> out(n, 0xEE);
  bool done = false;
  b.Read(offset, out, [&](Status s) {
    EXPECT_TRUE(s.ok()) << s.ToString();
    done = true;
  });
  EXPECT_TRUE(done);  // the memory backend completes inline
  return out;
}

void WriteBytes(Backend& b, uint64_t offset, const std::vector<uint8_t>& in) {
  bool done = false;
  b.Write(offset, in, [&](Status s) {
    EXPECT_TRUE(s.ok()) << s.ToString();
    done = true;
  });
  EXPECT_TRUE(done);
}

TEST(MemoryBackendTest, ReadsZeroesUntilWrittenThenTheData) {
  auto b = Memory(1 << 20);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->size_bytes(), 1u << 20);
  EXPECT_EQ(ReadBack(*b, 4096, 4096), std::vector<uint8_t>(4096, 0));
  std::vector<uint8_t> pattern(4096);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 1);
  WriteBytes(*b, 4096, pattern);
  EXPECT_EQ(ReadBack(*b, 4096, 4096), pattern);
  EXPECT_EQ(ReadBack(*b, 0, 4096), std::vector<uint8_t>(4096, 0));
}

TEST(MemoryBackendTest, GrowKeepsDataShrinkThenGrowReadsZeroesInTheTail) {
  auto b = Memory(1 << 20);
  ASSERT_NE(b, nullptr);
  const std::vector<uint8_t> head(512, 0xA5), tail(512, 0x5A);
  WriteBytes(*b, 0, head);
  WriteBytes(*b, (1 << 20) - 512, tail);

  ASSERT_TRUE(b->Resize(8 << 20).ok());
  EXPECT_EQ(b->size_bytes(), 8u << 20);
  EXPECT_EQ(ReadBack(*b, 0, 512), head);
  EXPECT_EQ(ReadBack(*b, (1 << 20) - 512, 512), tail);
  EXPECT_EQ(ReadBack(*b, (8 << 20) - 512, 512), std::vector<uint8_t>(512, 0));

  // What a shrink cut off is gone: growing back shows zeroes there, the kept part unchanged.
  ASSERT_TRUE(b->Resize(512 << 10).ok());
  ASSERT_TRUE(b->Resize(1 << 20).ok());
  EXPECT_EQ(ReadBack(*b, 0, 512), head);
  EXPECT_EQ(ReadBack(*b, (1 << 20) - 512, 512), std::vector<uint8_t>(512, 0));
}

TEST(MemoryBackendTest, WriteZeroesAndDeallocateReadAsZeroes) {
  auto b = Memory(64 << 10);
  ASSERT_NE(b, nullptr);
  WriteBytes(*b, 0, std::vector<uint8_t>(64 << 10, 0xFF));
  bool done = false;
  b->WriteZeroes(4096, 4096, [&](Status s) { done = s.ok(); });
  EXPECT_TRUE(done);
  done = false;
  b->Deallocate(16384, 512, [&](Status s) { done = s.ok(); });
  EXPECT_TRUE(done);
  EXPECT_EQ(ReadBack(*b, 4096, 4096), std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(ReadBack(*b, 16384, 512), std::vector<uint8_t>(512, 0));
  EXPECT_EQ(ReadBack(*b, 8192, 512), std::vector<uint8_t>(512, 0xFF));
}

// 8 GiB would be 8 GiB of memset (seconds, all of it resident) with a zero-filled vector; a
// mapping only reserves address space, and only written pages become memory.
TEST(MemoryBackendTest, LargeNamespaceIsReservedNotFilled) {
  auto b = Memory(8ull << 30);
  ASSERT_NE(b, nullptr);
  const std::vector<uint8_t> block(4096, 0x3C);
  WriteBytes(*b, (8ull << 30) - 4096, block);
  EXPECT_EQ(ReadBack(*b, (8ull << 30) - 4096, 4096), block);
}

// More than the machine can ever back is refused with the size named, not thrown.
TEST(MemoryBackendTest, ImpossibleSizeIsAClearError) {
  NamespaceConfig c;
  c.backend = BackendKind::kMemory;
  c.size_bytes = 1ull << 62;
  auto b = MakeBackend(c, /*r=*/nullptr);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().ToString().find("memory namespace: map 4611686018427387904 bytes"),
            std::string::npos)
      << b.status().ToString();
}

// A file backend over a 1 MiB temporary file, its I/O run on a reactor::Uring.
class FileBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int fd = mkstemp(path_);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
    close(fd);
    auto loop = reactor::Uring::Create(0);
    ASSERT_TRUE(loop.ok()) << loop.status().ToString();
    loop_ = std::move(*loop);
  }
  void TearDown() override {
    backend_.reset();
    unlink(path_);
  }
  // Opens the file through `r` (the Uring itself unless a test wraps it).
  void Open(reactor::Reactor* r) {
    NamespaceConfig c;
    c.backend = BackendKind::kFile;
    c.path = path_;
    auto b = MakeBackend(c, r);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(*b);
  }
  // Starts one backend call and runs the loop until it completes.
  Status Run(const std::function<void(Backend::Done)>& start) {
    std::optional<Status> st;
    start([&](Status s) { st = std::move(s); });
    for (int i = 0; i < 1000 && !st; ++i) loop_->RunOnce(std::chrono::milliseconds(10));
    return st.value_or(Status(Code::kTimedOut, "no completion"));
  }
  // Writes 0x5A everywhere, deallocates the middle 512 KiB and checks what reads back.
  void DeallocateTheMiddleAndReadBack() {
    const std::vector<uint8_t> data(1 << 20, 0x5A);
    ASSERT_TRUE(Run([&](Backend::Done d) { backend_->Write(0, data, d); }).ok());
    const Status dealloc =
        Run([&](Backend::Done d) { backend_->Deallocate(256 << 10, 512 << 10, d); });
    ASSERT_TRUE(dealloc.ok()) << dealloc.ToString();
    std::vector<uint8_t> back(1 << 20, 0xEE);
    ASSERT_TRUE(Run([&](Backend::Done d) { backend_->Read(0, back, d); }).ok());
    auto all = [&](size_t from, size_t to, uint8_t v) {
      return std::all_of(back.begin() + from, back.begin() + to, [v](uint8_t b) { return b == v; });
    };
    EXPECT_TRUE(all(0, 256 << 10, 0x5A));
    EXPECT_TRUE(all(256 << 10, 768 << 10, 0));
    EXPECT_TRUE(all(768 << 10, 1 << 20, 0x5A));
  }

  char path_[32] = "/tmp/nvmpath_backendXXXXXX";
  std::unique_ptr<reactor::Uring> loop_;
  std::shared_ptr<Backend> backend_;
};

// The file backend does what the target advertises: Flush syncs the file, Deallocate frees the
// range (a punched hole: fewer blocks, zeroes read back).
TEST_F(FileBackendTest, DeallocatePunchesAHoleAndFlushSyncs) {
  Open(loop_.get());
  const std::vector<uint8_t> data(1 << 20, 0x5A);
  ASSERT_TRUE(Run([&](Backend::Done d) { backend_->Write(0, data, d); }).ok());
  EXPECT_TRUE(Run([&](Backend::Done d) { backend_->Flush(d); }).ok());
  struct stat before {};
  ASSERT_EQ(stat(path_, &before), 0);
  DeallocateTheMiddleAndReadBack();
  struct stat after {};
  ASSERT_EQ(stat(path_, &after), 0);
  EXPECT_EQ(after.st_size, 1 << 20);
  EXPECT_LE(after.st_blocks, before.st_blocks - (512 << 10) / 512)
      << "the deallocated 512 KiB are freed";
}

// A file on a file system that cannot punch holes (PunchHole: kUnsupported, as EOPNOTSUPP) and
// whose sync fails: what the file backend must do when the media is not the friendly kind.
class NoHoleFile final : public reactor::File {
 public:
  NoHoleFile(std::unique_ptr<reactor::File> real, int* punches)
      : real_(std::move(real)), punches_(punches) {}
  void Read(uint64_t o, std::span<uint8_t> b, OnDone d) override { real_->Read(o, b, d); }
  void Write(uint64_t o, std::span<const uint8_t> b, OnDone d) override { real_->Write(o, b, d); }
  Result<uint64_t> Size() const override { return real_->Size(); }
  void Sync(OnDone d) override { d(IoError("fdatasync: injected failure")); }
  void PunchHole(uint64_t, uint64_t, OnDone d) override {
    ++*punches_;
    d(Status(Code::kUnsupported, "fallocate: operation not supported"));
  }
  Status Truncate(uint64_t size) override { return real_->Truncate(size); }

 private:
  std::unique_ptr<reactor::File> real_;
  int* punches_;
};

// A Uring whose files are NoHoleFiles; everything else is the Uring's.
class NoHoleReactor final : public reactor::Reactor {
 public:
  explicit NoHoleReactor(reactor::Uring* real) : real_(real) {}
  unsigned index() const override { return real_->index(); }
  TimePoint now() const override { return real_->now(); }
  void Post(reactor::Task t) override { real_->Post(std::move(t)); }
  reactor::TimerId AddTimer(Duration d, reactor::Task t) override {
    return real_->AddTimer(d, std::move(t));
  }
  bool CancelTimer(reactor::TimerId id) override { return real_->CancelTimer(id); }
  Result<std::unique_ptr<reactor::Listener>> Listen(const std::string& a, uint16_t p,
                                                    OnAccept cb) override {
    return real_->Listen(a, p, std::move(cb));
  }
  void Connect(const std::string& a, uint16_t p, OnConnect cb) override {
    real_->Connect(a, p, std::move(cb));
  }
  Result<std::unique_ptr<reactor::File>> OpenFile(const std::string& path,
                                                  reactor::OpenMode mode) override {
    auto f = real_->OpenFile(path, mode);
    if (!f.ok()) return f.status();
    return std::unique_ptr<reactor::File>(std::make_unique<NoHoleFile>(std::move(*f), &punches));
  }
  int punches = 0;

 private:
  reactor::Uring* real_;
};

// Deallocate where no hole can be punched still reads back zeroes (written instead, and only in
// the deallocated range); a failed sync fails the Flush rather than reporting durability.
TEST_F(FileBackendTest, DeallocateWritesZeroesWhereNoHoleCanBePunchedAndFlushReportsSyncErrors) {
  NoHoleReactor r(loop_.get());
  Open(&r);
  DeallocateTheMiddleAndReadBack();
  EXPECT_EQ(r.punches, 1);
  const Status flush = Run([&](Backend::Done d) { backend_->Flush(d); });
  EXPECT_FALSE(flush.ok());
  EXPECT_NE(flush.ToString().find("fdatasync: injected failure"), std::string::npos)
      << flush.ToString();
}

}  // namespace
}  // namespace nvmpath::target
