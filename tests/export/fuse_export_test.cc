// exports::FuseExport (src/export/fuse_export.h) mounted for real, over a Client connected to the
// project's target on 127.0.0.1.
//
// Goal: what a program sees in DIR — one regular file per head with the head's size (following a
// resize); reads and writes at aligned and unaligned offsets, buffered and O_DIRECT, that match
// what Device::Read sees and leave the bytes around them alone; requests split at max_io_blocks;
// fsync; fallocate punch hole / zero range; the end of the head; the namespace-shaped refusals
// (create, unlink, rename, resize); concurrent unaligned writes sharing blocks losing nothing;
// mount errors naming DIR; a stale mount from a killed run detected and named; Stop from a
// signal-handling thread with I/O in flight.
// Method: target::Target on its own reactor::Uring thread (one port; MDTS 64 KiB, so
// max_io_blocks is 128 and a 1 MiB FUSE request becomes 16 Device I/Os); a Client with two I/O
// threads; the export mounted in a mkdtemp directory; plain syscalls on its files. Needs root and
// /dev/fuse (skips otherwise). The target's memory backend reads deallocated blocks as zeroes
// (namespace_backend.h), so punch hole is checked by reading zeroes back.
//
// DISABLED_MeasureLatency measures QD1 4 KiB reads through FUSE against Device::Read (numbers
// in fuse_export.h's header); run it with --gtest_also_run_disabled_tests.
#include "export/fuse_export.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/aio_abi.h>
#include <linux/falloc.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/assert.h"
#include "client/target_fixture.h"
#include "client/waiter.h"
#include "export/head_table.h"
#include "nvmpath/client.h"
#include "reactor/uring.h"
#include "target/target.h"

