#include "target/connection_table.h"

#include "target/connection.h"

namespace nvmpath::target {

void ConnectionTable::Accept(Core* core, uint16_t port_id,
                             std::unique_ptr<reactor::Stream> stream) {
  const uint64_t id = next_id_++;
  auto conn = std::make_shared<Connection>(core, id, port_id, std::move(stream));
  open_[id] = conn;
  conn->Start();
}

void ConnectionTable::Retire(const Connection& conn) {
  auto it = open_.find(conn.id());
  if (it == open_.end()) return;
  closed_.push_back(std::move(it->second));
  open_.erase(it);
  if (reap_posted_) return;
  reap_posted_ = true;
  reactor_->Post([this, alive = std::weak_ptr<int>(alive_)] {
    if (alive.lock()) Reap();
  });
}

void ConnectionTable::Reap() {
  reap_posted_ = false;
  std::vector<std::shared_ptr<Connection>> dead;
  dead.swap(closed_);
  dead.clear();  // destroys the connections and their streams
}

void ConnectionTable::Close(std::optional<uint16_t> port_id, std::string_view why) {
  std::vector<std::shared_ptr<Connection>> victims;
  for (auto& [id, c] : open_) {
    if (!port_id || c->port_id() == *port_id) victims.push_back(c);
  }
  for (auto& c : victims) c->Close(why);
}

void ConnectionTable::ReleaseHeld() {
  std::vector<std::shared_ptr<Connection>> all;
  for (auto& [id, c] : open_) all.push_back(c);
  for (auto& c : all) c->ReleaseHeld();
}

size_t ConnectionTable::count(uint16_t port_id) const {
  size_t n = 0;
  for (const auto& [id, c] : open_) n += c->port_id() == port_id ? 1 : 0;
  return n;
}

}  // namespace nvmpath::target
