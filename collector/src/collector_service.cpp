#include "hive/collector/collector_service.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <charconv>

#include "hive/collector/ndjson.h"
#include "hive/collector/segment_log_store.h"
#include "hive/core/text.h"

namespace hive::collector {
namespace {

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 1000;
constexpr size_t kLineErrorsInMessage = 3;

// RFC 3339, or a duration meaning that long before now ("10m").
Result<int64_t> ParseTimeParam(std::string_view name, std::string_view text, TimePoint now) {
  if (auto t = ParseRfc3339(text); t.ok()) return ToUnixNanos(*t);
  if (auto d = ParseDuration(text); d.ok()) return ToUnixNanos(now - *d);
  return Status::InvalidArgument("'" + std::string(name) + "' must be an RFC 3339 time like " +
                                 "2026-11-22T10:00:00Z or a duration like 10m, got '" +
                                 std::string(text.substr(0, 60)) + "'");
}

Result<LogFilter> ParseLogFilter(const HttpRequest& req, TimePoint now) {
  LogFilter f;
  if (auto v = req.Query("trace_id"); v && !v->empty()) {
    if (v->size() > kMaxIdBytes) {
      return Status::InvalidArgument("'trace_id' is longer than " + std::to_string(kMaxIdBytes) +
                                     " characters");
    }
    f.trace_id = NormalizeTraceId(*v);
  }
  if (auto v = req.Query("service"); v && !v->empty()) {
    HIVE_RETURN_IF_ERROR(ValidateName(*v, "service"));
    f.service = *v;
  }
  if (auto v = req.Query("instance"); v && !v->empty()) {
    HIVE_RETURN_IF_ERROR(ValidateName(*v, "instance"));
    f.instance = *v;
  }
  if (auto v = req.Query("level"); v && !v->empty()) {
    std::optional<LogLevel> level = ParseLogLevel(*v);
    if (!level) {
      return Status::InvalidArgument(
          "'level' must be one of trace|debug|info|warn|error|fatal, got '" + v->substr(0, 60) +
          "'");
    }
    f.min_level = *level;
  }
  if (auto v = req.Query("q")) f.message_contains = *v;
  if (auto v = req.Query("since"); v && !v->empty()) {
    auto t = ParseTimeParam("since", *v, now);
    if (!t.ok()) return t.status();
    f.since_ns = *t;
  }
  if (auto v = req.Query("until"); v && !v->empty()) {
    auto t = ParseTimeParam("until", *v, now);
    if (!t.ok()) return t.status();
    f.until_ns = *t;
  }
  if (f.since_ns && f.until_ns && *f.since_ns >= *f.until_ns) {
    return Status::InvalidArgument("'since' must be before 'until'");
  }
  f.limit = kDefaultLimit;
  if (auto v = req.Query("limit"); v && !v->empty()) {
    size_t limit = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (ec != std::errc() || end != v->data() + v->size() || limit < 1 || limit > kMaxLimit) {
      return Status::InvalidArgument("'limit' must be an integer from 1 to " +
                                     std::to_string(kMaxLimit) + ", got '" + v->substr(0, 30) +
                                     "'");
    }
    f.limit = limit;
  }
  return f;
}

void AppendEvents(std::string& out, const std::vector<LogEvent>& events) {
  out += '[';
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) out += ',';
    AppendEventJson(out, events[i]);
  }
  out += ']';
}

}  // namespace

struct CollectorService::Metrics {
  prometheus::Counter* ingested = nullptr;
  prometheus::Counter* rejected = nullptr;
  prometheus::Counter* bytes = nullptr;
  prometheus::Counter* duplicates = nullptr;
};

Result<std::unique_ptr<CollectorService>> CollectorService::Open(CollectorOptions options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("collector data_dir is empty");
  if (options.clock == nullptr) return Status::InvalidArgument("collector clock is null");
  if (!options.metrics) options.metrics = std::make_shared<prometheus::Registry>();
  auto metrics = std::make_unique<Metrics>();
  try {
    auto counter = [&](const char* name, const char* help) {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(*options.metrics).Add({});
    };
    metrics->ingested = counter("hive_collector_events_ingested_total", "Log events stored");
    metrics->rejected =
        counter("hive_collector_events_rejected_total", "Log lines rejected as invalid");
    metrics->bytes =
        counter("hive_collector_ingest_bytes_total", "Ingest body bytes, after decompression");
    metrics->duplicates = counter("hive_collector_batches_duplicate_total",
                                  "Ingest batches answered from an earlier batch id");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("registering collector metrics: ") + e.what());
  }
  SegmentLogStoreOptions store_options;
  store_options.dir = options.data_dir + "/collector";
  store_options.segment_bytes = options.segment_bytes;
  store_options.metrics = options.metrics;
  auto store = OpenSegmentLogStore(std::move(store_options));
  if (!store.ok()) return store.status();
  std::unique_ptr<CollectorService> service(
      new CollectorService(std::move(options), std::move(*store)));
  service->metrics_ = std::move(metrics);
  return service;
}

