// POST /v1/metrics (OTLP/HTTP JSON): ParseOtlpMetrics. Invariants: a
// rejection carries a reason, nothing nested past kMaxJsonDepth is accepted,
// every resource has a valid service name, and its samples (one per series)
// are a valid exposition that survives the text writer.
#include <cstddef>
#include <cstdint>

#include "exposition_checks.h"
#include "hive/collector/otlp.h"
#include "hive/core/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = hive::collector::ParseOtlpMetrics(hive::fuzz::AsText(data, size));
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == hive::StatusCode::kInvalidArgument);
    return 0;
  }
  // Nothing nested past the documented limit reaches the walks and dump().
  FUZZ_CHECK(hive::CheckJsonDepth(hive::fuzz::AsText(data, size)).ok());
  FUZZ_CHECK((parsed->rejected == 0) == parsed->error_message.empty());
  for (const auto& resource : parsed->resources) {
    FUZZ_CHECK(hive::ValidateName(resource.service, "service").ok());
    hive::fuzz::CheckExposition(resource.exposition, /*allow_duplicates=*/true);
  }
  return 0;
}
