#include "metric_value.h"

namespace hive::testing {

double MetricValue(prometheus::Registry& registry, const std::string& name,
                   const std::string& label, const std::string& value) {
  double total = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      bool match = label.empty();
      for (const auto& l : m.label) match = match || (l.name == label && l.value == value);
      if (match) total += m.counter.value + m.gauge.value;
    }
  }
  return total;
}

}  // namespace hive::testing
