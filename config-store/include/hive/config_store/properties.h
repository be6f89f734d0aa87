// Flat configuration properties: what a pushed document becomes once nested
// objects are flattened to dotted keys and arrays to indexed keys, as Spring
// Boot does (`{"db":{"hosts":["a"]}}` → `db.hosts[0]`).
//
// Value is one JSON scalar (null, bool, number or string) and Properties an
// ordered map of key → Value. A string value may be secret: pushed with the
// kSecretPrefix ("{secret}hunter2"), stored encrypted, and shown as
// kRedacted to roles that may not read it. Both are plain values, safe to
// copy and to hand between threads. The functions here are pure and
// thread-safe.
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
  // A secret string; `s` is the clear text.
  static Value Secret(std::string s) {
    Value v(ValueType::kString, std::move(s));
    v.secret_ = true;
    return v;
  }
  // REQUIRES: `json_number` is a valid JSON number literal.
  static Value Number(std::string json_number) {
    return Value(ValueType::kNumber, std::move(json_number));
  }
  // Rebuilds a Value from type() and text() as stored. InvalidArgument when
  // `text` does not fit `type`.
  static Result<Value> FromStored(ValueType type, std::string text);

  ValueType type() const { return type_; }
  const std::string& text() const { return text_; }
  bool secret() const { return secret_; }

  // The value as a JSON literal (strings quoted and escaped).
  std::string ToJson() const;
  void AppendJson(std::string& out) const;

  friend bool operator==(const Value& a, const Value& b) {
    return a.type_ == b.type_ && a.text_ == b.text_ && a.secret_ == b.secret_;
  }

 private:
  Value(ValueType type, std::string text) : type_(type), text_(std::move(text)) {}
  ValueType type_;
  std::string text_;
  bool secret_ = false;
};

using Properties = std::map<std::string, Value>;

inline constexpr size_t kMaxKeyLength = 256;

// A pushed string value that starts with this prefix is a secret; the rest of
// the string is its clear text.
inline constexpr std::string_view kSecretPrefix = "{secret}";
// What a secret reads as for a role that may not read it.
inline constexpr std::string_view kRedacted = "<redacted>";

// A property key is non-empty, at most kMaxKeyLength characters, of
// [A-Za-z0-9._-[]]. InvalidArgument naming the key otherwise.
Status ValidateKey(std::string_view key);

// Parses a JSON document that must be an object and flattens it; strings
// with kSecretPrefix become secrets. Errors (all InvalidArgument): malformed
// JSON (the message gives line and column), a top-level value that is not an
// object, an empty member name, an invalid flattened key, or two members that
// flatten to the same key.
Result<Properties> ParseJsonDocument(std::string_view json);

// A 1-based line and column (in code points) within a document.
struct TextPosition {
  size_t line = 1;
  size_t column = 1;
};
// The position of byte `offset` of `text`.
TextPosition PositionOf(std::string_view text, size_t offset);

// Turns string values that start with kSecretPrefix into secrets.
void MarkSecrets(Properties& properties);

// A copy in which every secret's text is kRedacted.
Properties RedactSecrets(const Properties& properties);

// What changed from one set of properties to another.
struct PropertyDiff {
  Properties added;                                        // key → new value
  Properties removed;                                      // key → old value
  std::map<std::string, std::pair<Value, Value>> changed;  // key → (old, new)
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
PropertyDiff DiffProperties(const Properties& from, const Properties& to);
PropertyDiff RedactSecrets(const PropertyDiff& diff);

// {"added":{...},"removed":{...},"changed":{"k":{"from":v,"to":v}}}
void AppendDiffJson(std::string& out, const PropertyDiff& diff);

// {"key": value, ...} in key order, secrets in clear: redact first when the
// reader may not see them.
std::string PropertiesToJson(const Properties& properties);
void AppendPropertiesJson(std::string& out, const Properties& properties);

// Lower-case hex SHA-256 of the canonical form (PropertiesToJson, with a
// secret written as kSecretPrefix + its text), so two documents that flatten
// to the same properties have the same hash. The store passes secrets as
// keyed digests, never their clear text.
std::string ContentHash(const Properties& properties);

}  // namespace hive::config_store
