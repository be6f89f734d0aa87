// SignalsService: the collector's span, dependency-graph, metrics and OTLP
// routes, mounted by CollectorService next to its log routes.
//
//   POST /api/v1/ingest/spans            NDJSON spans (agent)
//   POST /api/v1/ingest/metrics          Prometheus text, ?service=&instance= (agent)
//   POST /v1/traces, /v1/logs, /v1/metrics  OTLP/HTTP JSON (agent)
//   GET  /api/v1/graph?window=5m         nodes and edges with rates, errors, latency, health
//   GET  /api/v1/traffic?service=&window=1h  one service's traffic per minute/quarter bucket
//   GET  /api/v1/dependencies            Jaeger-shaped edges, ?endTs=&lookback= (ms)
//   GET  /api/v1/metrics/query           stored series, ?name=&match[]=&start=&end=&step=&rate=
//   GET  /api/v1/metrics/export          the latest samples in Prometheus text format
// and, when configured, ships stored log events to Elasticsearch (EsSink).
// Shapes and errors as in docs/API.md "Collector".
//
// Spans are stored in <dir>/spans.db and metrics in <dir>/metrics.db; both
// answer 2xx only after a synchronous commit. The graph lives in memory and is
// rebuilt from the last 24 h of stored spans at Open.
//
// Log events that arrive by OTLP (/v1/logs) take the same path as the native
// ones: the LogIngest given to Open (CollectorService's), which stores them,
// then feeds their spans here (AddSpans) and forwards them (ForwardLogs).
// Every ingest route, logs included, shares one throttle (BeginIngest).
//
// Thread-safe: handlers run on the HttpServer's workers; the only thread of
// its own is the EsSink's sender, joined by the destructor.
// The LogIngest passed to Open must stay callable while the service lives.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hive/collector/es_sink.h"
#include "hive/collector/log_store.h"
#include "hive/collector/metrics_store.h"
#include "hive/collector/service_graph.h"
#include "hive/collector/span.h"
#include "hive/core/clock.h"
#include "hive/core/http.h"
#include "hive/core/status.h"

namespace prometheus {
class Registry;
}

namespace hive::collector {

class SpanStore;

struct SignalsOptions {
  // Registry health per service, merged into node health; unset: none.
  RegistryHealthSource registry_health;
  HealthThresholds thresholds;
  Duration pairing_wait = std::chrono::seconds(10);
  Duration span_retention = std::chrono::hours(24 * 7);
  Duration metrics_retention = std::chrono::hours(24 * 7);
  // What metric ingest may add (past a cap: 429; labels past a limit: 400).
  MetricSeriesLimits metric_limits;
  // Ingest requests (spans, metrics, OTLP) handled at once; more are answered
  // 429 with Retry-After. 0 refuses all of them (a drain).
  int max_concurrent_ingests = 64;
  // Ship stored log events to Elasticsearch when es.url is set (es_sink.h).
  EsSinkOptions es;
};

// The spans among log events that carry span fields (SpanFromLogEvent).
std::vector<Span> SpansFromLogEvents(const std::vector<LogEvent>& events);

// Stores a batch of log events (already scoped to the caller) the one way
// every route does: durable append, then their spans, then the sinks. The
// append's result, or why it failed.
using LogIngest = std::function<Result<AppendResult>(LogBatch batch)>;

class SignalsService {
 public:
  // Opens (or creates) the span and metrics stores in `dir` and rebuilds the
  // graph. FailedPrecondition when a store cannot be opened.
  static Result<std::unique_ptr<SignalsService>> Open(std::string dir, hive::Clock* clock,
                                                      std::shared_ptr<prometheus::Registry> metrics,
                                                      LogIngest ingest_logs,
                                                      SignalsOptions options);
  ~SignalsService();
  SignalsService(const SignalsService&) = delete;
  SignalsService& operator=(const SignalsService&) = delete;

  // Registers the routes. REQUIRES: before server.Listen().
  void Mount(hive::HttpServer& server);

  // Stores spans durably (a span already stored is skipped) and accounts the
  // new ones in the graph. Unavailable when the write failed.
  Status AddSpans(const std::vector<Span>& spans);

  // True when stored log events are shipped to Elasticsearch.
  bool forwarding() const { return es_ != nullptr; }
  // Hands stored (durable) log events to the Elasticsearch sink, if any. A
  // full sink queue drops them (counted by the sink): the local store stays
  // the record.
  void ForwardLogs(const std::vector<LogEvent>& events);

  // The spans of one trace, oldest first (at most 10,000).
  Result<std::vector<Span>> SpansOfTrace(std::string_view trace_id);

  ServiceGraph& graph() { return *graph_; }

  // The throttle every ingest route shares (max_concurrent_ingests): false,
  // with `res` answered 429 and Retry-After (OTLP's error shape with `otlp`),
  // when too many ingests are in flight; otherwise the caller must call
  // EndIngest() when done.
  bool BeginIngest(HttpResponse& res, bool otlp);
  void EndIngest() { inflight_.fetch_sub(1); }

 private:
  struct Metrics;
  SignalsService(hive::Clock* clock, LogIngest ingest_logs, SignalsOptions options);
  Status HandleIngestSpans(const HttpRequest& req, HttpResponse& res);
  Status IngestSpans(const HttpRequest& req, HttpResponse& res);
  Status HandleIngestMetrics(const HttpRequest& req, HttpResponse& res);
  Status IngestMetrics(const HttpRequest& req, HttpResponse& res);
  // Stores the body of one OTLP/HTTP export and returns the JSON answer.
  using OtlpIngest = Result<std::string> (SignalsService::*)(std::string_view body,
                                                             const Principal& who);
  // An OTLP/HTTP export of one signal: JSON encoding only, throttled like the
  // other ingests, counted by signal and HTTP status.
  void HandleOtlp(const HttpRequest& req, HttpResponse& res, const char* signal, OtlpIngest ingest);
  Result<std::string> IngestOtlpTraces(std::string_view body, const Principal& who);
  Result<std::string> IngestOtlpLogs(std::string_view body, const Principal& who);
  Result<std::string> IngestOtlpMetrics(std::string_view body, const Principal& who);
  Status HandleGraph(const HttpRequest& req, HttpResponse& res);
  Status HandleTraffic(const HttpRequest& req, HttpResponse& res);
  Status HandleDependencies(const HttpRequest& req, HttpResponse& res);
  Result<MetricsQuery> ReadMetricsQuery(const HttpRequest& req);
  Status HandleMetricsQuery(const HttpRequest& req, HttpResponse& res);
  Status HandleMetricsExport(const HttpRequest& req, HttpResponse& res);
  // Counts what one metrics Append stored and refused; its refusal status.
  Status AccountMetrics(const AppendSummary& summary);
  void UpdateGauges();

  hive::Clock* clock_;
  LogIngest ingest_logs_;
  SignalsOptions options_;
  std::unique_ptr<SpanStore> spans_;
  std::unique_ptr<MetricsStore> metric_store_;
  std::unique_ptr<ServiceGraph> graph_;
  std::unique_ptr<EsSink> es_;  // null without es.url
  std::unique_ptr<Metrics> metrics_;
  std::atomic<int> inflight_{0};
};

}  // namespace hive::collector