namespace nvmpath::exports {
namespace {

using namespace std::chrono_literals;

using client_test::kNsBytes;
using client_test::kSubnqn;
using client_test::TargetOnThread;
constexpr uint32_t kBs = 512;
constexpr uint32_t kMdtsPages = 4;  // 2^4 pages of 4 KiB: 64 KiB, 128 blocks per Device I/O
constexpr uint32_t kMaxIoBlocks = (4096u << kMdtsPages) / kBs;

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::vector<uint8_t> Pattern(size_t bytes, uint32_t seed) {
  std::vector<uint8_t> v(bytes);
  for (size_t i = 0; i < bytes; ++i) v[i] = static_cast<uint8_t>((i * 131 + seed * 7 + 1) & 0xFF);
  return v;
}


// Tests mount with StartHost() (some block signals first, or mount by other means).
class FuseExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: mounting a FUSE file system";
    if (access("/dev/fuse", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "needs /dev/fuse: " << std::strerror(errno);
    }
    char tmpl[] = "/tmp/nvmpath-fuse-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }

  void TearDown() override {
    if (fuse_) fuse_->Stop();
    fuse_.reset();
    heads_.reset();
    client_.reset();
    target_.reset();
    if (!dir_.empty()) {
      struct stat st;
      if (stat(dir_.c_str(), &st) != 0 && errno == ENOTCONN) umount2(dir_.c_str(), MNT_DETACH);
      EXPECT_EQ(rmdir(dir_.c_str()), 0) << dir_ << ": " << std::strerror(errno);
    }
  }

  // Target, client, head table and the mount.
  void StartHost(FuseOptions options = {}) {
    target_ = std::make_unique<TargetOnThread>(/*port2_enabled=*/true, kMdtsPages);
    ClientOptions o;
    o.subnqn = kSubnqn;
    o.hostnqn = "nqn.2024-01.io.nvmpath:fuse-export-test-host";
    o.paths = {{"127.0.0.1", target_->port1()}};
    o.io_threads = 2;
    o.io_timeout = 5s;
    o.connect_timeout = 5s;
    auto c = Client::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
    dev1_ = *client_->Open(1);
    dev2_ = *client_->Open(2);
    heads_ = std::make_unique<HeadTable>(std::vector<Client*>{client_.get()});
    auto m = FuseExport::Mount(dir_, heads_.get(), options);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    fuse_ = std::move(m).value();
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // The bytes [off, off + len) as the Device reads them (whole blocks, cut out).
  std::vector<uint8_t> DevRead(Device* dev, uint64_t off, size_t len) {
    const uint64_t first = off / kBs, end = (off + len + kBs - 1) / kBs;
    std::vector<uint8_t> blocks((end - first) * kBs);
    for (uint64_t b = first; b < end;) {
      const auto n = static_cast<uint32_t>(std::min<uint64_t>(end - b, 128));
      Status st = dev->Read(b, n, std::span(blocks).subspan((b - first) * kBs, n * kBs));
      EXPECT_TRUE(st.ok()) << st.ToString();
      if (!st.ok()) break;
      b += n;
    }
    const auto skip = static_cast<ptrdiff_t>(off - first * kBs);
    return std::vector<uint8_t>(blocks.begin() + skip, blocks.begin() + skip + len);
  }
  void DevWrite(Device* dev, uint64_t off, const std::vector<uint8_t>& data) {
    for (size_t done = 0; done < data.size();) {
      const uint32_t n =
          static_cast<uint32_t>(std::min<size_t>(data.size() - done, 64 * 1024) / kBs);
      Status st = dev->Write((off + done) / kBs, n, std::span(data).subspan(done, n * kBs));
      ASSERT_TRUE(st.ok()) << st.ToString();
      done += n * kBs;
    }
  }

  std::string dir_;
  std::unique_ptr<TargetOnThread> target_;
  std::unique_ptr<Client> client_;
  Device* dev1_ = nullptr;
  Device* dev2_ = nullptr;
  std::unique_ptr<HeadTable> heads_;
  std::unique_ptr<FuseExport> fuse_;
};

// An fd closed at scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// A page-aligned buffer for O_DIRECT.
struct AlignedBuf {
  explicit AlignedBuf(size_t n) : size(n) {
    void* p = nullptr;
    NVMP_ASSERT(posix_memalign(&p, 4096, n) == 0);
    data = static_cast<uint8_t*>(p);
  }
  ~AlignedBuf() { free(data); }
  uint8_t* data;
  size_t size;
};

// ---- the directory ----

TEST_F(FuseExportTest, ListsEveryHeadWithItsSizeAndFollowsAResize) {
  StartHost();
  std::vector<std::string> names;
  DIR* d = opendir(dir_.c_str());
  ASSERT_NE(d, nullptr) << std::strerror(errno);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    EXPECT_EQ(e->d_type, DT_REG) << n;
    names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"nvmpath0n1", "nvmpath0n2"}));
  for (const auto& n : names) {
    struct stat st;
    ASSERT_EQ(stat(Path(n).c_str(), &st), 0) << n << ": " << std::strerror(errno);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), kNsBytes) << n;
  }
  struct stat st;
  EXPECT_EQ(stat(Path("nvmpath0n3").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(stat(Path("nvme0n1").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);

  // The size is read afresh at every stat (attr timeout 0).
  target_->Control([](target::Target& t) { return t.ResizeNamespace(kSubnqn, 1, 2 * kNsBytes); });
  EXPECT_TRUE(WaitFor([&] {
    struct stat s;
    return stat(Path("nvmpath0n1").c_str(), &s) == 0 &&
           static_cast<uint64_t>(s.st_size) == 2 * kNsBytes;
  })) << "the file's size did not follow the resize";
  // Past the old end, through the file.
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  auto data = Pattern(4096, 9);
  ASSERT_EQ(pwrite(fd.get(), data.data(), data.size(), 2 * kNsBytes - 4096), 4096);
  EXPECT_EQ(DevRead(dev1_, 2 * kNsBytes - 4096, 4096), data);
}

// ---- read and write ----

TEST_F(FuseExportTest, BufferedReadsAndWritesAtAnyOffsetMatchTheDevice) {
  StartHost();
  constexpr size_t kRegion = 64 * 1024;
  std::vector<uint8_t> model = Pattern(kRegion, 1);
  DevWrite(dev1_, 0, model);
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);

  struct Case {
    size_t off, len;
  };
  // Aligned; one whole block; both edges partial across blocks; one byte; a write inside one
  // block touching neither edge; the last byte of a block; a long unaligned run; unaligned tail.
  const Case cases[] = {{0, 4096},   {512, 512},   {700, 1000},       {1, 1},
                        {5000, 100}, {1023, 1},    {9000, 20000},     {4096 * 3, 511},
                        {511, 2},    {32768, 513}, {40000, 24 * 1024}};
  uint32_t seed = 100;
  for (const Case& c : cases) {
    auto data = Pattern(c.len, seed++);
    ASSERT_EQ(pwrite(fd.get(), data.data(), c.len, static_cast<off_t>(c.off)),
              static_cast<ssize_t>(c.len))
        << "at " << c.off << ": " << std::strerror(errno);
    std::copy(data.begin(), data.end(), model.begin() + static_cast<ptrdiff_t>(c.off));
    std::vector<uint8_t> back(c.len);
    ASSERT_EQ(pread(fd.get(), back.data(), c.len, static_cast<off_t>(c.off)),
              static_cast<ssize_t>(c.len));
    EXPECT_EQ(back, data) << "at " << c.off << " len " << c.len;
  }
  // Nothing around the writes changed.
  EXPECT_EQ(DevRead(dev1_, 0, kRegion), model);
  // Unaligned reads of what the device holds.
  for (const Case& c : {Case{1234, 333}, Case{0, 1}, Case{511, 1}, Case{100, 40000}}) {
    std::vector<uint8_t> back(c.len);
    ASSERT_EQ(pread(fd.get(), back.data(), c.len, static_cast<off_t>(c.off)),
              static_cast<ssize_t>(c.len));
    EXPECT_TRUE(std::equal(back.begin(), back.end(), model.begin() + static_cast<ptrdiff_t>(c.off)))
        << "at " << c.off;
  }
  // The other head is untouched.
  EXPECT_EQ(DevRead(dev2_, 0, 4096), std::vector<uint8_t>(4096, 0));
}

TEST_F(FuseExportTest, DirectIoRoundTripsAlignedAndUnaligned) {
  StartHost();
  Fd fd(open(Path("nvmpath0n2").c_str(), O_RDWR | O_DIRECT));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  AlignedBuf out(64 * 1024), in(64 * 1024);
  auto p = Pattern(out.size, 3);
  std::memcpy(out.data, p.data(), p.size());
  ASSERT_EQ(pwrite(fd.get(), out.data, out.size, 128 * 1024), static_cast<ssize_t>(out.size));
  ASSERT_EQ(pread(fd.get(), in.data, in.size, 128 * 1024), static_cast<ssize_t>(in.size));
  EXPECT_EQ(std::memcmp(in.data, out.data, out.size), 0);
  EXPECT_EQ(DevRead(dev2_, 128 * 1024, out.size), p);
  // The files are direct_io: the kernel passes unaligned O_DIRECT requests through, and the
  // export reads-modify-writes the edge blocks.
  std::vector<uint8_t> model = DevRead(dev2_, 0, 8192);
  ASSERT_EQ(pwrite(fd.get(), out.data + 7, 1000, 3), 1000) << std::strerror(errno);
  std::copy(p.begin() + 7, p.begin() + 1007, model.begin() + 3);
  EXPECT_EQ(DevRead(dev2_, 0, 8192), model);
  ASSERT_EQ(pread(fd.get(), in.data, 777, 5), 777);
  EXPECT_TRUE(std::equal(in.data, in.data + 777, model.begin() + 5));
}

TEST_F(FuseExportTest, TheEndOfTheHeadActsLikeABlockDevice) {
  StartHost();
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  std::vector<uint8_t> buf(8192, 0xAB);
  EXPECT_EQ(pread(fd.get(), buf.data(), buf.size(), kNsBytes), 0);            // EOF
  EXPECT_EQ(pread(fd.get(), buf.data(), buf.size(), kNsBytes - 1000), 1000);  // short
  std::fill(buf.begin(), buf.end(), 0xAB);
  EXPECT_EQ(pwrite(fd.get(), buf.data(), buf.size(), kNsBytes), -1);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(pwrite(fd.get(), buf.data(), buf.size(), kNsBytes - 1000), 1000);  // cut short
  EXPECT_EQ(DevRead(dev1_, kNsBytes - 1000, 1000), std::vector<uint8_t>(1000, 0xAB));
}

TEST_F(FuseExportTest, RequestsAboveMaxIoBlocksAreSplitAndRepliedOnce) {
  StartHost();
  ASSERT_EQ(dev1_->max_io_blocks(), kMaxIoBlocks);
  // The kernel sends up to max_write bytes per request (1 MiB when it offers max_pages).
  ASSERT_TRUE(WaitFor([&] { return fuse_->max_write_bytes() != 0; }));
  EXPECT_EQ(fuse_->max_write_bytes(), 1u << 20);

  Fd dfd(open(Path("nvmpath0n1").c_str(), O_RDWR | O_DIRECT));
  ASSERT_GE(dfd.get(), 0) << std::strerror(errno);
  constexpr size_t kMiB = 1 << 20;
  AlignedBuf out(3 * kMiB), in(3 * kMiB);
  auto p = Pattern(out.size, 5);
  std::memcpy(out.data, p.data(), p.size());
  const uint64_t before = dev1_->counters().submitted;
  // 3 MiB at block 7: three 1 MiB FUSE requests, each 16+ Device I/Os.
  ASSERT_EQ(pwrite(dfd.get(), out.data, out.size, 7 * kBs), static_cast<ssize_t>(out.size))
      << std::strerror(errno);
  const uint64_t writes = dev1_->counters().submitted - before;
  EXPECT_GE(writes, 3 * kMiB / (kMaxIoBlocks * kBs)) << "not split";
  ASSERT_EQ(pread(dfd.get(), in.data, in.size, 7 * kBs), static_cast<ssize_t>(in.size));
  EXPECT_EQ(std::memcmp(in.data, out.data, out.size), 0);
  EXPECT_EQ(DevRead(dev1_, 7 * kBs, out.size), p);

  // Unaligned and buffered, across many chunks.
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR));
  ASSERT_GE(fd.get(), 0);
  auto q = Pattern(kMiB + 100, 6);
  ASSERT_EQ(pwrite(fd.get(), q.data(), q.size(), 1000), static_cast<ssize_t>(q.size()));
  std::vector<uint8_t> back(q.size());
  ASSERT_EQ(pread(fd.get(), back.data(), back.size(), 1000), static_cast<ssize_t>(back.size()));
  EXPECT_EQ(back, q);
  auto dev = DevRead(dev1_, 0, 2 * kMiB);
  EXPECT_TRUE(std::equal(q.begin(), q.end(), dev.begin() + 1000));
  EXPECT_TRUE(std::all_of(dev.begin(), dev.begin() + 1000, [](uint8_t b) { return b == 0; }))
      << "bytes before the unaligned write changed";
}

