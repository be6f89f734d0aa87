// Invariants shared by the config document targets: every flattened key is
// valid, every value is one the store can save and load again
// (Value::FromStored), and the properties survive both writers the product
// has: JSON (the API and the agent's .json files) and java.util.Properties
// (the agent's .properties files).
#pragma once

#include <cstdlib>
#include <string>

#include "fuzz_check.h"
#include "hive/config_store/document.h"
#include "hive/config_store/properties.h"
#include "hive/core/text.h"

namespace hive::fuzz {

// A secret goes back out with its prefix, the way it was pushed.
inline config_store::Properties AsPushed(const config_store::Properties& properties) {
  config_store::Properties out;
  for (const auto& [key, value] : properties) {
    out.emplace(key, value.secret() ? config_store::Value::String(
                                          std::string(config_store::kSecretPrefix) + value.text())
                                    : value);
  }
  return out;
}

inline void CheckProperties(const config_store::Properties& properties) {
  for (const auto& [key, value] : properties) {
    FUZZ_CHECK(config_store::ValidateKey(key).ok());
    auto stored = config_store::Value::FromStored(value.type(), value.text());
    FUZZ_CHECK(stored.ok());
    FUZZ_CHECK(stored->type() == value.type() && stored->text() == value.text());
  }
  // The JSON reader spells numbers its own way (1e3 -> 1000.0), so numbers
  // compare by value; read a second time, nothing changes any more.
  const config_store::Properties pushed = AsPushed(properties);
  auto from_json = config_store::ParseJsonDocument(config_store::PropertiesToJson(pushed));
  FUZZ_CHECK(from_json.ok());
  FUZZ_CHECK(from_json->size() == properties.size());
  for (const auto& [key, value] : properties) {
    auto it = from_json->find(key);
    FUZZ_CHECK(it != from_json->end());
    FUZZ_CHECK(it->second.type() == value.type() && it->second.secret() == value.secret());
    if (value.type() == config_store::ValueType::kNumber) {
      FUZZ_CHECK(std::strtod(it->second.text().c_str(), nullptr) ==
                 std::strtod(value.text().c_str(), nullptr));
    } else {
      FUZZ_CHECK(it->second.text() == value.text());
    }
  }
  auto again =
      config_store::ParseJsonDocument(config_store::PropertiesToJson(AsPushed(*from_json)));
  FUZZ_CHECK(again.ok() && *again == *from_json);
  FUZZ_CHECK(config_store::ContentHash(*again) == config_store::ContentHash(*from_json));

  std::string text;
  for (const auto& [key, value] : pushed) {
    AppendPropertiesEscaped(text, key, /*is_key=*/true);
    text += '=';
    AppendPropertiesEscaped(text, value.text(), /*is_key=*/false);
    text += '\n';
  }
  auto from_properties = config_store::ParsePropertiesDocument(text);
  FUZZ_CHECK(from_properties.ok());
  FUZZ_CHECK(from_properties->size() == properties.size());
  for (const auto& [key, value] : properties) {
    auto it = from_properties->find(key);
    FUZZ_CHECK(it != from_properties->end());
    FUZZ_CHECK(it->second.type() == config_store::ValueType::kString);
    FUZZ_CHECK(it->second.text() == value.text() && it->second.secret() == value.secret());
  }
}

inline void CheckDocument(config_store::DocumentFormat format, std::string_view text) {
  auto parsed = config_store::ParseDocument(format, text);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
    FUZZ_CHECK(!parsed.status().message().empty());
    return;
  }
  CheckProperties(*parsed);
}

}  // namespace hive::fuzz
