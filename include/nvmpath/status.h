// Status and Result<T>: how every fallible function in nvmpath reports failure.
//
// A Status is a code that says what the caller can do about the failure, and a message that says
// what went wrong in words a user can act on. It is cheap when OK (no allocation). No exceptions
// cross a layer boundary; errors are values.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <optional>

namespace nvmpath {

enum class Code : unsigned char {
  kOk = 0,
  kInvalidArgument,   // the caller's input is wrong; retrying the same call will fail again
  kNotFound,          // a named thing (subsystem, namespace, path, file) does not exist
  kAlreadyExists,
  kOutOfRange,        // an LBA range beyond the device's capacity
  kUnavailable,       // transient: retry later or elsewhere (a path, a connection)
  kNoPath,            // no path can serve the I/O now and none is expected back in time
  kTimedOut,
  kIoError,           // the device reported an error for this I/O
  kProtocol,          // the peer broke the protocol (malformed PDU, bad field)
  kDataLoss,          // data was lost or corrupted (verify mismatch)
  kPermissionDenied,
  kUnsupported,
  kCancelled,
  kInternal,          // a bug in nvmpath
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "code: message", or "ok".
  std::string ToString() const;

  // The errno an application sees for this status (Linux block-layer mapping where one exists).
  int ToErrno() const;

  // Adds context in front of the message: "context: message".
  Status WithContext(std::string_view context) const;

  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status ProtocolError(std::string m) { return Status(Code::kProtocol, std::move(m)); }
inline Status IoError(std::string m) { return Status(Code::kIoError, std::move(m)); }

// Status from an errno value of a failed OS call: "what: strerror(err)".
Status ErrnoStatus(std::string_view what, int err);

// A value or the Status that explains why there is none. (An optional beside a Status rather than
// a std::variant: GCC 12 reports false "maybe uninitialized" errors through variant<T, Status>.)
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status(Code::kInternal, "Result built from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace nvmpath

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define NVMP_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::nvmpath::Status nvmp_status_ = (expr);    \
    if (!nvmp_status_.ok()) return nvmp_status_; \
  } while (0)
