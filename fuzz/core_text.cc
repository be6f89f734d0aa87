// The core text parsers users reach through flags, YAML and the API:
// ParseDuration, ParseByteSize and ParseRfc3339. Invariants: what parses
// formats back to text that parses to the same value, and JSON string
// escaping always yields valid JSON that decodes to the input; the JSON depth
// check refuses exactly the valid documents nested past its limit.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

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

// The depth check agrees with the parser's view of any valid document: it
// refuses exactly those nested deeper than the limit.
void CheckJsonDepthAgrees(std::string_view text) {
  constexpr size_t kLimit = 8;
  const bool within = hive::CheckJsonDepth(text, kLimit).ok();
  if (!hive::CheckJsonDepth(text, 512).ok()) return;  // keeps the parser's own stack small
  // The parser ends a document at a NUL byte; the check reads on (stricter).
  if (text.find('\0') != std::string_view::npos) return;
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return;
  size_t deepest = 0;
  std::vector<std::pair<const nlohmann::json*, size_t>> stack{{&parsed, 0}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (!node->is_structured()) continue;
    deepest = std::max(deepest, depth + 1);
    for (const auto& child : *node) stack.emplace_back(&child, depth + 1);
  }
  FUZZ_CHECK(within == (deepest <= kLimit));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hive::fuzz::AsText(data, size);
  CheckDuration(text);
  CheckByteSize(text);
  CheckRfc3339(text);
  CheckJsonString(text);
  CheckJsonDepthAgrees(text);
  return 0;
}
