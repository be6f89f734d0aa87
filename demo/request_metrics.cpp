#include "request_metrics.h"

#include <iomanip>
#include <sstream>

namespace hive::demo {

void RequestMetrics::RecordRequest(int status_code, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_by_code_[status_code];
  ++duration_count_;
  duration_sum_ += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++bucket_counts_[i];
      break;
    }
  }
}

void RequestMetrics::RecordUpstream(const std::string& peer, int status_code) {
  std::string code = status_code == 0 ? "error" : std::to_string(status_code);
  std::lock_guard lock(mu_);
  ++upstream_by_peer_code_[{peer, code}];
}

std::string RequestMetrics::Render(const ServiceSettings& settings, int64_t config_reloads) const {
  std::ostringstream out;
  out << std::setprecision(12);
  std::lock_guard lock(mu_);
  out << "# HELP requests_total Requests served, by HTTP status code.\n"
      << "# TYPE requests_total counter\n";
  for (const auto& [code, count] : requests_by_code_) {
    out << "requests_total{code=\"" << code << "\"} " << count << "\n";
  }
  out << "# HELP request_duration_seconds Time to serve a request.\n"
      << "# TYPE request_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += bucket_counts_[i];
    out << "request_duration_seconds_bucket{le=\"" << kBuckets[i] << "\"} " << cumulative << "\n";
  }
  out << "request_duration_seconds_bucket{le=\"+Inf\"} " << duration_count_ << "\n"
      << "request_duration_seconds_sum " << duration_sum_ << "\n"
      << "request_duration_seconds_count " << duration_count_ << "\n";
  out << "# HELP upstream_requests_total Calls to upstream services, by peer and HTTP status "
         "code (\"error\" when no answer came).\n"
      << "# TYPE upstream_requests_total counter\n";
  for (const auto& [key, count] : upstream_by_peer_code_) {
    out << "upstream_requests_total{peer=\"" << key.first << "\",code=\"" << key.second << "\"} "
        << count << "\n";
  }
  out << "# HELP config_failure_rate Fraction of requests failed on purpose.\n"
      << "# TYPE config_failure_rate gauge\n"
      << "config_failure_rate " << settings.failure_rate << "\n"
      << "# HELP config_latency_ms Latency added to every request, in milliseconds.\n"
      << "# TYPE config_latency_ms gauge\n"
      << "config_latency_ms " << settings.latency_ms << "\n"
      << "# HELP config_reloads_total Successful loads of the config file.\n"
      << "# TYPE config_reloads_total counter\n"
      << "config_reloads_total " << config_reloads << "\n";
  return out.str();
}

}  // namespace hive::demo
