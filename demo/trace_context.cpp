#include "trace_context.h"

#include <cstdint>
#include <random>

namespace hive::demo {
namespace {

std::mt19937_64& Generator() {
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return generator;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsAllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

void AppendHex(uint64_t value, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kDigits[(value >> shift) & 0xf]);
}

uint64_t NonZeroRandom() {
  uint64_t value = 0;
  while (value == 0) value = Generator()();
  return value;
}

}  // namespace

std::optional<TraceParent> ParseTraceparent(std::string_view header) {
  // Optional whitespace around a header value is allowed by HTTP.
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) {
    header.remove_prefix(1);
  }
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) {
    header.remove_suffix(1);
  }
  constexpr size_t kLength = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (header.size() < kLength) return std::nullopt;
  std::string_view version = header.substr(0, 2);
  std::string_view trace_id = header.substr(3, 32);
  std::string_view parent_id = header.substr(36, 16);
  std::string_view flags = header.substr(53, 2);
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  // Version 00 has exactly four fields; later versions may append "-...".
  if (header.size() > kLength && (version == "00" || header[kLength] != '-')) return std::nullopt;
  if (!IsLowerHex(trace_id) || IsAllZero(trace_id)) return std::nullopt;
  if (!IsLowerHex(parent_id) || IsAllZero(parent_id)) return std::nullopt;
  if (!IsLowerHex(flags)) return std::nullopt;
  return TraceParent{std::string(trace_id), std::string(parent_id)};
}

std::string FormatTraceparent(std::string_view trace_id, std::string_view span_id) {
  std::string out = "00-";
  out.append(trace_id);
  out.push_back('-');
  out.append(span_id);
  out.append("-01");
  return out;
}

std::string NewTraceId() {
  std::string id;
  id.reserve(32);
  // Only the full 128 bits must be non-zero; each half may be zero.
  uint64_t high = Generator()();
  uint64_t low = high == 0 ? NonZeroRandom() : Generator()();
  AppendHex(high, &id);
  AppendHex(low, &id);
  return id;
}

std::string NewSpanId() {
  std::string id;
  id.reserve(16);
  AppendHex(NonZeroRandom(), &id);
  return id;
}

double RandomUnit() { return std::uniform_real_distribution<double>(0.0, 1.0)(Generator()); }

int RandomInt(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(Generator()); }

}  // namespace hive::demo
