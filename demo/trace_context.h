// W3C Trace Context for the demo services: parsing and formatting the
// `traceparent` header and minting random trace and span ids.
// All functions are thread-safe; ids come from a per-thread mt19937_64 seeded
// from std::random_device.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hive::demo {

// The two ids a `traceparent` header carries.
struct TraceParent {
  std::string trace_id;   // 32 lowercase hex digits, not all zero
  std::string parent_id;  // 16 lowercase hex digits, not all zero
};

// Parses `00-<trace id>-<parent id>-<flags>` per W3C Trace Context (future
// versions with extra fields are accepted, version ff is not). Returns nullopt
// for an absent or malformed header; the caller then starts a new trace.
std::optional<TraceParent> ParseTraceparent(std::string_view header);

// `00-<trace_id>-<span_id>-01` (sampled).
std::string FormatTraceparent(std::string_view trace_id, std::string_view span_id);

// A random, non-zero 128-bit trace id as 32 lowercase hex digits.
std::string NewTraceId();

// A random, non-zero 64-bit span id as 16 lowercase hex digits.
std::string NewSpanId();

// A uniformly distributed double in [0, 1) from the same per-thread generator.
double RandomUnit();

// A uniformly distributed integer in [lo, hi].
int RandomInt(int lo, int hi);

}  // namespace hive::demo
