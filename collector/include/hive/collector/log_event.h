// LogEvent: one ingested log line (or span-carrying log line) as the collector
// stores and returns it, plus the level vocabulary and its JSON rendering.
//
// Plain value types; all functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hive::collector {

// Ordered by severity so that "level >= warn" is a comparison.
enum class LogLevel : uint8_t { kTrace = 0, kDebug, kInfo, kWarn, kError, kFatal };

// "trace", "debug", "info", "warn", "error", "fatal".
std::string_view LogLevelName(LogLevel level);

// Case-insensitive; also accepts the aliases "warning" (warn) and "err"
// (error). nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view text);

// A flat attribute value: string, integer, floating-point number or boolean.
using AttrValue = std::variant<std::string, int64_t, double, bool>;

struct LogEvent {
  int64_t ts_ns = 0;  // nanoseconds since the Unix epoch
  LogLevel level = LogLevel::kInfo;
  std::string service;  // "" when absent
  std::string instance;
  std::string message;
  std::string trace_id;  // "" when absent; lower-cased when hex
  std::string span_id;
  std::string parent_span_id;
  std::vector<std::pair<std::string, AttrValue>> attrs;  // in ingest order, keys unique

  friend bool operator==(const LogEvent&, const LogEvent&) = default;
};

// Appends the event as the API returns it (docs/API.md): ts as RFC 3339,
// level, message and attrs always; service, instance and the ids when set.
void AppendEventJson(std::string& out, const LogEvent& event);

}  // namespace hive::collector
