// Rendering of a service's effective configuration (the flat, dotted-key
// `properties` of GET /api/v1/config/{app}/{profile}) into the file the
// service reads, in the format its extension names:
//   .json        a flat JSON object of dotted keys, values with their JSON types
//   .yaml/.yml   flat `key: value` lines; strings always double-quoted
//   .properties  java.util.Properties `key=value`, escaped, non-ASCII as \uXXXX
//   .env         KEY_NAME=value: keys upper-cased, '.' and '-' (and anything
//                else outside [A-Z0-9_]) become '_'; values quoted when needed
// Keys come out sorted. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "hive/agent/config.h"
#include "hive/core/status.h"

namespace hive::agent {

// An array or object value kept as its JSON text.
struct JsonText {
  std::string text;
  friend bool operator==(const JsonText&, const JsonText&) = default;
};

// null, boolean, integer, floating point, string, or other JSON.
using PropertyValue = std::variant<std::monostate, bool, int64_t, double, std::string, JsonText>;
using Properties = std::map<std::string, PropertyValue>;

std::string RenderProperties(ConfigFileFormat format, const Properties& properties);

// Parses the JSON `properties` object of a config answer. InvalidArgument
// when `json` is not an object or nests deeper than kMaxJsonDepth.
Result<Properties> PropertiesFromJson(std::string_view json);

}  // namespace hive::agent
