#include "target/faults.h"

namespace nvmpath::target {

void Faults::SetDelay(std::optional<uint16_t> port_id, Duration delay) {
  if (!port_id) {
    // "All ports" replaces every per-port setting.
    delay_port_.clear();
    delay_all_ = delay.count() > 0 ? std::optional<Duration>(delay) : std::nullopt;
    return;
  }
  if (delay.count() > 0) {
    delay_port_[*port_id] = delay;
  } else {
    delay_port_.erase(*port_id);
  }
}

void Faults::SetStalled(std::optional<uint16_t> port_id, bool stalled) {
  if (!port_id) {
    stalled_port_.clear();
    stalled_all_ = stalled;
    return;
  }
  stalled_port_[*port_id] = stalled;
}

Duration Faults::DelayFor(uint16_t port_id) const {
  auto it = delay_port_.find(port_id);
  if (it != delay_port_.end()) return it->second;
  return delay_all_.value_or(Duration{0});
}

bool Faults::StalledFor(uint16_t port_id) const {
  auto it = stalled_port_.find(port_id);
  if (it != stalled_port_.end()) return it->second;
  return stalled_all_;
}

std::optional<nvme::NvmeStatus> Faults::TakeFailNext(uint8_t opcode, uint16_t port_id,
                                                     uint32_t nsid) {
  for (auto it = fail_next_.begin(); it != fail_next_.end(); ++it) {
    if (it->opcode && *it->opcode != opcode) continue;
    if (it->port_id && *it->port_id != port_id) continue;
    if (it->nsid && *it->nsid != nsid) continue;
    const nvme::NvmeStatus status = it->status;
    if (--it->count == 0) fail_next_.erase(it);
    return status;
  }
  return std::nullopt;
}

void Faults::SetLateWrites(uint16_t port_id, uint32_t count, Duration delay) {
  if (count == 0) {
    late_.erase(port_id);
  } else {
    late_[port_id] = {count, delay};
  }
}

std::optional<Duration> Faults::TakeLateWrite(uint16_t port_id) {
  auto it = late_.find(port_id);
  if (it == late_.end()) return std::nullopt;
  const Duration d = it->second.delay;
  if (--it->second.count == 0) late_.erase(it);
  return d;
}

nlohmann::json Faults::Describe() const {
  using nlohmann::json;
  json j = json::object();
  auto ms = [](Duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  j["delay_all_ms"] = delay_all_ ? json(ms(*delay_all_)) : json(nullptr);
  json dp = json::object();
  for (const auto& [p, d] : delay_port_) dp[std::to_string(p)] = ms(d);
  j["delay_ms_by_port"] = dp;
  j["stalled_all"] = stalled_all_;
  json sp = json::object();
  for (const auto& [p, s] : stalled_port_) sp[std::to_string(p)] = s;
  j["stalled_by_port"] = sp;
  json fn = json::array();
  for (const auto& f : fail_next_) {
    json e = {{"count", f.count}, {"status", f.status.field()},
              {"status_name", f.status.ToString()}};
    e["opcode"] = f.opcode ? json(*f.opcode) : json(nullptr);
    e["port_id"] = f.port_id ? json(*f.port_id) : json(nullptr);
    e["nsid"] = f.nsid ? json(*f.nsid) : json(nullptr);
    fn.push_back(e);
  }
  j["fail_next"] = fn;
  json lw = json::object();
  for (const auto& [p, l] : late_) {
    lw[std::to_string(p)] = {{"count", l.count}, {"delay_ms", ms(l.delay)}};
  }
  j["late_writes"] = lw;
  return j;
}

void Faults::ForgetPort(uint16_t port_id) {
  delay_port_.erase(port_id);
  stalled_port_.erase(port_id);
  late_.erase(port_id);
  std::erase_if(fail_next_, [port_id](const FailNextSpec& f) { return f.port_id == port_id; });
}

}  // namespace nvmpath::target
