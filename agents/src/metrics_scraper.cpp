#include "metrics_scraper.h"

#include "backoff.h"
#include "control_plane.h"
#include "hive/core/http_client.h"
#include "hive/core/log.h"

namespace hive::agent {

MetricsScraper::MetricsScraper(AgentConfig config, AgentOptions options, AgentMetrics& metrics)
    : config_(std::move(config)), options_(options), metrics_(metrics) {}

MetricsScraper::~MetricsScraper() { Stop(); }

Status MetricsScraper::Start() {
  const std::string_view url = config_.metrics->url;
  const size_t path_at = url.find('/', std::string_view("http://").size());
  target_ = path_at == std::string_view::npos ? "/" : std::string(url.substr(path_at));
  HttpClientOptions so;
  so.base_url = std::string(url.substr(0, path_at));
  so.connect_timeout = std::min<Duration>(options_.request_timeout, std::chrono::seconds(3));
  so.read_timeout = options_.request_timeout;
  auto service = HttpClient::Create(so);
  if (!service.ok()) return service.status().WithContext("metrics.url");
  HttpClientOptions co = ControlPlaneClientOptions(config_, options_);
  co.request_coding = RequestCoding::kZstd;
  auto control = HttpClient::Create(co);
  if (!control.ok()) return control.status();
  service_ = std::move(*service);
  control_ = std::move(*control);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void MetricsScraper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetricsScraper::Run() {
  const std::string ingest = "/api/v1/ingest/metrics?service=" + UrlEncode(config_.service) +
                             "&instance=" + UrlEncode(config_.instance);
  LogThrottle error_log;
  bool told_unsupported = false;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, config_.metrics->interval, [&] { return stopping_; })) return;
    }
    auto scraped = service_->Get(target_);
    std::string error;
    if (!scraped.ok() || !scraped->ok()) {
      error =
          "scrape " + config_.metrics->url + ": " +
          (scraped.ok() ? StatusFromResponse(*scraped).ToString() : scraped.status().ToString());
    } else {
      auto r = control_->Send("POST", ingest, scraped->body, "text/plain; version=0.0.4");
      if (r.ok() && r->status == 404) {
        metrics_.AddScrape(false);
        if (!told_unsupported) {
          log::Warn(
              "this hived does not take metrics (404 on /api/v1/ingest/metrics); "
              "scrapes are dropped until it does");
          told_unsupported = true;
        }
        continue;
      }
      if (r.ok() && r->ok()) {
        metrics_.AddScrape(true);
        continue;
      }
      error = "forward: " + (r.ok() ? StatusFromResponse(*r).ToString() : r.status().ToString());
    }
    metrics_.AddScrape(false);
    if (error_log.Allow()) {
      log::Warn("cannot forward the service's metrics",
                {{"error", error}, {"suppressed", error_log.TakeSuppressed()}});
    }
  }
}

}  // namespace hive::agent
