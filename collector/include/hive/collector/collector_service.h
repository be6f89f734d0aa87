// CollectorService: the collector's HTTP routes over its LogStore.
//
//   POST /api/v1/ingest/logs     NDJSON events (agent role, body <= 32 MiB);
//                                answers after the accepted events are durable;
//                                429 + Retry-After past the ingests in flight
//                                that every ingest route shares (signals_service.h)
//   GET  /api/v1/logs            search, newest first, paged by cursor
//   GET  /api/v1/logs/tail       live tail (Server-Sent Events), same filters
//   GET  /api/v1/traces/{id}     every event and span of one trace id, oldest first
//   spans, graph, metrics, OTLP  SignalsService (signals_service.h), mounted here too
// Shapes and errors as in docs/API.md "Collector".
//
// Thread-safe: handlers run on the HttpServer's threads; the log store runs
// its writer, sealer and retention threads (segment_log_store.h) and, with an
// Elasticsearch URL, the sink its sender. The service must outlive the server
// it is mounted on, or that server must be stopped first.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "hive/collector/log_store.h"
#include "hive/collector/signals_service.h"
#include "hive/core/clock.h"
#include "hive/core/env.h"
#include "hive/core/http.h"
#include "hive/core/status.h"

namespace prometheus {
class Registry;
}

namespace hive::collector {

// Largest ingest body, after gzip decompression.
inline constexpr size_t kMaxIngestBodyBytes = 32u << 20;
// Most events one GET /api/v1/traces/{id} returns.
inline constexpr size_t kMaxTraceEvents = 10'000;

struct CollectorOptions {
  std::string data_dir;                           // the store lives in <data_dir>/collector/
  hive::Clock* clock = &hive::Clock::System();    // stamps events without ts
  std::shared_ptr<prometheus::Registry> metrics;  // null: a private registry
  SignalsOptions signals;  // spans, graph, metrics, OTLP: in <data_dir>/collector/signals/
  // Log store (segment_log_store.h): block cut size and retention.
  uint64_t segment_bytes = 4u << 20;
  std::chrono::nanoseconds log_max_age = std::chrono::hours(24 * 7);  // 0: keep forever
  uint64_t log_max_bytes = 10ull << 30;                               // 0: no size limit
  hive::Env* env = nullptr;  // the log store's file operations (tests); null: the real ones
};

class CollectorService {
 public:
  // Opens (or creates) the store. FailedPrecondition with the path when the
  // data directory cannot be written or is in use by another process.
  static Result<std::unique_ptr<CollectorService>> Open(CollectorOptions options);
  ~CollectorService();
  CollectorService(const CollectorService&) = delete;
  CollectorService& operator=(const CollectorService&) = delete;

  // Registers the routes, and a readiness check: /readyz answers 503 once
  // a disk failure has stopped the log store. REQUIRES: before server.Listen().
  void Mount(hive::HttpServer& server);

  // Drains the writer (everything acknowledged is on disk) and joins it;
  // later ingests answer 503. Idempotent; the destructor calls it.
  void Stop();

 private:
  struct Metrics;
  CollectorService(CollectorOptions options, std::unique_ptr<LogStore> store);
  Status HandleIngest(const HttpRequest& req, HttpResponse& res);
  Status IngestNdjson(const HttpRequest& req, HttpResponse& res);
  // The one path of log events, native or OTLP (signals_service.h's
  // LogIngest): spans from the log lines, the durable append, then the
  // spans into the span store and the graph, then the Elasticsearch sink.
  Result<AppendResult> IngestLogs(LogBatch batch);
  Status HandleLogs(const HttpRequest& req, HttpResponse& res);
  Status HandleTrace(const HttpRequest& req, HttpResponse& res);
  Status HandleTail(const HttpRequest& req, HttpResponse& res);

  CollectorOptions options_;
  std::unique_ptr<LogStore> store_;
  std::unique_ptr<SignalsService> signals_;  // uses store_; declared after it
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace hive::collector