// One failed Device I/O among the chunks of a split request fails the request: the errno of the
// first error (a media error: kIoError, EIO), replied once, after every chunk is done.
TEST_F(FuseExportTest, AFailedChunkFailsTheWholeRequest) {
  StartHost();
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR | O_DIRECT));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  AlignedBuf buf(1 << 20);
  std::memset(buf.data, 0x5C, buf.size);
  auto fail_next = [&](uint8_t opcode, uint16_t code) {
    target_->Control([&](target::Target& t) {
      target::FailNextSpec spec;
      spec.count = 1;
      spec.status = nvme::NvmeStatus::Of(code, /*dnr=*/true);
      spec.opcode = opcode;
      return t.FailNext(spec);
    });
  };
  fail_next(0x02, nvme::sc::kUnrecoveredReadError);  // NVMe Read
  EXPECT_EQ(pread(fd.get(), buf.data, buf.size, 0), -1);
  EXPECT_EQ(errno, EIO);
  fail_next(0x01, nvme::sc::kWriteFault);  // NVMe Write
  EXPECT_EQ(pwrite(fd.get(), buf.data, buf.size, 0), -1);
  EXPECT_EQ(errno, EIO);
  // The count drops just after the reply goes out.
  EXPECT_TRUE(WaitFor([&] { return fuse_->requests_in_flight() == 0; }));
  // The next requests are whole again.
  EXPECT_EQ(pwrite(fd.get(), buf.data, buf.size, 0), static_cast<ssize_t>(buf.size));
  EXPECT_EQ(pread(fd.get(), buf.data, buf.size, 0), static_cast<ssize_t>(buf.size));
  EXPECT_EQ(buf.data[buf.size - 1], 0x5C);
}

