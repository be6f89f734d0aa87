// The Prometheus exposition invariant shared by the prometheus_text and
// otlp_metrics targets: a parsed exposition, written back with the
// collector's own writer (as GET /api/v1/metrics/export does), parses to the
// same families and samples.
#pragma once

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_check.h"
#include "hive/collector/prometheus_text.h"

namespace hive::fuzz {

inline bool SameValue(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Which family a sample belongs to depends on the TYPE lines before it
// (x_count is its own family until "# TYPE x summary"), so each family's
// header is written right before its first sample, as in the input, and the
// families without samples at the end. OTLP may carry one series twice (two
// scopes export the same metric; the store keeps the last), which the text
// format forbids: with `allow_duplicates` only the first is written.
inline void CheckExposition(const collector::ParsedExposition& exposition,
                            bool allow_duplicates = false) {
  for (const auto& [name, family] : exposition.families) {
    FUZZ_CHECK(name == family.name);
    FUZZ_CHECK(collector::IsValidMetricName(name));
  }
  std::string text;
  std::set<std::string> written;
  const auto header = [&](const std::string& name) {
    auto it = exposition.families.find(name);
    if (it != exposition.families.end() && written.insert(name).second) {
      collector::AppendFamilyHeader(text, it->second);
    }
  };
  std::vector<const collector::ParsedSample*> written_samples;
  std::set<std::pair<std::string, collector::Labels>> series;
  for (const auto& sample : exposition.samples) {
    FUZZ_CHECK(collector::IsValidMetricName(sample.name));
    if (!series.emplace(sample.name, sample.labels).second) {
      FUZZ_CHECK(allow_duplicates);
      continue;
    }
    written_samples.push_back(&sample);
    header(sample.family);
    for (size_t i = 0; i < sample.labels.size(); ++i) {
      FUZZ_CHECK(collector::IsValidLabelName(sample.labels[i].first));
      if (i > 0) FUZZ_CHECK(sample.labels[i - 1].first < sample.labels[i].first);
    }
    collector::AppendSampleLine(text, sample.name, sample.labels, sample.value,
                                sample.timestamp_ms);
  }
  for (const auto& [name, family] : exposition.families) header(name);
  auto again = collector::ParsePrometheusText(text);
  if (!again.ok())
    std::fprintf(stderr, "%s\n---\n%s\n", again.status().message().c_str(), text.c_str());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->samples.size() == written_samples.size());
  for (size_t i = 0; i < written_samples.size(); ++i) {
    const auto& a = *written_samples[i];
    const auto& b = again->samples[i];
    if (a.name != b.name || a.family != b.family || a.labels != b.labels) {
      std::fprintf(stderr, "sample %zu: %s (family %s) read back as %s (family %s)\n---\n%s", i,
                   a.name.c_str(), a.family.c_str(), b.name.c_str(), b.family.c_str(),
                   text.c_str());
    }
    FUZZ_CHECK(a.name == b.name && a.family == b.family && a.labels == b.labels);
    FUZZ_CHECK(SameValue(a.value, b.value) && a.timestamp_ms == b.timestamp_ms);
  }
  FUZZ_CHECK(again->families.size() == exposition.families.size());
  for (const auto& [name, family] : exposition.families) {
    auto it = again->families.find(name);
    FUZZ_CHECK(it != again->families.end());
    FUZZ_CHECK(it->second.type == family.type && it->second.help == family.help);
  }
}

}  // namespace hive::fuzz
