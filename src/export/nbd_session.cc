#include "export/nbd_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "base/assert.h"
#include "base/log.h"

namespace nvmpath::exports {
namespace {

// The device's Write Zeroes / Deallocate move at most this many blocks per command.
constexpr uint32_t kZeroBlocksMax = 65536;
// Request buffers above this are freed after use instead of kept for the next request.
constexpr size_t kKeepBufferMax = 4 << 20;

std::string Hex(uint64_t v) { return fmt::format("0x{:x}", v); }

}  // namespace

NbdSession::NbdSession(std::unique_ptr<reactor::Stream> stream, const HeadTable* heads,
                       Finished finished)
    : stream_(std::move(stream)),
      heads_(heads),
      finished_(std::move(finished)),
      peer_(stream_->description()) {}

NbdSession::~NbdSession() {
  NVMP_ASSERT(in_flight_ == 0, "NBD session destroyed with requests in flight");
}

void NbdSession::Start() {
  stream_->SetHandlers([this](std::span<const uint8_t> b) { OnReceive(b); },
                       [this](const Status& why) { OnClose(why); });
  const auto greeting = nbd::EncodeGreeting();
  Send(greeting);
}

void NbdSession::Stop() {
  if (stopping_) return;
  stopping_ = true;
  if (device_ == nullptr) return CloseConnection();  // still negotiating: nothing to finish
  if (in_flight_ == 0) CloseConnection();
}

void NbdSession::OnClose(const Status& why) {
  if (!why.ok()) NVMP_LOG_DEBUG("nbd {}: {}", peer_, why.ToString());
  if (writing_ != nullptr) {
    // Its payload never arrived: it was never submitted nor acknowledged.
    FreeRequest(writing_);
    writing_ = nullptr;
  }
  state_ = State::kClosed;
  MaybeFinish();
}

void NbdSession::CloseConnection() {
  if (state_ == State::kClosed && !stream_->is_open()) return MaybeFinish();
  state_ = State::kClosed;
  stream_->Close();  // queued replies are flushed first
  MaybeFinish();
}

void NbdSession::MaybeFinish() {
  if (finish_reported_ || state_ != State::kClosed || in_flight_ > 0) return;
  finish_reported_ = true;
  finished_(this);
}

// ---- receiving ----

bool NbdSession::Collect(std::span<const uint8_t>& bytes, size_t need) {
  const size_t take = std::min(need - collected_.size(), bytes.size());
  collected_.insert(collected_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(take));
  bytes = bytes.subspan(take);
  return collected_.size() == need;
}

void NbdSession::OnReceive(std::span<const uint8_t> bytes) {
  while (!bytes.empty() && state_ != State::kClosed) {
    switch (state_) {
      case State::kClientFlags:
        if (!Collect(bytes, nbd::kClientFlagsBytes)) return;
        OnClientFlags(collected_);
        collected_.clear();
        break;
      case State::kOptionHeader:
        if (!Collect(bytes, nbd::kOptionHeaderBytes)) return;
        OnOptionHeader(collected_);
        collected_.clear();
        break;
      case State::kOptionData: {
        if (!Collect(bytes, option_.length)) return;
        std::vector<uint8_t> data = std::move(collected_);
        collected_.clear();
        state_ = State::kOptionHeader;
        OnOption(option_.option, data);
        break;
      }
      case State::kSkipOption: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(skip_left_, bytes.size()));
        bytes = bytes.subspan(n);
        skip_left_ -= n;
        if (skip_left_ > 0) return;
        state_ = State::kOptionHeader;
        SendOptionError(option_.option, nbd::kRepErrTooBig,
                        fmt::format("option data of {} bytes: at most {}", option_.length,
                                    nbd::kOptionDataMax));
        break;
      }
      case State::kRequest: {
        // Parse straight from the receive buffer when the whole header is there.
        if (collected_.empty() && bytes.size() >= nbd::kRequestBytes) {
          const auto r = nbd::DecodeRequest(bytes.first<nbd::kRequestBytes>());
          bytes = bytes.subspan(nbd::kRequestBytes);
          OnRequestHeader(r);
          break;
        }
        if (!Collect(bytes, nbd::kRequestBytes)) return;
        const auto r = nbd::DecodeRequest(
            std::span<const uint8_t, nbd::kRequestBytes>(collected_.data(), nbd::kRequestBytes));
        collected_.clear();
        OnRequestHeader(r);
        break;
      }
      case State::kWriteData: {
        Request* req = writing_;
        const size_t n =
            static_cast<size_t>(std::min<uint64_t>(req->size - write_filled_, bytes.size()));
        std::copy_n(bytes.begin(), n, req->data.get() + write_filled_);
        write_filled_ += n;
        bytes = bytes.subspan(n);
        if (write_filled_ < req->size) return;
        writing_ = nullptr;
        state_ = State::kRequest;
        Execute(req);
        break;
      }
      case State::kSkipData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(skip_left_, bytes.size()));
        bytes = bytes.subspan(n);
        skip_left_ -= n;
        if (skip_left_ == 0) state_ = State::kRequest;
        break;
      }
      case State::kClosed: return;
    }
  }
}

