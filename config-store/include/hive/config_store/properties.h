// Flat configuration properties: what a pushed document becomes once nested
// objects are flattened to dotted keys and arrays to indexed keys, as Spring
// Boot does (`{"db":{"hosts":["a"]}}` → `db.hosts[0]`).
//
// Value is one JSON scalar (null, bool, number or string) and Properties an
// ordered map of key → Value. Both are plain values, safe to copy and to hand
// between threads. The functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "hive/core/status.h"

namespace hive::config_store {

enum class ValueType { kNull, kBool, kNumber, kString };

// One JSON scalar. text() is the decoded string for kString and the JSON
// spelling for the other types ("null", "true", "5", "0.25"), so a number
// keeps exactly the digits it was pushed with.
class Value {
 public:
  static Value Null() { return Value(ValueType::kNull, "null"); }
  static Value Bool(bool b) { return Value(ValueType::kBool, b ? "true" : "false"); }
  static Value Int(int64_t i) { return Value(ValueType::kNumber, std::to_string(i)); }
  // Non-finite doubles have no JSON spelling and become null.
  static Value Double(double d);
  static Value String(std::string s) { return Value(ValueType::kString, std::move(s)); }
  // REQUIRES: `json_number` is a valid JSON number literal.
  static Value Number(std::string json_number) {
    return Value(ValueType::kNumber, std::move(json_number));
  }
  // Rebuilds a Value from type() and text() as stored. InvalidArgument when
  // `text` does not fit `type`.
  static Result<Value> FromStored(ValueType type, std::string text);

  ValueType type() const { return type_; }
  const std::string& text() const { return text_; }

  // The value as a JSON literal (strings quoted and escaped).
  std::string ToJson() const;
  void AppendJson(std::string& out) const;

  friend bool operator==(const Value& a, const Value& b) {
    return a.type_ == b.type_ && a.text_ == b.text_;
  }

 private:
  Value(ValueType type, std::string text) : type_(type), text_(std::move(text)) {}
  ValueType type_;
  std::string text_;
};

using Properties = std::map<std::string, Value>;

inline constexpr size_t kMaxKeyLength = 256;

// A property key is non-empty, at most kMaxKeyLength characters, of
// [A-Za-z0-9._-[]]. InvalidArgument naming the key otherwise.
Status ValidateKey(std::string_view key);

// Parses a JSON document that must be an object and flattens it. Errors
// (all InvalidArgument): malformed JSON (the message gives the byte
// position), a top-level value that is not an object, an empty member name,
// an invalid flattened key, or two members that flatten to the same key.
Result<Properties> ParseJsonDocument(std::string_view json);

// {"key": value, ...} in key order.
std::string PropertiesToJson(const Properties& properties);
void AppendPropertiesJson(std::string& out, const Properties& properties);

// Lower-case hex SHA-256 of the canonical form (PropertiesToJson), so two
// documents that flatten to the same properties have the same hash.
std::string ContentHash(const Properties& properties);

}  // namespace hive::config_store
