// MetricsScraper (internal): every metrics.interval, GETs the service's
// Prometheus endpoint (metrics.url) and POSTs the exposition text, as
// scraped, to /api/v1/ingest/metrics?service=&instance= on the control
// plane. A failed scrape or forward is counted and logged (throttled) and
// the next interval tries again; a hived without that route (404) is logged
// once.
//
// Thread-safety: Start and Stop from one owning thread; once started, the
// scrape thread alone uses both HTTP clients.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/http_client.h"
#include "hive/core/status.h"

namespace hive::agent {

class MetricsScraper {
 public:
  // REQUIRES: config.metrics is set. `metrics` must outlive the scraper.
  MetricsScraper(AgentConfig config, AgentOptions options, AgentMetrics& metrics);
  ~MetricsScraper();  // Stop()s

  // InvalidArgument for a bad control_plane or metrics.url, or TLS files
  // that cannot be loaded.
  Status Start();
  void Stop();

 private:
  void Run();

  AgentConfig config_;
  AgentOptions options_;
  AgentMetrics& metrics_;
  std::string target_;                   // metrics.url's path
  std::unique_ptr<HttpClient> service_;  // scrapes metrics.url
  std::unique_ptr<HttpClient> control_;  // forwards to hived
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace hive::agent
