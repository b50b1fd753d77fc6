#include "target/late_writes.h"

#include "base/log.h"

namespace nvmpath::target {

void LateWrites::Schedule(std::string subnqn, uint32_t nsid, uint64_t offset,
                          std::vector<uint8_t> data, Duration delay) {
  auto buf = std::make_shared<std::vector<uint8_t>>(std::move(data));
  reactor_->AddTimer(delay, [this, alive = std::weak_ptr<int>(alive_), subnqn, nsid, offset, buf] {
    if (alive.lock()) Execute(subnqn, nsid, offset, buf);
  });
}

void LateWrites::Execute(const std::string& subnqn, uint32_t nsid, uint64_t offset,
                         std::shared_ptr<std::vector<uint8_t>> data) {
  Subsystem* s = model_->FindSubsystem(subnqn);
  auto ns = s ? s->Find(nsid) : nullptr;
  if (!ns || offset + data->size() > ns->backend->size_bytes()) return;
  NVMP_LOG_INFO("target: late write executes: {} ns {} offset {} ({} bytes)", subnqn, nsid, offset,
                data->size());
  ns->backend->Write(offset, *data, [this, alive = std::weak_ptr<int>(alive_), data, ns](Status) {
    if (alive.lock()) ++executed_;
  });
}

}  // namespace nvmpath::target
