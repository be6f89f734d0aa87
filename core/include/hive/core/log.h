// Structured logging for hive's own processes: one JSON object per line on
// stderr ({"ts":…,"level":…,"msg":…, fields…}), so hive can ship its own logs.
// Thread-safe; each line is written with a single write(2).
//
//   log::Info("lease expired", {{"service", svc}, {"instance", id}});
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace hive::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// A field's value; string views must outlive the call only.
struct Value {
  Value(std::string_view s) : v(s) {}                          // NOLINT: implicit by design
  Value(const char* s) : v(std::string_view(s)) {}             // NOLINT
  Value(const std::string& s) : v(std::string_view(s)) {}      // NOLINT
  Value(bool b) : v(b) {}                                      // NOLINT
  Value(int i) : v(static_cast<int64_t>(i)) {}                 // NOLINT
  Value(long i) : v(static_cast<int64_t>(i)) {}                // NOLINT
  Value(long long i) : v(static_cast<int64_t>(i)) {}           // NOLINT
  Value(unsigned i) : v(static_cast<int64_t>(i)) {}            // NOLINT
  Value(unsigned long i) : v(static_cast<int64_t>(i)) {}       // NOLINT
  Value(unsigned long long i) : v(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d) : v(d) {}                                    // NOLINT
  std::variant<std::string_view, int64_t, double, bool> v;
};

struct Field {
  std::string_view key;
  Value value;
};

using Fields = std::initializer_list<Field>;

// Lines below `level` are discarded. Default kInfo.
void SetLevel(Level level);
Level GetLevel();

// Parses "debug", "info", "warn", "error".
bool ParseLevel(std::string_view name, Level* level);

// Adds {"component": name} to every line of this process.
void SetProcessName(std::string_view name);

void Write(Level level, std::string_view msg, Fields fields = {});

inline void Debug(std::string_view msg, Fields f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, Fields f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, Fields f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, Fields f = {}) { Write(Level::kError, msg, f); }

}  // namespace hive::log
