#include "export/nbd_server.h"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>

#include "base/assert.h"
#include "base/log.h"
#include "reactor/uring.h"

namespace nvmpath::exports {

NbdServer::NbdServer(const HeadTable* heads, client::IoThreads* threads)
    : heads_(heads), threads_(threads), sessions_(threads->size()) {}

Result<std::unique_ptr<NbdServer>> NbdServer::Start(const std::vector<std::string>& addresses,
                                                    const HeadTable* heads,
                                                    client::IoThreads* threads) {
  NVMP_ASSERT(!threads->Current().has_value(), "NbdServer::Start on an I/O thread");
  std::unique_ptr<NbdServer> s(new NbdServer(heads, threads));
  Status result;
  threads->RunAndWait(0, [&] {
    for (const std::string& a : addresses) {
      auto on_accept = [srv = s.get()](std::unique_ptr<reactor::Stream> st) {
        srv->Accepted(std::move(st));
      };
      Result<std::unique_ptr<reactor::Listener>> l = Status();
      if (a.starts_with("unix:")) {
        l = threads->uring(0)->ListenUnix(a.substr(5), on_accept);
      } else {
        const size_t colon = a.rfind(':');
        uint16_t port = 0;
        const char* end = a.data() + a.size();
        if (colon == std::string::npos ||
            std::from_chars(a.data() + colon + 1, end, port).ptr != end) {
          result = InvalidArgument(fmt::format("NBD address \"{}\": expected unix:PATH or ADDR:PORT", a));
          return;
        }
        l = threads->uring(0)->Listen(a.substr(0, colon), port, on_accept);
      }
      if (!l.ok()) {
        result = l.status().WithContext("NBD export on " + a);
        return;
      }
      s->ports_.push_back((*l)->port());
      s->listeners_.push_back(std::move(l).value());
    }
  });
  if (!result.ok()) {
    threads->RunAndWait(0, [&] { s->listeners_.clear(); });
    return result;
  }
  return s;
}

NbdServer::~NbdServer() { Stop(); }

void NbdServer::Accepted(std::unique_ptr<reactor::Stream> stream) {
  if (stopping_.load(std::memory_order_acquire)) return;  // the stream closes here
  auto fd = reactor::Uring::ReleaseSocket(std::move(stream));
  NVMP_ASSERT(fd.ok(), "a freshly accepted NBD connection could not move threads");
  connections_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    ++live_;
  }
  const unsigned t = next_thread_.fetch_add(1, std::memory_order_relaxed) % threads_->size();
  threads_->reactor(t)->Post([this, t, fd = *fd] { Adopt(t, fd); });
}

void NbdServer::Adopt(unsigned t, int fd) {
  if (stopping_.load(std::memory_order_acquire)) {
    ::close(fd);
    return Released();
  }
  auto session = std::make_unique<NbdSession>(threads_->uring(t)->AdoptSocket(fd), heads_,
                                              [this, t](NbdSession* s) { Finished(t, s); });
  NbdSession* raw = session.get();
  sessions_[t].emplace(raw, std::move(session));
  NVMP_LOG_DEBUG("nbd: {} connected (I/O thread {})", raw->peer(), t);
  raw->Start();
}

void NbdServer::Finished(unsigned t, NbdSession* s) {
  // Called from inside the session: destroy it after the current callback returns.
  threads_->reactor(t)->Post([this, t, s] {
    sessions_[t].erase(s);
    Released();
  });
}

void NbdServer::Released() {
  std::lock_guard<std::mutex> lock(live_mu_);
  NVMP_ASSERT(live_ > 0);
  if (--live_ == 0) live_cv_.notify_all();
}

void NbdServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  NVMP_ASSERT(!threads_->Current().has_value(), "NbdServer::Stop on an I/O thread");
  stopping_.store(true, std::memory_order_release);
  threads_->RunAndWait(0, [&] { listeners_.clear(); });
  for (unsigned t = 0; t < threads_->size(); ++t) {
    threads_->RunAndWait(t, [&] {
      for (auto& [raw, s] : sessions_[t]) s->Stop();
    });
  }
  std::unique_lock<std::mutex> lock(live_mu_);
  live_cv_.wait(lock, [&] { return live_ == 0; });
}

NbdServerCounters NbdServer::counters() const {
  NbdServerCounters c;
  c.connections = connections_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(live_mu_));
  c.sessions = live_;
  return c;
}

}  // namespace nvmpath::exports
