#include "hive/collector/log_event.h"

#include <array>
#include <charconv>
#include <cmath>

#include "event_fields.h"
#include "hive/core/clock.h"
#include "hive/core/text.h"

namespace hive::collector {

void AppendOptionalField(std::string& out, std::string_view key, const std::string& value) {
  if (value.empty()) return;
  out += ",\"";
  out += key;
  out += "\":";
  AppendJsonString(out, value);
}

bool EqualsLower(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

void AppendAttrsJson(std::string& out,
                     const std::vector<std::pair<std::string, AttrValue>>& attrs) {
  out += '{';
  for (size_t i = 0; i < attrs.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, attrs[i].first);
    out += ':';
    const AttrValue& value = attrs[i].second;
    if (const auto* s = std::get_if<std::string>(&value)) {
      AppendJsonString(out, *s);
    } else if (const auto* n = std::get_if<int64_t>(&value)) {
      out += std::to_string(*n);
    } else if (const auto* d = std::get_if<double>(&value)) {
      AppendJsonNumber(out, *d);
    } else {
      out += std::get<bool>(value) ? "true" : "false";
    }
  }
  out += '}';
}

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
  AppendOptionalField(out, "service", e.service);
  AppendOptionalField(out, "instance", e.instance);
  out += ",\"level\":\"";
  out += LogLevelName(e.level);
  out += "\",\"message\":";
  AppendJsonString(out, e.message);
  AppendOptionalField(out, "trace_id", e.trace_id);
  AppendOptionalField(out, "span_id", e.span_id);
  AppendOptionalField(out, "parent_span_id", e.parent_span_id);
  out += ",\"attrs\":";
  AppendAttrsJson(out, e.attrs);
  out += '}';
}

}  // namespace hive::collector
