// POST /v1/logs (OTLP/HTTP JSON): ParseOtlpLogs. Invariants: a rejection
// carries a reason, nothing nested past kMaxJsonDepth is accepted, and each
// event round-trips through the NDJSON log format like any ingested event.
#include <cstddef>
#include <cstdint>

#include "collector_checks.h"
#include "hive/collector/otlp.h"
#include "hive/core/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed =
      hive::collector::ParseOtlpLogs(hive::fuzz::AsText(data, size), hive::fuzz::kFuzzNow);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == hive::StatusCode::kInvalidArgument);
    return 0;
  }
  // Nothing nested past the documented limit reaches the walks and dump().
  FUZZ_CHECK(hive::CheckJsonDepth(hive::fuzz::AsText(data, size)).ok());
  FUZZ_CHECK((parsed->rejected == 0) == parsed->error_message.empty());
  for (const auto& event : parsed->events) hive::fuzz::CheckEvent(event);
  return 0;
}
