// Status and Result<T>: the one error type that crosses component boundaries.
//
// A Status is either OK or carries a code chosen by what the caller should do
// next (retry, fix the input, re-read and retry a compare-and-set, ...) and a
// human-readable message. Result<T> holds either a value or a non-OK Status.
// Both are plain values: copyable, movable, and safe to hand between threads.
// Library exceptions are converted to a Status where they are thrown; no
// exception crosses a component API.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hive {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the input itself is wrong; do not retry unchanged
  kUnauthenticated,     // no or unknown credentials
  kPermissionDenied,    // credentials are known but lack the role
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // create of something that exists
  kAborted,             // compare-and-set lost: re-read and retry
  kFailedPrecondition,  // the system is not in the state the call needs
  kTooLarge,            // a body or record over its size limit
  kResourceExhausted,   // over a rate or capacity limit: retry later
  kUnavailable,         // transient: retry with backoff
  kInternal,            // a bug or a broken invariant
};

// Stable snake_case name of a code, as used in JSON error bodies.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsAborted() const { return code_ == StatusCode::kAborted; }
  bool IsUnavailable() const { return code_ == StatusCode::kUnavailable; }

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

  // "ok", or "<code>: <message>".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Holds a T or a non-OK Status. REQUIRES: constructed from a non-OK Status
// when it carries no value; value() REQUIRES ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hive

// Returns early from the enclosing function when `expr` is a non-OK Status.
#define HIVE_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::hive::Status hive_status_ = (expr);        \
    if (!hive_status_.ok()) return hive_status_; \
  } while (0)
