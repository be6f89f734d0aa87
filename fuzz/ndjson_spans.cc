// POST /api/v1/ingest/spans: ParseNdjsonSpans. Invariants: every non-blank
// line is either a span or a rejection, errors name ascending lines, and each
// span renders (AppendSpanLine) to a line that parses back to it.
#include <cstddef>
#include <cstdint>

#include "collector_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = hive::fuzz::AsText(data, size);
  const hive::collector::ParsedSpans parsed =
      hive::collector::ParseNdjsonSpans(body, hive::fuzz::kFuzzNow);
  FUZZ_CHECK(parsed.spans.size() + parsed.rejected == hive::fuzz::CountLines(body, " \t\r\n"));
  hive::fuzz::CheckLineErrors(parsed.errors, parsed.rejected);
  for (const auto& span : parsed.spans) hive::fuzz::CheckSpan(span);
  return 0;
}