CollectorService::CollectorService(CollectorOptions options, std::unique_ptr<LogStore> store)
    : options_(std::move(options)), store_(std::move(store)) {}

CollectorService::~CollectorService() { Stop(); }

void CollectorService::Stop() { store_->Close(); }

void CollectorService::Mount(hive::HttpServer& server) {
  server.Route("POST", "/api/v1/ingest/logs", {Access::kAgent, kMaxIngestBodyBytes},
               [this](const HttpRequest& req, HttpResponse& res) { HandleIngest(req, res); });
  server.Route("GET", "/api/v1/logs", {Access::kRead},
               [this](const HttpRequest& req, HttpResponse& res) { HandleLogs(req, res); });
  server.Route("GET", "/api/v1/traces/{trace_id}", {Access::kRead},
               [this](const HttpRequest& req, HttpResponse& res) { HandleTrace(req, res); });
}

void CollectorService::HandleIngest(const HttpRequest& req, HttpResponse& res) {
  std::string batch_id;
  if (auto v = req.HeaderValue("X-Hive-Batch-Id")) {
    batch_id = std::string(Trim(*v));
    if (batch_id.size() > kMaxIdBytes) {
      res.SetError(Status::InvalidArgument("X-Hive-Batch-Id is longer than " +
                                           std::to_string(kMaxIdBytes) + " characters"));
      return;
    }
  }
  metrics_->bytes->Increment(static_cast<double>(req.body.size()));
  ParsedLogs parsed = ParseNdjsonLogs(req.body, options_.clock->Now());
  if (parsed.events.empty()) {
    metrics_->rejected->Increment(static_cast<double>(parsed.rejected));
    std::string message = parsed.rejected == 0 ? "the body holds no log events"
                                               : "no valid log event in the batch (" +
                                                     std::to_string(parsed.rejected) + " rejected)";
    for (size_t i = 0; i < parsed.errors.size() && i < kLineErrorsInMessage; ++i) {
      message += (i == 0 ? ": " : "; ");
      message += "line " + std::to_string(parsed.errors[i].line) + ": " + parsed.errors[i].message;
    }
    res.SetError(Status::InvalidArgument(message));
    return;
  }
  LogBatch batch;
  batch.batch_id = std::move(batch_id);
  batch.events = std::move(parsed.events);
  batch.rejected = parsed.rejected;
  Result<AppendResult> appended = store_->Append(std::move(batch));
  if (!appended.ok()) {
    res.SetError(appended.status());
    return;
  }
  if (appended->duplicate) {
    metrics_->duplicates->Increment();
  } else {
    metrics_->ingested->Increment(static_cast<double>(appended->accepted));
    metrics_->rejected->Increment(static_cast<double>(appended->rejected));
  }
  std::string out = "{\"accepted\":" + std::to_string(appended->accepted) +
                    ",\"rejected\":" + std::to_string(appended->rejected) + ",\"errors\":[";
  for (size_t i = 0; i < parsed.errors.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"line\":" + std::to_string(parsed.errors[i].line) + ",\"message\":";
    AppendJsonString(out, parsed.errors[i].message);
    out += '}';
  }
  out += ']';
  if (appended->duplicate) out += ",\"duplicate\":true";
  out += '}';
  res.SetJson(std::move(out));
}

void CollectorService::HandleLogs(const HttpRequest& req, HttpResponse& res) {
  Result<LogFilter> filter = ParseLogFilter(req, options_.clock->Now());
  if (!filter.ok()) {
    res.SetError(filter.status());
    return;
  }
  Result<std::vector<LogEvent>> events = store_->Query(*filter);
  if (!events.ok()) {
    res.SetError(events.status());
    return;
  }
  std::string out = "{\"events\":";
  AppendEvents(out, *events);
  out += '}';
  res.SetJson(std::move(out));
}

void CollectorService::HandleTrace(const HttpRequest& req, HttpResponse& res) {
  std::string_view raw = req.PathParam("trace_id");
  if (raw.size() > kMaxIdBytes) {
    res.SetError(Status::InvalidArgument("trace id is longer than " + std::to_string(kMaxIdBytes) +
                                         " characters"));
    return;
  }
  LogFilter filter;
  filter.trace_id = NormalizeTraceId(raw);
  filter.limit = kMaxTraceEvents;
  filter.newest_first = false;
  Result<std::vector<LogEvent>> events = store_->Query(filter);
  if (!events.ok()) {
    res.SetError(events.status());
    return;
  }
  if (events->empty()) {
    res.SetError(Status::NotFound("no events with trace id '" + filter.trace_id + "'"));
    return;
  }
  std::string out = "{\"trace_id\":";
  AppendJsonString(out, filter.trace_id);
  out += ",\"events\":";
  AppendEvents(out, *events);
  out += '}';
  res.SetJson(std::move(out));
}

}  // namespace hive::collector
