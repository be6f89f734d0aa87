// JsonLog writes a demo service's log: one JSON object per line, appended to a
// file opened with O_APPEND (or to stdout), each line with a single write(2)
// so that a tailing agent never sees a torn line. Thread-safe.
//
// Line layout, fields in this order:
//   {"ts":"2026-11-22T10:00:00.123456Z","level":"info","message":"...",
//    "trace_id":"…","span_id":"…","parent_span_id":"…", <fields…>}
// trace_id/span_id/parent_span_id are left out when empty.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hive::demo {

enum class LogLevel { kInfo, kWarn, kError };

std::string_view LogLevelName(LogLevel level);

// A top-level attribute of a log line, e.g. {"http.status_code", 200}.
struct LogField {
  LogField(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  LogField(std::string k, const char* v) : key(std::move(k)), value(std::string(v)) {}
  LogField(std::string k, int v) : key(std::move(k)), value(int64_t{v}) {}
  LogField(std::string k, int64_t v) : key(std::move(k)), value(v) {}
  LogField(std::string k, double v) : key(std::move(k)), value(v) {}
  LogField(std::string k, bool v) : key(std::move(k)), value(v) {}

  std::string key;
  std::variant<std::string, int64_t, double, bool> value;
};

// The correlation ids of a line; empty strings are omitted.
struct TraceIds {
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;
};

using LogTime = std::chrono::system_clock::time_point;

// RFC 3339 in UTC with microseconds: 2026-11-22T10:00:00.123456Z.
std::string FormatTimestamp(LogTime time);

// One log line including the trailing '\n'. Invalid UTF-8 in strings is
// replaced, never an error.
std::string FormatLogLine(LogTime time, LogLevel level, std::string_view message,
                          const TraceIds& ids, const std::vector<LogField>& fields);

class JsonLog {
 public:
  // Opens (creating, mode 0644) `path` for appending; an empty path logs to
  // stdout. Returns nullptr and sets *error when the file cannot be opened.
  static std::unique_ptr<JsonLog> Open(const std::string& path, std::string* error);

  ~JsonLog();
  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;

  // Appends one line stamped `time` (default: now). Write errors are dropped:
  // a demo service keeps serving when its disk is full.
  void Write(LogLevel level, std::string_view message, const TraceIds& ids,
             const std::vector<LogField>& fields = {});
  void WriteAt(LogTime time, LogLevel level, std::string_view message, const TraceIds& ids,
               const std::vector<LogField>& fields);

 private:
  JsonLog(int fd, bool owned) : fd_(fd), owned_(owned) {}

  const int fd_;
  const bool owned_;
  std::mutex mu_;  // one writer at a time keeps lines whole on pipes too
};

}  // namespace hive::demo