// ---- handshake ----

void NbdSession::OnClientFlags(std::span<const uint8_t> in) {
  const uint32_t flags = nbd::GetBe32(in, 0);
  const uint32_t known = nbd::kClientFlagFixedNewstyle | nbd::kClientFlagNoZeroes;
  if ((flags & ~known) != 0) {
    NVMP_LOG_WARN("nbd {}: unknown client flags {}: closing", peer_, Hex(flags));
    return CloseConnection();
  }
  no_zeroes_ = (flags & nbd::kClientFlagNoZeroes) != 0;
  state_ = State::kOptionHeader;
}

void NbdSession::OnOptionHeader(std::span<const uint8_t> in) {
  option_ = nbd::DecodeOptionHeader(
      std::span<const uint8_t, nbd::kOptionHeaderBytes>(in.data(), nbd::kOptionHeaderBytes));
  if (option_.magic != nbd::kIHaveOpt) {
    NVMP_LOG_WARN("nbd {}: bad option magic {}: closing", peer_, Hex(option_.magic));
    return CloseConnection();
  }
  if (option_.length > nbd::kOptionDataMax) {
    if (option_.option == nbd::kOptExportName) {
      NVMP_LOG_WARN("nbd {}: EXPORT_NAME of {} bytes: closing", peer_, option_.length);
      return CloseConnection();  // that option has no error reply
    }
    skip_left_ = option_.length;
    state_ = State::kSkipOption;
    return;
  }
  if (option_.length == 0) {
    OnOption(option_.option, {});
    return;
  }
  state_ = State::kOptionData;
}

void NbdSession::SendOptionError(uint32_t option, uint32_t type, const std::string& message) {
  NVMP_LOG_DEBUG("nbd {}: option {}: {}", peer_, nbd::OptionName(option), message);
  Send(nbd::EncodeOptionError(option, type, message));
}

