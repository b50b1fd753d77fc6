#include "nvmpath/status.h"

#include <cerrno>
#include <cstring>

namespace nvmpath {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kOutOfRange: return "out of range";
    case Code::kUnavailable: return "unavailable";
    case Code::kNoPath: return "no path";
    case Code::kTimedOut: return "timed out";
    case Code::kIoError: return "I/O error";
    case Code::kProtocol: return "protocol error";
    case Code::kDataLoss: return "data loss";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kUnsupported: return "unsupported";
    case Code::kCancelled: return "cancelled";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(CodeName(code_));
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

int Status::ToErrno() const {
  switch (code_) {
    case Code::kOk: return 0;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kNotFound: return ENOENT;
    case Code::kAlreadyExists: return EEXIST;
    case Code::kOutOfRange: return ENOSPC;
    case Code::kUnavailable: return EAGAIN;
    case Code::kNoPath: return EIO;
    case Code::kTimedOut: return ETIMEDOUT;
    case Code::kIoError: return EIO;
    case Code::kProtocol: return EPROTO;
    case Code::kDataLoss: return EIO;
    case Code::kPermissionDenied: return EACCES;
    case Code::kUnsupported: return EOPNOTSUPP;
    case Code::kCancelled: return ECANCELED;
    case Code::kInternal: return EIO;
  }
  return EIO;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

Status ErrnoStatus(std::string_view what, int err) {
  Code code = Code::kIoError;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EEXIST:
    case EADDRINUSE: code = Code::kAlreadyExists; break;
    case EINVAL: code = Code::kInvalidArgument; break;
    case EACCES:
    case EPERM: code = Code::kPermissionDenied; break;
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EAGAIN: code = Code::kUnavailable; break;
    case ETIMEDOUT: code = Code::kTimedOut; break;
    case ECANCELED: code = Code::kCancelled; break;
    case EOPNOTSUPP: code = Code::kUnsupported; break;
    default: break;
  }
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  return Status(code, std::move(m));
}

}  // namespace nvmpath
