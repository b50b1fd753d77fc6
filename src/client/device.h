// client::DeviceImpl — a Device (include/nvmpath/client.h): one multipath head, driven from the
// client's I/O threads.
//
// Data path: an I/O submitted on an I/O thread takes a request from that thread's pool
// (io_request.h), fills its Bio and hands it to the head on the spot — no lock, no allocation,
// no hop; the callback runs there when the head completes the Bio. An I/O submitted from any
// other thread is posted to an I/O thread picked round-robin and submitted there. Argument
// errors and cancellation (after Close began) complete through the same callback, posted to the
// I/O thread, never inside the submitting call — except off the I/O threads after Close began,
// where no I/O thread may be left to run it: there the callback runs at once with kCancelled.
//
// Size, block size and max_io_blocks are atomics the client sets on the home reactor when the
// head's geometry or a controller's transfer limit changes (the host tells it: no timer), so any
// thread reads them without a hop.
//
// Thread: any, except that the sync calls and counters() must not run on an I/O thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "blk/bio.h"
#include "client/io_threads.h"
#include "mpath/head.h"
#include "nvmpath/client.h"

namespace nvmpath::client {

class ClientImpl;

class DeviceImpl final : public Device {
 public:
  // REQUIRES: client, io and head outlive the device's use (the client owns all three).
  DeviceImpl(ClientImpl* client, IoThreads* io, mpath::Head* head, uint32_t nsid);

  uint32_t nsid() const override { return nsid_; }
  const std::string& name() const override { return name_; }
  uint64_t capacity_blocks() const override { return capacity_.load(std::memory_order_relaxed); }
  uint32_t block_size() const override { return block_size_.load(std::memory_order_relaxed); }
  uint32_t max_io_blocks() const override { return max_io_blocks_.load(std::memory_order_relaxed); }

  void ReadAsync(uint64_t lba, uint32_t nblocks, std::span<uint8_t> data, Callback done) override;
  void WriteAsync(uint64_t lba, uint32_t nblocks, std::span<const uint8_t> data,
                  Callback done) override;
  void FlushAsync(Callback done) override;
  void WriteZeroesAsync(uint64_t lba, uint32_t nblocks, Callback done) override;
  void DeallocateAsync(uint64_t lba, uint32_t nblocks, Callback done) override;

  DeviceCounters counters() const override;
  DeviceInfo info() const override;
  void SetPolicy(PathPolicy policy) override;

  IoThreads* io() const { return io_; }
  mpath::Head* head() const { return head_; }

  // ---- the client ----
  // Home reactor: the head's current geometry and the controllers' transfer limit.
  void Refresh(uint64_t capacity_blocks, uint32_t block_size, uint32_t max_io_blocks);
  // Close: what counters() returns once the I/O threads are gone.
  void SetFinalCounters(DeviceCounters counters);

  // The argument check every I/O gets before it reaches the head (the range is the head's).
  // Errors: kInvalidArgument naming the value.
  Status Check(blk::Op op, uint64_t lba, uint32_t nblocks, size_t bytes) const;

 private:
  void Submit(blk::Op op, uint64_t lba, uint32_t nblocks, std::span<uint8_t> data, Callback done);
  // On I/O thread `thread`.
  void SubmitOn(unsigned thread, blk::Op op, uint64_t lba, uint32_t nblocks,
                std::span<uint8_t> data, Callback done);

  ClientImpl* const client_;
  IoThreads* const io_;
  mpath::Head* const head_;
  // The head's channel on each I/O thread, by thread index: the data path indexes, never searches.
  std::vector<mpath::HeadChannel*> channels_;
  const uint32_t nsid_;
  const std::string name_;
  std::atomic<uint64_t> capacity_{0};
  std::atomic<uint32_t> block_size_{512};
  std::atomic<uint32_t> max_io_blocks_{1};

  mutable std::mutex final_mu_;
  std::optional<DeviceCounters> final_counters_;  // guarded by final_mu_
};

// mpath's statistics in the API's terms.
DeviceCounters ToDeviceCounters(const mpath::HeadStats& stats);
LatencySummary ToLatencySummary(const StatsHistogram& h);

}  // namespace nvmpath::client
