// POST /api/v1/ingest/logs: ParseNdjsonLogs. Invariants: every non-blank line
// is either an event or a rejection, errors name ascending lines, and each
// event renders (AppendEventJson) to a line that parses back to it.
#include <cstddef>
#include <cstdint>

#include "collector_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = hive::fuzz::AsText(data, size);
  const hive::collector::ParsedLogs parsed =
      hive::collector::ParseNdjsonLogs(body, hive::fuzz::kFuzzNow);
  FUZZ_CHECK(parsed.events.size() + parsed.rejected == hive::fuzz::CountLines(body, " \t\r"));
  hive::fuzz::CheckLineErrors(parsed.errors, parsed.rejected);
  for (const auto& event : parsed.events) hive::fuzz::CheckEvent(event);
  return 0;
}