void NbdSession::OnOption(uint32_t option, std::span<const uint8_t> data) {
  if (stopping_) {
    SendOptionError(option, nbd::kRepErrShutdown, "the host is stopping");
    return CloseConnection();
  }
  switch (option) {
    case nbd::kOptExportName:
      return OnExportName(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    case nbd::kOptAbort:
      Send(nbd::EncodeOptionReply(option, nbd::kRepAck));
      return CloseConnection();
    case nbd::kOptList:
      if (!data.empty()) {
        return SendOptionError(option, nbd::kRepErrInvalid, "LIST takes no data");
      }
      for (const auto& h : heads_->List()) Send(nbd::EncodeServerReply(option, h.name));
      Send(nbd::EncodeOptionReply(option, nbd::kRepAck));
      return;
    case nbd::kOptInfo:
    case nbd::kOptGo: return OnInfoOrGo(option, data);
    case nbd::kOptStructuredReply:
      if (!data.empty()) {
        return SendOptionError(option, nbd::kRepErrInvalid, "STRUCTURED_REPLY takes no data");
      }
      structured_ = true;
      Send(nbd::EncodeOptionReply(option, nbd::kRepAck));
      return;
    case nbd::kOptListMetaContext:
    case nbd::kOptSetMetaContext:
      if (!structured_) {
        return SendOptionError(option, nbd::kRepErrInvalid,
                               "meta contexts need structured replies first");
      }
      // No metadata context is offered: the answer is an empty list.
      Send(nbd::EncodeOptionReply(option, nbd::kRepAck));
      return;
    case nbd::kOptStartTls:
      return SendOptionError(option, nbd::kRepErrUnsup, "TLS is not supported by this export");
    default:
      return SendOptionError(option, nbd::kRepErrUnsup,
                             fmt::format("option {} is not supported", option));
  }
}

void NbdSession::OnExportName(std::string_view name) {
  auto head = heads_->Find(name);
  if (!head.ok()) {
    // EXPORT_NAME has no error reply: the protocol's answer is to close.
    NVMP_LOG_WARN("nbd {}: EXPORT_NAME: {}: closing", peer_, head.status().message());
    return CloseConnection();
  }
  EnterTransmission(*head);
  Send(nbd::EncodeExportNameReply(size_bytes_, TransmissionFlags(), no_zeroes_));
}

void NbdSession::OnInfoOrGo(uint32_t option, std::span<const uint8_t> data) {
  nbd::InfoRequest req;
  std::string error;
  if (!nbd::DecodeInfoRequest(data, &req, &error)) {
    return SendOptionError(option, nbd::kRepErrInvalid, error);
  }
  auto head = heads_->Find(req.name);
  if (!head.ok()) return SendOptionError(option, nbd::kRepErrUnknown, head.status().message());
  Device* dev = head->device;
  const uint32_t bs = dev->block_size();
  const uint64_t size = dev->capacity_blocks() * bs;
  Send(nbd::EncodeInfoExport(option, size, TransmissionFlags()));
  // Always sent: a client that did not ask may ignore it, one that did relies on it.
  Send(nbd::EncodeInfoBlockSize(option, bs, std::max(bs, nbd::kPreferredBlockSize),
                                nbd::kPayloadMax));
  for (uint16_t info : req.infos) {
    if (info == nbd::kInfoName) Send(nbd::EncodeInfoName(option, head->name));
  }
  Send(nbd::EncodeOptionReply(option, nbd::kRepAck));
  if (option == nbd::kOptGo) EnterTransmission(*head);
}

uint16_t NbdSession::TransmissionFlags() const {
  return nbd::kTxHasFlags | nbd::kTxSendFlush | nbd::kTxSendFua | nbd::kTxSendTrim |
         nbd::kTxSendWriteZeroes | nbd::kTxCanMultiConn;
}

void NbdSession::EnterTransmission(const ExportedHead& head) {
  device_ = head.device;
  export_name_ = head.name;
  block_size_ = device_->block_size();
  size_bytes_ = device_->capacity_blocks() * block_size_;
  state_ = State::kRequest;
  NVMP_LOG_INFO("nbd {}: serving {} ({} bytes, {}-byte blocks{})", peer_, export_name_,
                size_bytes_, block_size_, structured_ ? ", structured replies" : "");
}

// ---- transmission ----

uint32_t NbdSession::Validate(const nbd::Request& r, std::string* why) const {
  switch (r.type) {
    case nbd::kCmdRead:
    case nbd::kCmdWrite:
      if (r.length > nbd::kPayloadMax) {
        *why = fmt::format("{} of {} bytes: at most {}", nbd::CommandName(r.type), r.length,
                           nbd::kPayloadMax);
        return nbd::kEoverflow;
      }
      break;
    case nbd::kCmdTrim:
    case nbd::kCmdWriteZeroes:
      if (r.type == nbd::kCmdWriteZeroes && (r.flags & nbd::kCmdFlagFastZero) != 0) {
        *why = "fast zero is not offered";
        return nbd::kEnotsup;
      }
      break;
    case nbd::kCmdFlush: return 0;
    case nbd::kCmdCache:
    case nbd::kCmdBlockStatus:
    case nbd::kCmdResize:
      *why = fmt::format("{} is not supported", nbd::CommandName(r.type));
      return nbd::kEnotsup;
    default: *why = fmt::format("unknown command {}", r.type); return nbd::kEinval;
  }
  if (r.length == 0) {
    *why = fmt::format("{} of 0 bytes", nbd::CommandName(r.type));
    return nbd::kEinval;
  }
  if (r.offset % block_size_ != 0 || r.length % block_size_ != 0) {
    *why = fmt::format("{} at {} of {} bytes is not aligned to the {}-byte block size",
                       nbd::CommandName(r.type), r.offset, r.length, block_size_);
    return nbd::kEinval;
  }
  const uint64_t size = device_->capacity_blocks() * block_size_;
  if (r.offset > size || r.length > size - r.offset) {
    *why = fmt::format("{} at {} of {} bytes ends past the end of {} ({} bytes)",
                       nbd::CommandName(r.type), r.offset, r.length, export_name_, size);
    return r.type == nbd::kCmdRead ? nbd::kEinval : nbd::kEnospc;
  }
  return 0;
}

void NbdSession::OnRequestHeader(const nbd::Request& r) {
  if (r.magic != nbd::kRequestMagic) {
    NVMP_LOG_WARN("nbd {}: bad request magic {}: closing", peer_, Hex(r.magic));
    return CloseConnection();
  }
  ++counters_.requests;
  if (r.type == nbd::kCmdDisc) {
    stopping_ = true;
    state_ = State::kClosed;  // nothing after DISC is read
    if (in_flight_ == 0) CloseConnection();
    return;
  }
  std::string why;
  uint32_t error = stopping_ ? static_cast<uint32_t>(nbd::kEshutdown) : Validate(r, &why);
  if (stopping_) why = "the host is stopping";
  if (error != 0) {
    ReplyError(r.cookie, error, why);
    if (r.type == nbd::kCmdWrite && r.length > 0) {
      skip_left_ = r.length;
      state_ = State::kSkipData;
    }
    return;
  }
  Request* req = NewRequest();
  req->hdr = r;
  if (r.type == nbd::kCmdRead || r.type == nbd::kCmdWrite) req->Reserve(r.length);
  if (r.type == nbd::kCmdWrite) {
    writing_ = req;
    write_filled_ = 0;
    state_ = State::kWriteData;
    return;
  }
  Execute(req);
}

void NbdSession::Execute(Request* req) {
  const nbd::Request& r = req->hdr;
  req->status = Status::Ok();
  if (r.type == nbd::kCmdFlush) {
    req->parts_left = 1;
    device_->FlushAsync([req](Status st) { req->session->PartDone(req, std::move(st)); });
    return;
  }
  const uint64_t first = r.offset / block_size_;
  const uint64_t blocks = r.length / block_size_;
  const bool data = r.type == nbd::kCmdRead || r.type == nbd::kCmdWrite;
  const uint64_t per = data ? std::max<uint32_t>(device_->max_io_blocks(), 1) : kZeroBlocksMax;
  // One count more than there are parts, dropped after the last submission: a part that
  // completes before the others are submitted cannot finish the request early.
  req->parts_left = static_cast<uint32_t>((blocks + per - 1) / per) + 1;
  for (uint64_t done = 0; done < blocks; done += per) {
    const auto n = static_cast<uint32_t>(std::min(per, blocks - done));
    std::span<uint8_t> buf;
    if (data) buf = req->buf().subspan(done * block_size_, n * block_size_);
    Submit(req, first + done, n, buf);
  }
  PartDone(req, Status::Ok());
}

void NbdSession::Submit(Request* req, uint64_t lba, uint32_t nblocks, std::span<uint8_t> data) {
  auto done = [req](Status st) { req->session->PartDone(req, std::move(st)); };
  switch (req->hdr.type) {
    case nbd::kCmdRead: return device_->ReadAsync(lba, nblocks, data, std::move(done));
    case nbd::kCmdWrite: return device_->WriteAsync(lba, nblocks, data, std::move(done));
    case nbd::kCmdTrim: return device_->DeallocateAsync(lba, nblocks, std::move(done));
    case nbd::kCmdWriteZeroes: return device_->WriteZeroesAsync(lba, nblocks, std::move(done));
    default: NVMP_ASSERT(false, "NBD: a command without device I/O was submitted");
  }
}

void NbdSession::PartDone(Request* req, Status st) {
  NVMP_ASSERT(req->parts_left > 0, "NBD: a request part completed twice");
  if (!st.ok() && req->status.ok()) req->status = std::move(st);
  if (--req->parts_left > 0) return;
  const bool fua = req->hdr.type == nbd::kCmdWrite && (req->hdr.flags & nbd::kCmdFlagFua) != 0;
  if (fua && req->status.ok()) {
    req->hdr.flags &= static_cast<uint16_t>(~nbd::kCmdFlagFua);
    req->parts_left = 1;
    device_->FlushAsync([req](Status s) { req->session->PartDone(req, std::move(s)); });
    return;
  }
  Reply(req);
}

void NbdSession::Reply(Request* req) {
  const nbd::Request& r = req->hdr;
  if (!req->status.ok()) {
    NVMP_LOG_WARN("nbd {}: {} {} at {} of {} bytes failed: {}", peer_, export_name_,
                  nbd::CommandName(r.type), r.offset, r.length, req->status.ToString());
    ReplyError(r.cookie, nbd::ErrorFromErrno(req->status.ToErrno()), req->status.message());
  } else if (r.type == nbd::kCmdRead) {
    counters_.bytes_read += r.length;
    if (structured_) {
      uint8_t hdr[nbd::kStructuredReplyBytes + 8];
      nbd::EncodeStructuredHeader(std::span<uint8_t, nbd::kStructuredReplyBytes>(hdr, nbd::kStructuredReplyBytes),
                                  nbd::kChunkFlagDone, nbd::kChunkOffsetData, r.cookie,
                                  r.length + 8);
      nbd::PutBe64(hdr, nbd::kStructuredReplyBytes, r.offset);
      Send(hdr);
    } else {
      uint8_t hdr[nbd::kSimpleReplyBytes];
      nbd::EncodeSimpleReply(hdr, 0, r.cookie);
      Send(hdr);
    }
    Send(req->buf());
  } else {
    if (r.type == nbd::kCmdWrite) counters_.bytes_written += r.length;
    if (structured_) {
      uint8_t hdr[nbd::kStructuredReplyBytes];
      nbd::EncodeStructuredHeader(hdr, nbd::kChunkFlagDone, nbd::kChunkNone, r.cookie, 0);
      Send(hdr);
    } else {
      uint8_t hdr[nbd::kSimpleReplyBytes];
      nbd::EncodeSimpleReply(hdr, 0, r.cookie);
      Send(hdr);
    }
  }
  FreeRequest(req);
  if (stopping_ && in_flight_ == 0) CloseConnection();
}

void NbdSession::ReplyError(uint64_t cookie, uint32_t error, const std::string& message) {
  ++counters_.errors;
  NVMP_LOG_DEBUG("nbd {}: error {} to cookie {}: {}", peer_, error, cookie, message);
  if (structured_) {
    Send(nbd::EncodeStructuredError(cookie, error, message));
    return;
  }
  uint8_t hdr[nbd::kSimpleReplyBytes];
  nbd::EncodeSimpleReply(hdr, error, cookie);
  Send(hdr);
}

NbdSession::Request* NbdSession::NewRequest() {
  Request* r = free_;
  if (r != nullptr) {
    free_ = r->next_free;
    r->next_free = nullptr;
  } else {
    all_.push_back(std::make_unique<Request>());
    r = all_.back().get();
    r->session = this;
  }
  ++in_flight_;
  return r;
}

void NbdSession::FreeRequest(Request* req) {
  NVMP_ASSERT(in_flight_ > 0);
  --in_flight_;
  if (req->capacity > kKeepBufferMax) {
    req->data.reset();
    req->capacity = 0;
  }
  req->size = 0;
  req->next_free = free_;
  free_ = req;
  if (in_flight_ == 0) MaybeFinish();
}

}  // namespace nvmpath::exports
