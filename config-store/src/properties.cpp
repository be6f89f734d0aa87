// The only translation unit of the config store that uses nlohmann_json.
#include "hive/config_store/properties.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "hive/core/auth.h"
#include "hive/core/text.h"

namespace hive::config_store {
namespace {

using nlohmann::json;

bool IsJsonNumberText(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

std::string QuoteKey(std::string_view key) {
  constexpr size_t kShown = 100;
  if (key.size() <= kShown) return "'" + std::string(key) + "'";
  return "'" + std::string(key.substr(0, kShown)) + "...'";
}

// Appends the flattened form of `value` under `key` to `out`.
Status Flatten(const json& value, const std::string& key, Properties& out) {
  if (key.size() > kMaxKeyLength) return ValidateKey(key);
  switch (value.type()) {
    case json::value_t::object:
      for (const auto& [name, child] : value.items()) {
        if (name.empty()) {
          return Status::InvalidArgument("empty member name" +
                                         (key.empty() ? std::string() : " under " + QuoteKey(key)));
        }
        HIVE_RETURN_IF_ERROR(Flatten(child, key.empty() ? name : key + "." + name, out));
      }
      return Status::Ok();
    case json::value_t::array:
      for (size_t i = 0; i < value.size(); ++i) {
        HIVE_RETURN_IF_ERROR(Flatten(value[i], key + "[" + std::to_string(i) + "]", out));
      }
      return Status::Ok();
    default:
      break;
  }
  HIVE_RETURN_IF_ERROR(ValidateKey(key));
  Value v = Value::Null();
  switch (value.type()) {
    case json::value_t::boolean:
      v = Value::Bool(value.get<bool>());
      break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      v = Value::Number(value.dump());
      break;
    case json::value_t::string:
      v = Value::String(value.get_ref<const std::string&>());
      break;
    default:
      break;
  }
  if (!out.emplace(key, std::move(v)).second) {
    return Status::InvalidArgument("two members flatten to the same key " + QuoteKey(key));
  }
  return Status::Ok();
}

}  // namespace

Value Value::Double(double d) {
  if (!std::isfinite(d)) return Null();
  std::string text;
  AppendJsonNumber(text, d);
  return Value(ValueType::kNumber, std::move(text));
}

Result<Value> Value::FromStored(ValueType type, std::string text) {
  bool fits = false;
  switch (type) {
    case ValueType::kNull:
      fits = text == "null";
      break;
    case ValueType::kBool:
      fits = text == "true" || text == "false";
      break;
    case ValueType::kNumber:
      fits = IsJsonNumberText(text);
      break;
    case ValueType::kString:
      fits = true;
      break;
  }
  if (!fits) return Status::InvalidArgument("stored value '" + text + "' does not fit its type");
  return Value(type, std::move(text));
}

std::string Value::ToJson() const {
  std::string out;
  AppendJson(out);
  return out;
}

void Value::AppendJson(std::string& out) const {
  if (type_ == ValueType::kString) {
    AppendJsonString(out, text_);
  } else {
    out += text_;
  }
}

Status ValidateKey(std::string_view key) {
  constexpr std::string_view kAllowed = " (allowed: 1-256 characters of A-Z a-z 0-9 . _ - [ ])";
  if (key.empty()) return Status::InvalidArgument("empty property key");
  if (key.size() > kMaxKeyLength) {
    return Status::InvalidArgument("property key " + QuoteKey(key) + " is longer than " +
                                   std::to_string(kMaxKeyLength) + " characters" +
                                   std::string(kAllowed));
  }
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '[' || c == ']';
    if (!ok) {
      return Status::InvalidArgument("invalid property key " + QuoteKey(key) +
                                     ": contains a character not allowed" + std::string(kAllowed));
    }
  }
  return Status::Ok();
}

Result<Properties> ParseJsonDocument(std::string_view text) {
  // Every JSON body hived reads has one nesting limit (docs/API.md); the
  // flattening below recurses per level.
  HIVE_RETURN_IF_ERROR(CheckJsonDepth(text));
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1,
    // column 9: syntax error ..."; keep only the reason.
    std::string_view what = e.what();
    if (auto close = what.find("] "); close != std::string_view::npos)
      what.remove_prefix(close + 2);
    if (what.starts_with("parse error")) {
      if (auto colon = what.find(": "); colon != std::string_view::npos) {
        what.remove_prefix(colon + 2);
      }
    }
    // e.byte is 1-based: the last byte read.
    const size_t end = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    const TextPosition pos = PositionOf(text, end);
    return Status::InvalidArgument("malformed JSON at line " + std::to_string(pos.line) +
                                   ", column " + std::to_string(pos.column) + ": " +
                                   std::string(what));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
  if (!doc.is_object()) {
    return Status::InvalidArgument(std::string("a config document must be a JSON object, not ") +
                                   doc.type_name());
  }
  Properties out;
  HIVE_RETURN_IF_ERROR(Flatten(doc, "", out));
  MarkSecrets(out);
  return out;
}

TextPosition PositionOf(std::string_view text, size_t offset) {
  TextPosition pos;
  offset = std::min(offset, text.size());
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++pos.column;  // count code points, not UTF-8 continuation bytes
    }
  }
  return pos;
}

