// Small, allocation-light text helpers shared by every component: parsing of
// durations and byte sizes as users write them in flags and YAML, RFC 3339
// timestamps, JSON string escaping, and the name rule for services,
// instances, applications and profiles. All functions are pure and
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/status.h"

namespace hive {

// "250ms", "5s", "1m30s", "2h", "1d" (Go-style units plus d). A bare number is
// seconds. Negative durations are rejected.
Result<Duration> ParseDuration(std::string_view text);

// "5s", "1m30s", "250ms": the shortest exact spelling.
std::string FormatDuration(Duration d);

// "256MiB", "10GiB", "64KB", "1000". Binary (KiB, MiB, GiB, TiB) and decimal
// (KB, MB, GB, TB) suffixes; a bare number is bytes.
Result<uint64_t> ParseByteSize(std::string_view text);

// RFC 3339 in UTC with nanosecond precision: 2026-11-22T10:00:00.123456789Z.
std::string FormatRfc3339(TimePoint t);
void AppendRfc3339(std::string& out, TimePoint t);

// Accepts RFC 3339 with any fractional precision and a Z or ±hh:mm offset.
Result<TimePoint> ParseRfc3339(std::string_view text);

// Appends `s` as a JSON string literal (with quotes). Invalid UTF-8 bytes are
// replaced by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);
std::string JsonString(std::string_view s);

// Whether `s` is valid UTF-8 (no overlong forms, surrogates or code points
// past U+10FFFF): what AppendJsonString copies unchanged.
bool IsValidUtf8(std::string_view s);

// The deepest nesting of arrays and objects hive accepts in a JSON document
// it reads from outside (an API body, an OTLP request, a line): deep enough
// for any OTLP AnyValue a real SDK sends, shallow enough that no recursive
// walk or serializer behind the check can exhaust a stack.
inline constexpr size_t kMaxJsonDepth = 64;

// InvalidArgument when `text` nests arrays/objects deeper than `max_depth`
// (brackets inside strings do not count); OK otherwise, whether or not the
// rest is valid JSON. One pass, no recursion: run it before a parser whose
// result something walks recursively.
Status CheckJsonDepth(std::string_view text, size_t max_depth = kMaxJsonDepth);

// Appends `v` as a JSON number in its shortest round-trip spelling, keeping
// it recognisably fractional (1.0, not 1). Non-finite values become null.
void AppendJsonNumber(std::string& out, double v);

// Appends `s` escaped as java.util.Properties writes it: backslash escapes for
// \ \n \r \t \f and = : # !, a space escaped in keys and at the start of a
// value, and every non-ASCII or control character as \uXXXX (UTF-16), so the
// file reads the same under any charset. Invalid UTF-8 becomes U+FFFD.
void AppendPropertiesEscaped(std::string& out, std::string_view s, bool is_key);

// Services, instances, applications and profiles share one rule:
// ^[a-z0-9][a-z0-9._-]{0,62}$. `what` names the thing in the error message.
Status ValidateName(std::string_view name, std::string_view what);

// Splits on `sep`, keeping empty pieces.
std::vector<std::string_view> Split(std::string_view s, char sep);

std::string_view Trim(std::string_view s);

// ASCII case-insensitive equality (header names, tokens, media types).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// ASCII lower case.
std::string AsciiLower(std::string_view s);

// Lower-case hex of `data`.
std::string HexEncode(std::string_view data);

}  // namespace hive
