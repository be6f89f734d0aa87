// What the log event, span and Elasticsearch code share about their fields:
// optional strings and attributes as JSON, and the case-insensitive
// vocabulary words (levels, span kinds, statuses). Internal to hive_collector. Pure functions,
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hive/collector/log_event.h"

namespace hive::collector {

// Appends attributes as a JSON object, in their order: values as JSON
// strings, numbers and booleans.
void AppendAttrsJson(std::string& out, const std::vector<std::pair<std::string, AttrValue>>& attrs);

// Appends `,"key":"value"` unless `value` is empty.
void AppendOptionalField(std::string& out, std::string_view key, const std::string& value);

// Whether `text` is `lower` (lower-case ASCII) but for the case of ASCII
// letters.
bool EqualsLower(std::string_view text, std::string_view lower);

}  // namespace hive::collector
