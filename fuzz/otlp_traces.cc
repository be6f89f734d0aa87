// POST /v1/traces (OTLP/HTTP JSON): ParseOtlpTraces. Invariants: ids are the
// hex the encoding requires, a rejection carries a reason, nothing nested
// past kMaxJsonDepth is accepted, and each span round-trips through the
// NDJSON span format like any ingested span.
#include <cstddef>
#include <cstdint>

#include "collector_checks.h"
#include "hive/collector/otlp.h"
#include "hive/core/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = hive::collector::ParseOtlpTraces(hive::fuzz::AsText(data, size));
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == hive::StatusCode::kInvalidArgument);
    return 0;
  }
  // Nothing nested past the documented limit reaches the walks and dump().
  FUZZ_CHECK(hive::CheckJsonDepth(hive::fuzz::AsText(data, size)).ok());
  FUZZ_CHECK((parsed->rejected == 0) == parsed->error_message.empty());
  for (const auto& span : parsed->spans) {
    FUZZ_CHECK(span.trace_id.size() == 32 && span.span_id.size() == 16);
    FUZZ_CHECK(span.trace_id == hive::collector::NormalizeTraceId(span.trace_id));
    hive::fuzz::CheckSpan(span);
  }
  hive::collector::OtlpResponseJson("rejectedSpans", parsed->rejected, parsed->error_message);
  return 0;
}
