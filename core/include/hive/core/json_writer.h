// JsonWriter: writes a JSON text left to right into a string, placing the
// commas and colons and escaping strings (AppendJsonString: invalid UTF-8
// becomes U+FFFD) and numbers (AppendJsonNumber: shortest round trip,
// non-finite as null), so that handlers never concatenate JSON by hand.
//
//   JsonWriter w;
//   w.BeginObject().Field("app", app).Field("version", int64_t{3});
//   w.Key("keys").BeginArray();
//   for (const auto& k : keys) w.String(k);
//   w.EndArray().EndObject();
//   res.SetJson(w.Take());
//
// It writes what it is told: the caller keeps keys inside objects and
// values inside arrays or after a key (debug builds assert the nesting). A
// value already in JSON (from another writer or a cache) goes in with Raw().
// Not thread-safe; cheap to construct.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "hive/core/clock.h"

namespace hive {

class JsonWriter {
 public:
  JsonWriter() = default;
  // Appends to `out` (which may already hold text, e.g. a prefix).
  explicit JsonWriter(std::string out) : out_(std::move(out)) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // A member's name; its value comes next.
  JsonWriter& Key(std::string_view name);

  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // A value that is already JSON text, copied as it is.
  JsonWriter& Raw(std::string_view json);
  // A value that `append(std::string&)` writes as JSON straight into the
  // text (e.g. AppendEventJson): no copy through a temporary string.
  template <typename Append>
  JsonWriter& RawWith(Append&& append) {
    Separate();
    append(out_);
    return Wrote();
  }
  // A time as an RFC 3339 string, written in place.
  JsonWriter& Time(TimePoint t);

  // Key(name) and the value. Integers of any width go to Int/Uint, a
  // floating-point value to Double, a bool to Bool; anything else that
  // converts to a string_view to String.
  template <typename T>
  JsonWriter& Field(std::string_view name, const T& value) {
    Key(name);
    if constexpr (std::is_same_v<T, bool>) {
      return Bool(value);
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      return Int(static_cast<int64_t>(value));
    } else if constexpr (std::is_integral_v<T>) {
      return Uint(static_cast<uint64_t>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
      return Double(static_cast<double>(value));
    } else {
      return String(std::string_view(value));
    }
  }

  // The text so far.
  const std::string& str() const { return out_; }
  // Hands the text over; the writer is empty again.
  std::string Take();

 private:
  // Before a value or a key: the comma that separates it from the previous.
  void Separate();
  // After a value: the next one needs a comma.
  JsonWriter& Wrote();
  JsonWriter& Open(char bracket);
  JsonWriter& Close(char opened, char bracket);

  std::string out_;
  bool need_comma_ = false;
  std::vector<char> open_;  // '{' or '[' per open container (for the asserts)
};

}  // namespace hive
