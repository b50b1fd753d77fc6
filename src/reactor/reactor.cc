#include "reactor/reactor.h"

#include <sched.h>

#include <fcntl.h>

#include <cerrno>

#include "base/assert.h"

namespace nvmpath::reactor {
namespace {
thread_local Reactor* t_current = nullptr;
}  // namespace

Reactor* Current() { return t_current; }
void internal::SetCurrent(Reactor* r) { t_current = r; }

Result<int> internal::OpenFd(const std::string& path, OpenMode mode) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case OpenMode::kReadOnly: flags |= O_RDONLY; break;
    case OpenMode::kReadWrite: flags |= O_RDWR; break;
    case OpenMode::kReadWriteCreate: flags |= O_RDWR | O_CREAT; break;
  }
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  return fd;
}

int CurrentNumaNode() {
  unsigned cpu = 0, node = 0;
  if (::getcpu(&cpu, &node) != 0) return -1;
  return static_cast<int>(node);
}

}  // namespace nvmpath::reactor
