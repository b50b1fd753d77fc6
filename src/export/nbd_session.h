// exports::NbdSession — one NBD client connection, owned by one I/O thread.
//
// The connection is accepted on the home thread and handed to an I/O thread (nbd_server), which
// runs everything here: the fixed-newstyle handshake, then requests parsed from the receive
// buffer and submitted to the head's Device on this same thread (no hop, no lock), replies
// written as each request completes (out of order). A WRITE's payload is copied once, from the
// receive buffer into the request's buffer, which the Device then sends from.
//
// Bad input: a request the export cannot serve (past the end, misaligned, zero or oversized
// length, unknown or unsupported command) gets an error reply and the connection goes on; a bad
// magic, unknown client flags or a malformed EXPORT_NAME close this connection only. A client that
// vanishes mid-request changes nothing for its requests in flight: they complete on the device
// (a write acknowledged to nobody is still written) before the session is destroyed.
//
// Requests larger than the device's transfer limit are split into several device commands and
// answered once, when every part is done (the first error wins). FUA is a write followed by a
// flush of the head. Write zeroes always writes zeroes (never a hole), so NO_HOLE holds.
//
// Thread: the owning I/O thread only. Lifetime: the server destroys the session after it called
// `finished`, which happens once the connection is closed and no request is in flight.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "export/head_table.h"
#include "export/nbd_protocol.h"
#include "reactor/reactor.h"

namespace nvmpath::exports {

struct NbdSessionCounters {
  uint64_t requests = 0;
  uint64_t errors = 0;  // error replies sent
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
};

class NbdSession {
 public:
  using Finished = std::function<void(NbdSession*)>;

  NbdSession(std::unique_ptr<reactor::Stream> stream, const HeadTable* heads, Finished finished);
  ~NbdSession();
  NbdSession(const NbdSession&) = delete;
  NbdSession& operator=(const NbdSession&) = delete;

  // Sends the greeting and starts reading.
  void Start();
  // Stop taking requests: those still arriving get ESHUTDOWN; the connection closes once every
  // request in flight has been answered.
  void Stop();

  const NbdSessionCounters& counters() const { return counters_; }
  const std::string& peer() const { return peer_; }

 private:
  enum class State : uint8_t {
    kClientFlags,   // 4 bytes
    kOptionHeader,  // 16 bytes
    kOptionData,    // header.length bytes
    kSkipOption,    // oversized option data, then ERR_TOO_BIG
    kRequest,       // 28 bytes
    kWriteData,     // the current write's payload, straight into its buffer
    kSkipData,      // the payload of a write answered with an error
    kClosed,
  };

  struct Request {
    NbdSession* session = nullptr;
    nbd::Request hdr;
    // The data of a READ or WRITE: `size` bytes of a block kept for the next request (not a
    // vector: resizing one zero-fills what the device or the client overwrites anyway).
    std::unique_ptr<uint8_t[]> data;
    size_t capacity = 0;
    size_t size = 0;
    std::span<uint8_t> buf() { return {data.get(), size}; }
    void Reserve(size_t n) {
      if (n > capacity) {
        data.reset(new uint8_t[n]);
        capacity = n;
      }
      size = n;
    }
    uint32_t parts_left = 0;
    Status status;
    Request* next_free = nullptr;
  };

  void OnReceive(std::span<const uint8_t> bytes);
  void OnClose(const Status& why);
  // Fixed-size pieces (headers, option data) collected across receives.
  bool Collect(std::span<const uint8_t>& bytes, size_t need);

  // ---- handshake ----
  void OnClientFlags(std::span<const uint8_t> in);
  void OnOptionHeader(std::span<const uint8_t> in);
  void OnOption(uint32_t option, std::span<const uint8_t> data);
  void OnExportName(std::string_view name);
  void OnInfoOrGo(uint32_t option, std::span<const uint8_t> data);
  void SendOptionError(uint32_t option, uint32_t type, const std::string& message);
  void EnterTransmission(const ExportedHead& head);
  uint16_t TransmissionFlags() const;

  // ---- transmission ----
  void OnRequestHeader(const nbd::Request& r);
  // The error a request gets before it reaches the device, or 0.
  uint32_t Validate(const nbd::Request& r, std::string* why) const;
  void Execute(Request* req);
  void Submit(Request* req, uint64_t lba, uint32_t nblocks, std::span<uint8_t> data);
  void PartDone(Request* req, Status st);
  void Reply(Request* req);
  void ReplyError(uint64_t cookie, uint32_t error, const std::string& message);
  Request* NewRequest();
  void FreeRequest(Request* req);

  void CloseConnection();
  void MaybeFinish();
  void Send(std::span<const uint8_t> bytes) { stream_->Send(bytes); }

  std::unique_ptr<reactor::Stream> stream_;
  const HeadTable* const heads_;
  Finished finished_;
  const std::string peer_;
  State state_ = State::kClientFlags;
  std::vector<uint8_t> collected_;
  nbd::OptionHeader option_{};
  uint64_t skip_left_ = 0;
  bool no_zeroes_ = false;
  bool structured_ = false;
  bool stopping_ = false;
  bool finish_reported_ = false;

  // transmission
  Device* device_ = nullptr;
  std::string export_name_;
  uint32_t block_size_ = 512;
  uint64_t size_bytes_ = 0;
  Request* writing_ = nullptr;  // the write whose payload is arriving
  uint64_t write_filled_ = 0;
  uint64_t in_flight_ = 0;
  Request* free_ = nullptr;
  std::vector<std::unique_ptr<Request>> all_;
  NbdSessionCounters counters_;
};

}  // namespace nvmpath::exports
