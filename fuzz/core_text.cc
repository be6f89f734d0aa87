// The core text parsers users reach through flags, YAML and the API:
// ParseDuration, ParseByteSize and ParseRfc3339. Invariants: what parses
// formats back to text that parses to the same value, and JSON string
// escaping always yields valid JSON that decodes to the input.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.h"
#include "hive/core/text.h"

namespace {

// Whether `s` is valid UTF-8 (JSON escaping replaces the invalid bytes);
// the JSON library refuses to serialise anything else.
bool IsUtf8(std::string_view s) {
  try {
    (void)nlohmann::json(std::string(s)).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

void CheckDuration(std::string_view text) {
  auto d = hive::ParseDuration(text);
  if (!d.ok()) {
    FUZZ_CHECK(!d.status().message().empty());
    return;
  }
  FUZZ_CHECK(d->count() >= 0);
  const std::string formatted = hive::FormatDuration(*d);
  auto again = hive::ParseDuration(formatted);
  FUZZ_CHECK(again.ok());
  // Beyond 2^53 ns (about 104 days) a term's nanoseconds are not exact in a
  // double; below, every formatted duration reads back exactly.
  if (d->count() < (int64_t{1} << 53)) FUZZ_CHECK(*again == *d);
}

void CheckByteSize(std::string_view text) {
  auto n = hive::ParseByteSize(text);
  if (!n.ok()) return;
  auto again = hive::ParseByteSize(std::to_string(*n));
  FUZZ_CHECK(again.ok() && *again == *n);
}

void CheckRfc3339(std::string_view text) {
  auto t = hive::ParseRfc3339(text);
  if (!t.ok()) return;
  const std::string formatted = hive::FormatRfc3339(*t);
  auto again = hive::ParseRfc3339(formatted);
  FUZZ_CHECK(again.ok() && *again == *t);
  FUZZ_CHECK(hive::FormatRfc3339(*again) == formatted);
}

void CheckJsonString(std::string_view text) {
  std::string out;
  hive::AppendJsonString(out, text);
  auto parsed = nlohmann::json::parse(out, nullptr, false);
  FUZZ_CHECK(parsed.is_string());
  if (IsUtf8(text)) FUZZ_CHECK(parsed.get<std::string>() == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hive::fuzz::AsText(data, size);
  CheckDuration(text);
  CheckByteSize(text);
  CheckRfc3339(text);
  CheckJsonString(text);
  return 0;
}
