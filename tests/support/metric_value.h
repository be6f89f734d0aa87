// Reading a metric back from a prometheus::Registry in tests.
#pragma once

#include <prometheus/registry.h>

#include <string>

namespace hive::testing {

// The sum over the samples of family `name` (counters and gauges) whose label
// `label` has `value`, or over all its samples when `label` is empty; 0 when
// the family is absent.
double MetricValue(prometheus::Registry& registry, const std::string& name,
                   const std::string& label = "", const std::string& value = "");

}  // namespace hive::testing
