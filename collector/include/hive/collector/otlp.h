// The OTLP/HTTP JSON receiver's encoding (opentelemetry-proto, JSON mapping
// as the OTLP specification requires): ExportTraceServiceRequest and
// ExportLogsServiceRequest bodies to hive spans and log events, and the
// response bodies.
//
// Encoding rules followed: lowerCamelCase keys; traceId/spanId as hex
// strings (32 / 16 digits, not all zero); enums (SpanKind, StatusCode,
// SeverityNumber) as integers (their names are accepted too); 64-bit integers
// (timeUnixNano, intValue) as decimal strings (numbers accepted too);
// attributes as [{key, value: AnyValue}], service.name from the resource.
//
// Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hive/collector/log_event.h"
#include "hive/collector/prometheus_text.h"
#include "hive/collector/span.h"
#include "hive/core/clock.h"
#include "hive/core/status.h"

namespace hive::collector {

struct OtlpSpans {
  std::vector<Span> spans;
  size_t rejected = 0;
  std::string error_message;  // why the first rejected span was rejected
};

struct OtlpLogs {
  std::vector<LogEvent> events;
  size_t rejected = 0;
  std::string error_message;
};

// InvalidArgument when the body is not a JSON ExportTraceServiceRequest (a
// permanent error: the whole request is refused). A bad span on its own is
// counted in `rejected`.
Result<OtlpSpans> ParseOtlpTraces(std::string_view body);

// As ParseOtlpTraces for ExportLogsServiceRequest. Records without a time get
// their observed time, else `now`.
Result<OtlpLogs> ParseOtlpLogs(std::string_view body, TimePoint now);

// The metrics of one resource, as Prometheus samples (PRODUCT.md "Metric
// sample"): names with other characters than [a-zA-Z0-9_:] as '_', monotonic
// cumulative sums as counters named *_total, histograms as _bucket (le,
// cumulative, with +Inf) / _sum / _count, summaries as quantile / _sum /
// _count, attributes as labels.
struct OtlpResourceMetrics {
  std::string service;
  std::string instance;
  ParsedExposition exposition;
};

struct OtlpMetrics {
  std::vector<OtlpResourceMetrics> resources;
  size_t rejected = 0;  // data points (delta sums and histograms, bad values)
  std::string error_message;
};

// As ParseOtlpTraces for ExportMetricsServiceRequest.
Result<OtlpMetrics> ParseOtlpMetrics(std::string_view body);

// The Export*ServiceResponse: "{}" when nothing was rejected, else
// {"partialSuccess":{"<rejected_field>":"N","errorMessage":"..."}}
// (int64 as a string, as the protobuf JSON mapping writes it).
std::string OtlpResponseJson(std::string_view rejected_field, size_t rejected,
                             std::string_view error_message);

// A google.rpc.Status body for 4xx/5xx answers: {"code":N,"message":"..."}.
std::string OtlpStatusJson(int grpc_code, std::string_view message);

// A service.name made to fit hive's name rule (lower case, other characters
// as '-', at most 63); "unknown_service" when nothing is left.
std::string SanitizeServiceName(std::string_view name);

}  // namespace hive::collector
