// Helpers shared by the config store tests: a temporary data directory and
// reading one metric value back out of a prometheus registry.
#pragma once

#include <prometheus/registry.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace hive::config_store::testing {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hive-config-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The value of the counter or gauge `name` whose labels include
// label=label_value (any labels when `label` is empty); -1 when absent.
inline double MetricValue(prometheus::Registry& registry, std::string_view name,
                          std::string_view label = {}, std::string_view label_value = {}) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      bool match = label.empty();
      for (const auto& l : metric.label) {
        if (l.name == label && l.value == label_value) match = true;
      }
      if (!match) continue;
      return family.type == prometheus::MetricType::Gauge ? metric.gauge.value
                                                          : metric.counter.value;
    }
  }
  return -1;
}

}  // namespace hive::config_store::testing
