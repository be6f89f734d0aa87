// LogLineMapper turns one line of a service's log file into one collector
// event (an NDJSON line as POST /api/v1/ingest/logs takes it).
//
// A JSON object line is mapped field by field:
//   ts | time | timestamp | @timestamp           -> ts (RFC 3339, or epoch s/ms/us/ns numbers)
//   level | severity | lvl                        -> level (normalised: warning -> warn, 50 ->
//   error, ...) message | msg                                 -> message traceparent (W3C
//   00-<32hex>-<16hex>-<2hex>)   -> trace_id and span_id (preferred) trace_id | traceId | trace.id
//   | correlation_id | correlationId | x-correlation-id
//     | request_id                                -> trace_id (first present, in that order)
//   span_id | spanId                              -> span_id
//   parent_span_id | parentSpanId                 -> parent_span_id
//   attrs {...}                                   -> merged into attrs
//   anything else                                 -> attrs (nested objects flattened with dots,
//                                                    arrays as JSON text, nulls dropped)
// service and instance always come from the agent. Values of aliases that were
// not chosen, and values that could not be used (a ts in an unknown format, an
// unknown level), are kept in attrs so nothing is lost. A line that is not a
// JSON object is shipped as message=<line>, level info. Lines without a usable
// ts get `read_time`. No line, however deep or malformed, can crash the walk.
//
// Extra attributes the agent adds (e.g. "truncated": true, "stream":
// "stderr") are set first, so a field of the line with the same name wins.
//
// Not thread-safe (it reuses a parser buffer): one mapper per thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "hive/core/clock.h"

namespace hive::agent {

// One attribute added by the agent: its key and its value as JSON text.
struct ExtraAttr {
  std::string_view key;
  std::string_view json;
};

class LogLineMapper {
 public:
  LogLineMapper(std::string service, std::string instance);
  ~LogLineMapper();
  LogLineMapper(const LogLineMapper&) = delete;
  LogLineMapper& operator=(const LogLineMapper&) = delete;

  // Appends the event for `line` (without its newline) to `out`, followed by
  // '\n'. A line that starts like a JSON object but cannot be read as one —
  // nested deeper than kMaxJsonDepth (core/text.h), or not UTF-8 — is shipped
  // as its raw text with attrs.parse_error saying why (unless `extra` sets
  // parse_error itself); the reason is returned, empty for any other line.
  std::string_view AppendEvent(std::string_view line, TimePoint read_time, std::string& out,
                               std::span<const ExtraAttr> extra = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hive::agent
