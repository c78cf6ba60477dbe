// Errors as values. A Status is either OK or a code with a message; a Result<T> holds either a T or
// a non-OK Status. Exceptions from third-party libraries are caught at the parsing boundary and
// turned into these, so nothing above the parsers throws.
//
// Thread-safety: both types are plain values; distinct objects may be used from distinct threads,
// and const methods may be called concurrently.
#ifndef NINES_BASE_STATUS_H_
#define NINES_BASE_STATUS_H_

#include <string>
#include <utility>
#include <variant>

namespace nines {

// The kinds of failure that callers act on differently. IO edges (Kubernetes, Prometheus) map their
// protocol errors onto these; the reconciler maps these onto requeue, backoff or a condition.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the input is wrong; retrying the same input gives the same answer
  kNotFound,
  kAlreadyExists,
  kConflict,     // optimistic concurrency lost (HTTP 409): re-read and retry
  kGone,         // a watch's resourceVersion expired (HTTP 410): relist
  kForbidden,    // not allowed (HTTP 401/403)
  kUnavailable,  // transient: timeouts, 5xx, connection refused; retry with backoff
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}
inline Status NotFoundError(std::string message) {
  return Status(StatusCode::kNotFound, std::move(message));
}
inline Status InternalError(std::string message) {
  return Status(StatusCode::kInternal, std::move(message));
}
inline Status UnavailableError(std::string message) {
  return Status(StatusCode::kUnavailable, std::move(message));
}

// Either a value or the Status that explains why there is none. Constructing a Result from an OK
// Status is a programming error and yields an Internal status instead.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status)                          // NOLINT(google-explicit-constructor)
      : state_(status.ok() ? InternalError("Result built from an OK status") : std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(state_);
  }
  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace nines

#endif  // NINES_BASE_STATUS_H_
