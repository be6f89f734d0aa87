// Invariants shared by the collector's fuzz targets: what the parsers
// produce is what the collector stores and serves, so every event and span
// must render to JSON and read back through the NDJSON parsers unchanged.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "hive/collector/log_event.h"
#include "hive/collector/ndjson.h"
#include "hive/collector/span.h"
#include "hive/core/clock.h"
#include "hive/core/text.h"

namespace hive::fuzz {

inline const TimePoint kFuzzNow = FromUnixNanos(1'700'000'000'000'000'000);

// Non-blank lines of an NDJSON body, blank meaning only `blank` characters.
inline size_t CountLines(std::string_view body, std::string_view blank) {
  size_t lines = 0;
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    const std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    if (line.find_first_not_of(blank) != std::string_view::npos) ++lines;
  }
  return lines;
}

template <typename Errors>
void CheckLineErrors(const Errors& errors, size_t rejected) {
  FUZZ_CHECK(errors.size() == std::min(rejected, collector::kMaxReportedLineErrors));
  size_t previous = 0;
  for (const auto& error : errors) {
    FUZZ_CHECK(error.line > previous);
    FUZZ_CHECK(!error.message.empty());
    previous = error.line;
  }
}

inline void CheckAttrKeysUnique(
    const std::vector<std::pair<std::string, collector::AttrValue>>& attrs) {
  for (size_t i = 0; i < attrs.size(); ++i) {
    for (size_t j = i + 1; j < attrs.size(); ++j) FUZZ_CHECK(attrs[i].first != attrs[j].first);
  }
}

inline void CheckSpan(const collector::Span& span) {
  FUZZ_CHECK(!span.trace_id.empty() && span.trace_id.size() <= collector::kMaxIdBytes);
  FUZZ_CHECK(!span.span_id.empty() && span.span_id.size() <= collector::kMaxIdBytes);
  FUZZ_CHECK(span.parent_span_id.size() <= collector::kMaxIdBytes);
  FUZZ_CHECK(ValidateName(span.service, "service").ok());
  FUZZ_CHECK(span.duration_ms >= 0);
  CheckAttrKeysUnique(span.attrs);
  std::string line;
  collector::AppendSpanLine(line, span);
  const collector::ParsedSpans again = collector::ParseNdjsonSpans(line, kFuzzNow);
  FUZZ_CHECK(again.rejected == 0 && again.spans.size() == 1);
  FUZZ_CHECK(again.spans[0] == span);
}

inline void CheckEvent(const collector::LogEvent& event) {
  if (!event.service.empty()) FUZZ_CHECK(ValidateName(event.service, "service").ok());
  if (!event.instance.empty()) FUZZ_CHECK(ValidateName(event.instance, "instance").ok());
  FUZZ_CHECK(event.trace_id.size() <= collector::kMaxIdBytes);
  FUZZ_CHECK(event.span_id.size() <= collector::kMaxIdBytes);
  FUZZ_CHECK(event.parent_span_id.size() <= collector::kMaxIdBytes);
  CheckAttrKeysUnique(event.attrs);
  std::string json;
  collector::AppendEventJson(json, event);
  const collector::ParsedLogs again = collector::ParseNdjsonLogs(json, kFuzzNow);
  FUZZ_CHECK(again.rejected == 0 && again.events.size() == 1);
  FUZZ_CHECK(again.events[0] == event);
  if (auto span = collector::SpanFromLogEvent(event)) CheckSpan(*span);
}

}  // namespace hive::fuzz
