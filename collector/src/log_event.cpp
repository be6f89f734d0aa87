#include "hive/collector/log_event.h"

#include <array>
#include <charconv>
#include <cmath>

#include "hive/core/clock.h"
#include "hive/core/text.h"

namespace hive::collector {
namespace {

bool EqualsLower(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kFatal:
      return "fatal";
  }
  return "info";
}

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug},  {"info", LogLevel::kInfo},
      {"warn", LogLevel::kWarn},   {"warning", LogLevel::kWarn}, {"error", LogLevel::kError},
      {"err", LogLevel::kError},   {"fatal", LogLevel::kFatal},
  };
  for (const auto& [name, level] : kNames) {
    if (EqualsLower(text, name)) return level;
  }
  return std::nullopt;
}

void AppendEventJson(std::string& out, const LogEvent& e) {
  out += "{\"ts\":";
  AppendJsonString(out, FormatRfc3339(FromUnixNanos(e.ts_ns)));
  auto optional_field = [&out](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    out += ",\"";
    out += key;
    out += "\":";
    AppendJsonString(out, value);
  };
  optional_field("service", e.service);
  optional_field("instance", e.instance);
  out += ",\"level\":\"";
  out += LogLevelName(e.level);
  out += "\",\"message\":";
  AppendJsonString(out, e.message);
  optional_field("trace_id", e.trace_id);
  optional_field("span_id", e.span_id);
  optional_field("parent_span_id", e.parent_span_id);
  out += ",\"attrs\":{";
  bool first = true;
  for (const auto& [key, value] : e.attrs) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, key);
    out += ':';
    if (const auto* s = std::get_if<std::string>(&value)) {
      AppendJsonString(out, *s);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      out += std::to_string(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      AppendJsonNumber(out, *d);
    } else {
      out += std::get<bool>(value) ? "true" : "false";
    }
  }
  out += "}}";
}

}  // namespace hive::collector
