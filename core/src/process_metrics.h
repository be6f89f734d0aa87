// The process_* metrics every Prometheus client library exports (CPU, memory,
// file descriptors, start time), read from /proc at scrape time. Internal to
// the core: HttpServer appends them to every /metrics answer.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace hive {

std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace hive
