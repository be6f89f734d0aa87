// POST /api/v1/ingest/metrics and the agent's scrapes: ParsePrometheusText.
// Invariants: an error names its line, and an accepted exposition written
// back with the collector's writer parses to the same samples and families.
#include <cstddef>
#include <cstdint>

#include "exposition_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = hive::collector::ParsePrometheusText(hive::fuzz::AsText(data, size));
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().message().starts_with("line "));
    return 0;
  }
  hive::fuzz::CheckExposition(*parsed);
  return 0;
}