void MarkSecrets(Properties& properties) {
  for (auto& [key, value] : properties) {
    if (value.type() == ValueType::kString && !value.secret() &&
        value.text().starts_with(kSecretPrefix)) {
      value = Value::Secret(value.text().substr(kSecretPrefix.size()));
    }
  }
}

Properties RedactSecrets(const Properties& properties) {
  Properties out = properties;
  for (auto& [key, value] : out) {
    if (value.secret()) value = Value::Secret(std::string(kRedacted));
  }
  return out;
}

PropertyDiff DiffProperties(const Properties& from, const Properties& to) {
  PropertyDiff diff;
  for (const auto& [key, old_value] : from) {
    auto it = to.find(key);
    if (it == to.end()) {
      diff.removed.emplace(key, old_value);
    } else if (!(it->second == old_value)) {
      diff.changed.emplace(key, std::make_pair(old_value, it->second));
    }
  }
  for (const auto& [key, new_value] : to) {
    if (!from.contains(key)) diff.added.emplace(key, new_value);
  }
  return diff;
}

PropertyDiff RedactSecrets(const PropertyDiff& diff) {
  PropertyDiff out;
  out.added = RedactSecrets(diff.added);
  out.removed = RedactSecrets(diff.removed);
  const Value redacted = Value::Secret(std::string(kRedacted));
  for (const auto& [key, change] : diff.changed) {
    out.changed.emplace(key, std::make_pair(change.first.secret() ? redacted : change.first,
                                            change.second.secret() ? redacted : change.second));
  }
  return out;
}

void AppendDiffJson(std::string& out, const PropertyDiff& diff) {
  out += "{\"added\":";
  AppendPropertiesJson(out, diff.added);
  out += ",\"removed\":";
  AppendPropertiesJson(out, diff.removed);
  out += ",\"changed\":{";
  bool first = true;
  for (const auto& [key, change] : diff.changed) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, key);
    out += ":{\"from\":";
    change.first.AppendJson(out);
    out += ",\"to\":";
    change.second.AppendJson(out);
    out += '}';
  }
  out += "}}";
}

void AppendPropertiesJson(std::string& out, const Properties& properties) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : properties) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, key);
    out += ':';
    value.AppendJson(out);
  }
  out += '}';
}

std::string PropertiesToJson(const Properties& properties) {
  std::string out;
  AppendPropertiesJson(out, properties);
  return out;
}

std::string ContentHash(const Properties& properties) {
  Properties canonical = properties;
  for (auto& [key, value] : canonical) {
    if (value.secret()) value = Value::String(std::string(kSecretPrefix) + value.text());
  }
  return Sha256Hex(PropertiesToJson(canonical));
}

}  // namespace hive::config_store
