// Span: one timed operation of a trace, as the collector stores and returns it
// (PRODUCT.md "Data model"), plus its NDJSON parser and its derivation from log
// lines that carry span fields (the demo services' span lines).
//
// Plain value types; all functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hive/collector/log_event.h"
#include "hive/collector/ndjson.h"
#include "hive/core/clock.h"

namespace hive::collector {

enum class SpanKind : uint8_t { kInternal = 0, kServer, kClient, kProducer, kConsumer };

// "internal", "server", "client", "producer", "consumer".
std::string_view SpanKindName(SpanKind kind);
// Case-insensitive; nullopt for anything else.
std::optional<SpanKind> ParseSpanKind(std::string_view text);

struct Span {
  std::string trace_id;  // normalized as NormalizeTraceId does
  std::string span_id;
  std::string parent_span_id;  // "" for a root span
  std::string service;
  std::string instance;
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  int64_t start_ns = 0;  // nanoseconds since the Unix epoch
  double duration_ms = 0;
  bool error = false;                                    // status "error"
  std::vector<std::pair<std::string, AttrValue>> attrs;  // keys unique

  // The attribute's value as a string ("" when absent or not a string).
  std::string_view StringAttr(std::string_view key) const;
  // The attribute's value as an integer (nullopt when absent or not a number).
  std::optional<int64_t> IntAttr(std::string_view key) const;
  // status error, or an http.status_code of 500 or more: what the graph
  // counts as a failed call (Kiali counts 5xx).
  bool Failed() const;

  friend bool operator==(const Span&, const Span&) = default;
};

// Appends the span as the API returns it: trace_id, span_id, parent_span_id
// (when set), service, instance, name, kind, start (RFC 3339), duration_ms,
// status ("ok" | "error"), attrs.
void AppendSpanJson(std::string& out, const Span& span);

// Appends the span as one NDJSON line (no newline) that ParseNdjsonSpans reads
// back to an equal Span: like AppendSpanJson but with start as integer ns.
void AppendSpanLine(std::string& out, const Span& span);

struct ParsedSpans {
  std::vector<Span> spans;        // the valid lines, in order
  size_t rejected = 0;            // every rejected line
  std::vector<LineError> errors;  // the first kMaxReportedLineErrors of them
};

// Parses POST /api/v1/ingest/spans. Per line: trace_id and span_id (required,
// <= kMaxIdBytes), parent_span_id, service (required name), instance (name),
// name (string), kind (server|client|internal|producer|consumer, default
// internal), start (RFC 3339 or integer ns; default `now`), duration_ms
// (number >= 0, default 0), status (ok|error|unset, default ok), attrs (flat
// object of strings, numbers, booleans). A bad line is rejected on its own.
ParsedSpans ParseNdjsonSpans(std::string_view body, TimePoint now);

// The span a log line describes, when it carries span fields: a service,
// trace_id, span_id, attrs "kind" (a span kind) and a numeric attrs
// "duration_ms". attrs "name" (default: the message) and "status" are used
// too; the other attrs are kept. nullopt for ordinary log lines.
std::optional<Span> SpanFromLogEvent(const LogEvent& event);

}  // namespace hive::collector
