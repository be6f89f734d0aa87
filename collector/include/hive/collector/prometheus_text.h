// The Prometheus text exposition format (version 0.0.4): a strict parser for
// what agents scrape and push (POST /api/v1/ingest/metrics), and a writer for
// GET /api/v1/metrics/export.
//
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hive/core/status.h"

namespace hive::collector {

enum class MetricType : uint8_t { kUntyped = 0, kCounter, kGauge, kHistogram, kSummary };

// "untyped", "counter", "gauge", "histogram", "summary".
std::string_view MetricTypeName(MetricType type);
std::optional<MetricType> ParseMetricType(std::string_view text);

// Label pairs sorted by name, names unique. Never holds __name__.
using Labels = std::vector<std::pair<std::string, std::string>>;

struct MetricFamily {
  std::string name;
  MetricType type = MetricType::kUntyped;
  std::string help;  // unescaped; "" when absent
};

struct ParsedSample {
  std::string name;    // the sample's own name (e.g. x_bucket)
  std::string family;  // the family it belongs to (e.g. x for a histogram x)
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct ParsedExposition {
  std::vector<ParsedSample> samples;             // in input order
  std::map<std::string, MetricFamily> families;  // by family name
};

// Parses a whole exposition. Any bad line makes the whole body
// InvalidArgument with "line N: ..." (1-based). Rules: metric and label names
// as Prometheus defines them; label values with \\, \" and \n escapes; values
// as floats including NaN, +Inf, -Inf; an optional integer timestamp in ms;
// "# HELP" / "# TYPE" at most once per family and TYPE before the family's
// samples; other "#" lines are comments; duplicate label names are an error.
Result<ParsedExposition> ParsePrometheusText(std::string_view text);

bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

// Appends `name{labels} value[ timestamp]\n` with label values escaped.
void AppendSampleLine(std::string& out, std::string_view name, const Labels& labels, double value,
                      std::optional<int64_t> timestamp_ms = std::nullopt);
// Appends "# HELP name help\n" (escaped) when help is set, and "# TYPE name type\n".
void AppendFamilyHeader(std::string& out, const MetricFamily& family);
// Shortest round-trip spelling; NaN, +Inf, -Inf as Prometheus writes them.
std::string FormatSampleValue(double value);

}  // namespace hive::collector