TEST_F(FuseExportTest, FsyncFlushesTheDevice) {
  StartHost();
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR));
  ASSERT_GE(fd.get(), 0);
  auto data = Pattern(4096, 2);
  ASSERT_EQ(pwrite(fd.get(), data.data(), data.size(), 0), 4096);
  const uint64_t before = dev1_->counters().submitted;
  EXPECT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
  EXPECT_EQ(fdatasync(fd.get()), 0) << std::strerror(errno);
  EXPECT_EQ(dev1_->counters().submitted - before, 2u) << "one Device flush per fsync";
}

TEST_F(FuseExportTest, FallocatePunchesHolesZeroesRangesAndRefusesTheRest) {
  StartHost();
  constexpr size_t kRegion = 64 * 1024;
  std::vector<uint8_t> model = Pattern(kRegion, 4);
  DevWrite(dev1_, 0, model);
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR));
  ASSERT_GE(fd.get(), 0);

  // Punch hole → deallocate (the memory backend reads it back as zeroes).
  ASSERT_EQ(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192), 0)
      << std::strerror(errno);
  std::fill(model.begin() + 4096, model.begin() + 4096 + 8192, 0);
  // Zero range → write zeroes.
  ASSERT_EQ(fallocate(fd.get(), FALLOC_FL_ZERO_RANGE, 16384, 1024), 0) << std::strerror(errno);
  std::fill(model.begin() + 16384, model.begin() + 16384 + 1024, 0);
  ASSERT_EQ(fallocate(fd.get(), FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 20480, 512), 0);
  std::fill(model.begin() + 20480, model.begin() + 20480 + 512, 0);
  // Allocate an existing range: nothing to do.
  ASSERT_EQ(fallocate(fd.get(), 0, 0, 65536), 0) << std::strerror(errno);
  ASSERT_EQ(fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, 2 * kNsBytes), 0);
  EXPECT_EQ(DevRead(dev1_, 0, kRegion), model);
  std::vector<uint8_t> back(8192);
  ASSERT_EQ(pread(fd.get(), back.data(), back.size(), 4096), 8192);
  EXPECT_EQ(back, std::vector<uint8_t>(8192, 0));

  // Refusals: unaligned (as a block device), growing, other modes.
  EXPECT_EQ(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 512), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(fallocate(fd.get(), FALLOC_FL_ZERO_RANGE, 512, 100), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(fallocate(fd.get(), 0, kNsBytes - 512, 4096), -1);
  EXPECT_EQ(errno, EFBIG);
  EXPECT_EQ(fallocate(fd.get(), FALLOC_FL_ZERO_RANGE, kNsBytes - 512, 4096), -1);
  EXPECT_EQ(errno, EFBIG);
  EXPECT_EQ(fallocate(fd.get(), FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(DevRead(dev1_, 0, kRegion), model) << "a refused fallocate changed data";
  // Past the end with KEEP_SIZE: cut at the end.
  auto tail = Pattern(4096, 8);
  DevWrite(dev1_, kNsBytes - 4096, tail);
  ASSERT_EQ(
      fallocate(fd.get(), FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, kNsBytes - 1024, 1 << 20), 0);
  std::fill(tail.end() - 1024, tail.end(), 0);
  EXPECT_EQ(DevRead(dev1_, kNsBytes - 4096, 4096), tail);
  // The whole head at once: 8192 blocks of write zeroes.
  ASSERT_EQ(fallocate(fd.get(), FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, kNsBytes), 0);
  EXPECT_EQ(DevRead(dev1_, 0, kRegion), std::vector<uint8_t>(kRegion, 0));
}

TEST_F(FuseExportTest, FilesCannotBeCreatedRemovedRenamedOrResized) {
  StartHost();
  const std::string n1 = Path("nvmpath0n1");
  EXPECT_EQ(open(Path("new").c_str(), O_CREAT | O_RDWR, 0600), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(mkdir(Path("d").c_str(), 0700), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(unlink(n1.c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(rename(n1.c_str(), Path("x").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(link(n1.c_str(), Path("y").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(symlink("nvmpath0n1", Path("z").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(chmod(n1.c_str(), 0666), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(truncate(n1.c_str(), 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(truncate(n1.c_str(), kNsBytes + 512), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(open(n1.c_str(), O_RDWR | O_TRUNC), -1);
  EXPECT_EQ(errno, EPERM);
  // What tools do anyway: truncate to the current size, touch, O_CREAT on an existing file.
  EXPECT_EQ(truncate(n1.c_str(), kNsBytes), 0) << std::strerror(errno);
  EXPECT_EQ(utimensat(AT_FDCWD, n1.c_str(), nullptr, 0), 0) << std::strerror(errno);
  Fd fd(open(n1.c_str(), O_CREAT | O_RDWR, 0600));
  EXPECT_GE(fd.get(), 0) << std::strerror(errno);
  struct stat st;
  ASSERT_EQ(stat(n1.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kNsBytes);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// Unaligned writes in flight together share blocks: each block's read-modify-write must see the
// others' bytes (the write gate orders overlapping spans), or a slice reverts. Synchronous
// writes cannot overlap (the kernel holds the inode lock around a direct write unless the server
// sets FOPEN_PARALLEL_DIRECT_WRITES, which libfuse 3.14 cannot), so the writes are Linux AIO
// on O_DIRECT: with async DIO the kernel queues them as concurrent FUSE requests — as a loop
// device in direct-I/O mode does.
TEST_F(FuseExportTest, ConcurrentUnalignedWritesSharingBlocksLoseNothing) {
  StartHost();
  constexpr int kSlices = 16, kRounds = 40;
  constexpr size_t kSlice = 100;  // 16 slices over blocks 0-1 and 3-4, several per block
  auto slice_at = [](int t) -> size_t { return t < 10 ? t * kSlice : 3 * kBs + (t - 10) * kSlice; };
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR | O_DIRECT));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  aio_context_t ctx = 0;
  ASSERT_EQ(syscall(SYS_io_setup, 2 * kSlices, &ctx), 0) << std::strerror(errno);
  std::vector<std::vector<uint8_t>> bufs(kSlices + 1);
  uint64_t max_in_flight = 0;
  for (int r = 0; r < kRounds; ++r) {
    std::vector<iocb> cbs(kSlices + 1);
    std::vector<iocb*> ptrs;
    for (int t = 0; t <= kSlices; ++t) {
      // Slice t, and now and then an aligned write of block 2 among them.
      const bool aligned = t == kSlices;
      bufs[t].assign(aligned ? kBs : kSlice, static_cast<uint8_t>(t * 31 + r));
      iocb& cb = cbs[t];
      cb = iocb{};
      cb.aio_fildes = static_cast<uint32_t>(fd.get());
      cb.aio_lio_opcode = IOCB_CMD_PWRITE;
      cb.aio_buf = reinterpret_cast<uintptr_t>(bufs[t].data());
      cb.aio_nbytes = bufs[t].size();
      cb.aio_offset = static_cast<int64_t>(aligned ? 2 * kBs : slice_at(t));
      if (!aligned || r % 4 == 0) ptrs.push_back(&cb);
    }
    ASSERT_EQ(syscall(SYS_io_submit, ctx, ptrs.size(), ptrs.data()), static_cast<long>(ptrs.size()))
        << std::strerror(errno);
    max_in_flight = std::max(max_in_flight, fuse_->requests_in_flight());
    std::vector<io_event> ev(ptrs.size());
    for (size_t got = 0; got < ptrs.size();) {
      const long n = syscall(SYS_io_getevents, ctx, 1, ptrs.size() - got, ev.data() + got, nullptr);
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0) << std::strerror(errno);
      got += static_cast<size_t>(n);
    }
    for (const io_event& e : ev) {
      const auto* cb = reinterpret_cast<const iocb*>(e.obj);
      EXPECT_EQ(e.res, static_cast<int64_t>(cb->aio_nbytes)) << "at " << cb->aio_offset;
    }
    // Every slice holds this round's bytes.
    auto dev = DevRead(dev1_, 0, 5 * kBs);
    for (int t = 0; t < kSlices; ++t) {
      const size_t at = slice_at(t);
      ASSERT_TRUE(std::all_of(dev.begin() + at, dev.begin() + at + kSlice,
                              [&](uint8_t b) { return b == static_cast<uint8_t>(t * 31 + r); }))
          << "round " << r << ": slice " << t << " at " << at << " lost its write";
    }
  }
  syscall(SYS_io_destroy, ctx);
  EXPECT_TRUE(WaitFor([&] { return fuse_->requests_in_flight() == 0; }));
  std::printf("most requests in flight at once: %llu\n",
              static_cast<unsigned long long>(max_in_flight));
}

// ---- mount errors ----

TEST_F(FuseExportTest, MountErrorsNameTheDirectoryAndWhy) {
  HeadTable none({});
  auto missing = FuseExport::Mount(dir_ + "/no-such-dir", &none);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir_ + "/no-such-dir"), std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("No such file or directory"), std::string::npos)
      << missing.status().message();

  const std::string file = dir_ + "/a-file";
  Fd fd(open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  ASSERT_GE(fd.get(), 0);
  auto not_dir = FuseExport::Mount(file, &none);
  ASSERT_FALSE(not_dir.ok());
  EXPECT_NE(not_dir.status().message().find(file + ": not a directory"), std::string::npos)
      << not_dir.status().message();
  unlink(file.c_str());

  auto no_heads = FuseExport::Mount(dir_, nullptr);
  EXPECT_FALSE(no_heads.ok());
}

// A run killed while mounted leaves the mount with no server: stat says ENOTCONN. The child
// mounts by hand (open /dev/fuse, mount(2)) and exits without unmounting, as a killed
// `nvmpath host` would.
TEST_F(FuseExportTest, StaleMountFromAKilledRunIsDetectedAndTheFixNamed) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = open("/dev/fuse", O_RDWR);
    if (fd < 0) _exit(1);
    char opts[128];
    snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
    _exit(mount("nvmpath", dir_.c_str(), "fuse.nvmpath", MS_NOSUID | MS_NODEV, opts) == 0 ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child mount failed";
  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), -1);
  ASSERT_EQ(errno, ENOTCONN);

  HeadTable none({});
  auto stale = FuseExport::Mount(dir_, &none);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kUnavailable);
  const std::string& m = stale.status().message();
  EXPECT_NE(m.find("fusermount3 -u " + dir_), std::string::npos) << m;
  EXPECT_NE(m.find("Transport endpoint is not connected"), std::string::npos) << m;

  // The named fix works, and the directory mounts again.
  ASSERT_EQ(umount2(dir_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  StartHost();
  ASSERT_EQ(stat(Path("nvmpath0n1").c_str(), &st), 0) << std::strerror(errno);
}

// ---- stop ----

// `nvmpath host` stops from the thread that takes SIGINT/SIGTERM (sigwait). Stop must return
// with requests in flight: it stops reading /dev/fuse, lets the Device finish what it took and
// replies to it, then unmounts.
TEST_F(FuseExportTest, StopFromASignalThreadWithIoInFlight) {
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);  // inherited by every thread below
  StartHost();
  target_->Control([](target::Target& t) { return t.SetResponseDelay(std::nullopt, 400ms); });

  constexpr int kWriters = 4;
  std::vector<ssize_t> results(kWriters, 0);
  std::vector<int> errnos(kWriters, 0);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      Fd fd(open(Path("nvmpath0n1").c_str(), O_RDWR));
      auto data = Pattern(64 * 1024, i);
      results[i] = fd.get() < 0 ? -1 : pwrite(fd.get(), data.data(), data.size(), i * 65536);
      errnos[i] = errno;
    });
  }
  EXPECT_TRUE(WaitFor([&] { return fuse_->requests_in_flight() > 0; }));

  std::atomic<bool> stopped{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&usr1, &sig);
    fuse_->Stop();
    stopped = true;
  });
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  const bool returned = WaitFor([&] { return stopped.load(); }, 20s);
  EXPECT_TRUE(returned) << "Stop did not return with I/O in flight";
  if (!returned)
    signal_thread.detach();  // hung: let the test fail, not the runner
  else
    signal_thread.join();
  EXPECT_EQ(fuse_->requests_in_flight(), 0u);
  for (auto& w : writers) w.join();
  int ok = 0;
  for (int i = 0; i < kWriters; ++i) {
    if (results[i] == 64 * 1024) {
      ++ok;
    } else {
      // Queued in the kernel but never read: the closed connection fails it.
      EXPECT_EQ(results[i], -1);
      EXPECT_TRUE(errnos[i] == ENOTCONN || errnos[i] == ECONNABORTED) << std::strerror(errnos[i]);
    }
  }
  EXPECT_GE(ok, 1) << "the request in flight at Stop was not replied to";
  fuse_->Stop();  // idempotent
  struct stat st;
  EXPECT_EQ(stat(Path("nvmpath0n1").c_str(), &st), -1) << "still mounted";
  target_->Control([](target::Target& t) { return t.SetResponseDelay(std::nullopt, 0ms); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// The use the export is for: a loop device over a head's file, its page cache the only cache.
// Buffered writes to /dev/loopN reach the head once fsync returns; reads see the head.
TEST_F(FuseExportTest, LoopDeviceOverAHeadFile) {
  StartHost();
  std::string loop;
  {
    FILE* p = popen(("losetup -f --show " + Path("nvmpath0n2") + " 2>&1").c_str(), "r");
    ASSERT_NE(p, nullptr);
    char line[256] = {};
    if (fgets(line, sizeof(line), p) != nullptr) loop = line;
    const int rc = pclose(p);
    while (!loop.empty() && loop.back() == '\n') loop.pop_back();
    if (rc != 0 || loop.rfind("/dev/loop", 0) != 0) GTEST_SKIP() << "no loop device: " << loop;
  }
  struct Detach {
    std::string dev;
    ~Detach() { EXPECT_EQ(system(("losetup -d " + dev).c_str()), 0) << dev; }
  } detach{loop};
  Fd fd(open(loop.c_str(), O_RDWR));
  ASSERT_GE(fd.get(), 0) << loop << ": " << std::strerror(errno);
  auto data = Pattern(1 << 20, 11);
  ASSERT_EQ(pwrite(fd.get(), data.data(), data.size(), 12345), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
  EXPECT_EQ(DevRead(dev2_, 12345, data.size()), data);
  // Written on the head, read through the loop device (past its cached pages).
  auto other = Pattern(4096, 12);
  DevWrite(dev2_, 3 << 20, other);
  Fd dfd(open(loop.c_str(), O_RDONLY | O_DIRECT));
  ASSERT_GE(dfd.get(), 0);
  AlignedBuf abuf(4096);
  ASSERT_EQ(pread(dfd.get(), abuf.data, 4096, 3 << 20), 4096);
  EXPECT_EQ(std::memcmp(abuf.data, other.data(), 4096), 0);
}

// `fusermount3 -u DIR` (or umount -l) while the export runs: the kernel ends the connection, the
// session threads see it and return, and Stop still returns and leaves nothing mounted.
TEST_F(FuseExportTest, UnmountedFromOutsideThenStopped) {
  StartHost();
  struct stat st;
  ASSERT_EQ(stat(Path("nvmpath0n1").c_str(), &st), 0);
  ASSERT_EQ(umount2(dir_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  EXPECT_EQ(stat(Path("nvmpath0n1").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  fuse_->Stop();
  EXPECT_EQ(fuse_->requests_in_flight(), 0u);
  EXPECT_EQ(stat(dir_.c_str(), &st), 0) << std::strerror(errno);
}

// ---- measurement (run with --gtest_also_run_disabled_tests) ----

TEST_F(FuseExportTest, DISABLED_MeasureLatency) {
  StartHost();
  constexpr int kIos = 2000;
  std::vector<uint8_t> buf(4096);
  auto measure = [&](const std::function<void(int)>& io) {
    rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    std::vector<double> us;
    for (int i = 0; i < kIos; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      io(i);
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    getrusage(RUSAGE_SELF, &r1);
    std::sort(us.begin(), us.end());
    const double csw =
        static_cast<double>((r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw)) / kIos;
    return std::make_tuple(us[us.size() / 2], us[us.size() * 99 / 100], csw);
  };
  auto [dev_p50, dev_p99, dev_csw] =
      measure([&](int i) { ASSERT_TRUE(dev1_->Read((i % 1024) * 8, 8, buf).ok()); });
  Fd fd(open(Path("nvmpath0n1").c_str(), O_RDONLY | O_DIRECT));
  ASSERT_GE(fd.get(), 0);
  AlignedBuf abuf(4096);
  auto [fuse_p50, fuse_p99, fuse_csw] =
      measure([&](int i) { ASSERT_EQ(pread(fd.get(), abuf.data, 4096, (i % 1024) * 4096), 4096); });
  printf("4 KiB reads, QD1, %d each:\n", kIos);
  printf("  Device::Read       p50 %7.1f us  p99 %7.1f us  %.1f context switches / I/O\n", dev_p50,
         dev_p99, dev_csw);
  printf("  FUSE pread O_DIRECT p50 %7.1f us  p99 %7.1f us  %.1f context switches / I/O\n",
         fuse_p50, fuse_p99, fuse_csw);
}

}  // namespace
}  // namespace nvmpath::exports
