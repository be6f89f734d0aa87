// The NDJSON log-line parser of POST /api/v1/ingest/logs.
//
// Each non-blank line must be one JSON object (field rules in docs/API.md and
// on ParseNdjsonLogs below). A bad line is rejected on its own with a message
// naming its 1-based line number; the other lines are still accepted.
// Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hive/collector/log_event.h"
#include "hive/core/clock.h"

namespace hive {
class JsonWriter;
}

namespace hive::collector {

inline constexpr size_t kMaxLineBytes = 256u << 10;
inline constexpr size_t kMaxReportedLineErrors = 100;
// Longest trace_id / span_id / parent_span_id, and longest X-Hive-Batch-Id.
inline constexpr size_t kMaxIdBytes = 128;

struct LineError {
  size_t line = 0;  // 1-based, counting blank lines too
  std::string message;
};

// Writes the member "errors": [{"line": N, "message": "..."}, ...] into the
// object `w` is writing, as the ingest answers carry it.
void LineErrorsField(JsonWriter& w, const std::vector<LineError>& errors);

struct ParsedLogs {
  std::vector<LogEvent> events;   // the valid lines, in order
  size_t rejected = 0;            // every rejected line
  std::vector<LineError> errors;  // the first kMaxReportedLineErrors of them
};

// Parses an NDJSON body. Per line:
//  - ts: RFC 3339 string or integer ns since the epoch (>= 0); missing: `now`
//  - service, instance: optional names (hive::ValidateName)
//  - level: trace|debug|info|warn|error|fatal, case-insensitive, aliases
//    warning/err; missing: info
//  - message: string, missing: ""
//  - trace_id, span_id, parent_span_id: optional strings <= kMaxIdBytes,
//    lower-cased when they are hex (dashes allowed, as in UUIDs); "" is absent
//  - attrs: optional flat object of string/number/bool values (null skipped)
//  - any other top-level string/number/bool field is added to attrs unless
//    attrs already has that key; other null/object/array fields are ignored.
// Lines over kMaxLineBytes, non-objects and wrong types are rejected.
// A trailing "\r" is ignored; blank lines are skipped.
ParsedLogs ParseNdjsonLogs(std::string_view body, TimePoint now);

// Lower-cases `id` when it is made of hex digits and dashes only; other ids
// are returned unchanged (correlation IDs may be arbitrary strings).
std::string NormalizeTraceId(std::string_view id);

}  // namespace hive::collector
