// RequestMetrics counts a demo service's requests and upstream calls and
// renders them in the Prometheus text exposition format. Written by hand on
// purpose: the demo services play user services, which bring their own metrics
// and link nothing of hive. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "service_config.h"

namespace hive::demo {

class RequestMetrics {
 public:
  // Upper bounds, in seconds, of request_duration_seconds' buckets.
  static constexpr std::array<double, 11> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1.0,  2.5};

  // One served request with its HTTP status and duration.
  void RecordRequest(int status_code, double seconds);

  // One call to an upstream; status_code 0 means a transport error.
  void RecordUpstream(const std::string& peer, int status_code);

  // requests_total{code}, request_duration_seconds (histogram),
  // upstream_requests_total{peer,code}, config_failure_rate, config_latency_ms
  // and config_reloads_total.
  std::string Render(const ServiceSettings& settings, int64_t config_reloads) const;

 private:
  mutable std::mutex mu_;
  std::map<int, uint64_t> requests_by_code_;
  std::map<std::pair<std::string, std::string>, uint64_t> upstream_by_peer_code_;
  std::array<uint64_t, kBuckets.size()> bucket_counts_{};  // non-cumulative
  uint64_t duration_count_ = 0;
  double duration_sum_ = 0;
};

}  // namespace hive::demo
