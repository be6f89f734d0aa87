#include "hive/collector/signals_service.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "hive/collector/metrics_store.h"
#include "hive/collector/otlp.h"
#include "hive/collector/prometheus_text.h"
#include "hive/collector/span_store.h"
#include "hive/core/json_writer.h"
#include "hive/core/text.h"
#include "ingest_scope.h"

namespace hive::collector {
namespace {

constexpr size_t kMaxIngestBytes = 32u << 20;
constexpr size_t kMaxTraceSpans = 10'000;
constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcPermissionDenied = 7;
constexpr int kGrpcResourceExhausted = 8;
constexpr int kGrpcUnavailable = 14;
// A full series cap does not empty within a second; a new series is
// admitted once another leaves the store (after the metrics retention).
constexpr std::string_view kSeriesCapRetryAfter = "60";

// An OTLP error: the status as a google.rpc.Status body, Retry-After when
// the sender should come back (after `retry_after` seconds for a 429).
void SetOtlpError(HttpResponse& res, const Status& s, std::string_view retry_after = "1") {
  int http = HttpStatusFor(s.code());
  int grpc = kGrpcInvalidArgument;
  if (s.code() == StatusCode::kResourceExhausted) {
    grpc = kGrpcResourceExhausted;
  } else if (s.code() == StatusCode::kPermissionDenied) {
    grpc = kGrpcPermissionDenied;
  } else if (http >= 500) {
    grpc = kGrpcUnavailable;
    http = 503;
  }
  res.SetJson(OtlpStatusJson(grpc, s.message()), http);
  if (http == 429) res.SetHeader("Retry-After", std::string(retry_after));
  if (http == 503) res.SetHeader("Retry-After", "1");
}

// RFC 3339, unix seconds (fractions allowed) or a duration before now.
Result<int64_t> ParseTimeMs(std::string_view name, std::string_view text, TimePoint now) {
  if (auto t = ParseRfc3339(text); t.ok()) return ToUnixNanos(*t) / 1'000'000;
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(seconds)) {
    return static_cast<int64_t>(seconds * 1000);
  }
  if (auto d = ParseDuration(text); d.ok()) return ToUnixNanos(now - *d) / 1'000'000;
  return Status::InvalidArgument("'" + std::string(name) +
                                 "' must be an RFC 3339 time, unix seconds or a duration like "
                                 "10m, got '" +
                                 std::string(text.substr(0, 60)) + "'");
}

Result<int64_t> ParseIntParam(std::string_view name, std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return Status::InvalidArgument("'" + std::string(name) +
                                   "' must be a non-negative integer (milliseconds)");
  }
  return v;
}

// The `window` query parameter of the graph and traffic routes: 1m to 24h.
Result<Duration> WindowParam(const HttpRequest& req, Duration fallback) {
  auto v = req.Query("window");
  if (!v || v->empty()) return fallback;
  Result<Duration> d = ParseDuration(*v);
  if (!d.ok() || *d < ServiceGraph::kMinWindow || *d > ServiceGraph::kMaxWindow) {
    return Status::InvalidArgument("'window' must be a duration from 1m to 24h, got '" +
                                   v->substr(0, 40) + "'");
  }
  return *d;
}

// A bucket start (whole seconds) as 2026-11-22T10:00:00Z.
std::string FormatBucketStart(TimePoint t) {
  std::string text = FormatRfc3339(t);
  return text.substr(0, text.find('.')) + "Z";
}

void TrafficFields(JsonWriter& w, const Traffic& t) {
  w.Field("calls", t.calls)
      .Field("errors", t.errors)
      .Field("request_rate", t.request_rate)
      .Field("error_rate", t.error_rate)
      .Field("p50_ms", t.p50_ms)
      .Field("p95_ms", t.p95_ms)
      .Field("p99_ms", t.p99_ms);
}

}  // namespace

struct SignalsService::Metrics {
  prometheus::Counter* spans_ingested = nullptr;
  prometheus::Counter* spans_rejected = nullptr;
  prometheus::Counter* samples_ingested = nullptr;
  prometheus::Counter* metric_bodies_rejected = nullptr;
  prometheus::Counter* ingests_throttled = nullptr;
  prometheus::Family<prometheus::Counter>* otlp_requests = nullptr;
  prometheus::Gauge* graph_edges = nullptr;
  prometheus::Gauge* graph_nodes = nullptr;
  prometheus::Gauge* graph_pending = nullptr;
  prometheus::Gauge* metric_series = nullptr;
  std::array<prometheus::Counter*, kSeriesRefusalCount> series_refused{};
};

std::vector<Span> SpansFromLogEvents(const std::vector<LogEvent>& events) {
  std::vector<Span> spans;
  for (const LogEvent& e : events) {
    if (std::optional<Span> span = SpanFromLogEvent(e)) spans.push_back(std::move(*span));
  }
  return spans;
}

SignalsService::SignalsService(hive::Clock* clock, LogIngest ingest_logs, SignalsOptions options)
    : clock_(clock), ingest_logs_(std::move(ingest_logs)), options_(std::move(options)) {}

SignalsService::~SignalsService() = default;

Result<std::unique_ptr<SignalsService>> SignalsService::Open(
    std::string dir, hive::Clock* clock, std::shared_ptr<prometheus::Registry> registry,
    LogIngest ingest_logs, SignalsOptions options) {
  if (clock == nullptr || !ingest_logs || !registry) {
    return Status::InvalidArgument("signals service needs a clock, a log ingest and a registry");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::FailedPrecondition("cannot create " + dir + ": " + ec.message());
  std::unique_ptr<SignalsService> s(
      new SignalsService(clock, std::move(ingest_logs), std::move(options)));
  SpanStoreOptions so;
  so.path = dir + "/spans.db";
  so.clock = clock;
  so.retention = s->options_.span_retention;
  auto spans = SpanStore::Open(so);
  if (!spans.ok()) return spans.status();
  s->spans_ = std::move(*spans);
  MetricsStoreOptions mo;
  mo.path = dir + "/metrics.db";
  mo.clock = clock;
  mo.retention = s->options_.metrics_retention;
  mo.limits = s->options_.metric_limits;
  auto metric_store = MetricsStore::Open(mo);
  if (!metric_store.ok()) return metric_store.status();
  s->metric_store_ = std::move(*metric_store);
  GraphOptions go;
  go.clock = clock;
  go.pairing_wait = s->options_.pairing_wait;
  go.thresholds = s->options_.thresholds;
  s->graph_ = std::make_unique<ServiceGraph>(go);
  if (!s->options_.es.url.empty()) {
    EsSinkOptions eo = s->options_.es;
    eo.metrics = registry;
    if (eo.dead_letter_path.empty()) eo.dead_letter_path = dir + "/es-dead-letters.ndjson";
    auto es = EsSink::Start(std::move(eo));
    if (!es.ok()) return es.status();
    s->es_ = std::move(*es);
  }
  HIVE_RETURN_IF_ERROR(s->spans_->ForEachSince(ToUnixNanos(clock->Now() - ServiceGraph::kMaxWindow),
                                               [&](Span span) { s->graph_->Add(span); }));

  auto m = std::make_unique<Metrics>();
  try {
    auto counter = [&](const char* name, const char* help) {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry).Add({});
    };
    auto gauge = [&](const char* name, const char* help) {
      return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add({});
    };
    m->spans_ingested = counter("hive_collector_spans_ingested_total", "New spans stored");
    m->spans_rejected = counter("hive_collector_spans_rejected_total", "Spans rejected as invalid");
    m->samples_ingested =
        counter("hive_collector_metric_samples_ingested_total", "Metric samples stored");
    m->metric_bodies_rejected = counter("hive_collector_metric_bodies_rejected_total",
                                        "Metric ingest bodies rejected as malformed");
    m->ingests_throttled = counter("hive_collector_ingests_throttled_total",
                                   "Span, metric and OTLP ingests answered 429 (overload)");
    m->otlp_requests = &prometheus::BuildCounter()
                            .Name("hive_collector_otlp_requests_total")
                            .Help("OTLP/HTTP export requests by signal and HTTP status")
                            .Register(*registry);
    m->graph_edges = gauge("hive_collector_graph_edges", "Edges in the dependency graph");
    m->graph_nodes =
        gauge("hive_collector_graph_nodes", "Services with server traffic in the graph");
    m->graph_pending =
        gauge("hive_collector_graph_pending_spans", "Spans waiting for their partner span");
    m->metric_series = gauge("hive_collector_metric_series", "Stored metric series");
    auto& refused = prometheus::BuildCounter()
                        .Name("hive_collector_metric_series_refused_total")
                        .Help("New metric series refused at ingest, by the limit they were past")
                        .Register(*registry);
    for (size_t i = 0; i < kSeriesRefusalCount; ++i) {
      m->series_refused[i] =
          &refused.Add({{"reason", std::string(SeriesRefusalName(static_cast<SeriesRefusal>(i)))}});
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("registering signals metrics: ") + e.what());
  }
  s->metrics_ = std::move(m);
  s->UpdateGauges();
  return s;
}

void SignalsService::UpdateGauges() {
  metrics_->graph_edges->Set(static_cast<double>(graph_->edge_count()));
  metrics_->graph_nodes->Set(static_cast<double>(graph_->node_count()));
  metrics_->graph_pending->Set(static_cast<double>(graph_->pending_count()));
  metrics_->metric_series->Set(static_cast<double>(metric_store_->series_count()));
}

void SignalsService::Mount(hive::HttpServer& server) {
  auto route = [&](const char* method, const char* path, RouteOptions o,
                   Status (SignalsService::*handler)(const HttpRequest&, HttpResponse&)) {
    server.Route(method, path, o,
                 AnswerErrors([this, handler](const HttpRequest& req, HttpResponse& res) {
                   return (this->*handler)(req, res);
                 }));
  };
  route("POST", "/api/v1/ingest/spans", {Access::kAgent, kMaxIngestBytes},
        &SignalsService::HandleIngestSpans);
  route("POST", "/api/v1/ingest/metrics", {Access::kAgent, kMaxIngestBytes},
        &SignalsService::HandleIngestMetrics);
  auto otlp = [&](const char* path, const char* signal, OtlpIngest ingest) {
    server.Route("POST", path, {Access::kAgent, kMaxIngestBytes},
                 [this, signal, ingest](const HttpRequest& req, HttpResponse& res) {
                   HandleOtlp(req, res, signal, ingest);
                 });
  };
  otlp("/v1/traces", "traces", &SignalsService::IngestOtlpTraces);
  otlp("/v1/logs", "logs", &SignalsService::IngestOtlpLogs);
  otlp("/v1/metrics", "metrics", &SignalsService::IngestOtlpMetrics);
  route("GET", "/api/v1/graph", {Access::kRead}, &SignalsService::HandleGraph);
  route("GET", "/api/v1/traffic", {Access::kRead}, &SignalsService::HandleTraffic);
  route("GET", "/api/v1/dependencies", {Access::kRead}, &SignalsService::HandleDependencies);
  route("GET", "/api/v1/metrics/query", {Access::kRead}, &SignalsService::HandleMetricsQuery);
  route("GET", "/api/v1/metrics/export", {Access::kRead}, &SignalsService::HandleMetricsExport);
}

Status SignalsService::AddSpans(const std::vector<Span>& spans) {
  if (spans.empty()) return Status::Ok();
  Result<std::vector<Span>> added = spans_->Append(spans);
  if (!added.ok()) return added.status();
  for (const Span& span : *added) graph_->Add(span);
  metrics_->spans_ingested->Increment(static_cast<double>(added->size()));
  UpdateGauges();
  return Status::Ok();
}

void SignalsService::ForwardLogs(const std::vector<LogEvent>& events) {
  if (es_ == nullptr || events.empty()) return;
  // Refusals are counted by the sink (hive_es_sink_refused_total).
  (void)es_->Enqueue(events);
}

Result<std::vector<Span>> SignalsService::SpansOfTrace(std::string_view trace_id) {
  return spans_->ByTrace(trace_id, kMaxTraceSpans);
}

bool SignalsService::BeginIngest(HttpResponse& res, bool otlp) {
  if (inflight_.fetch_add(1) >= options_.max_concurrent_ingests) {
    inflight_.fetch_sub(1);
    metrics_->ingests_throttled->Increment();
    Status busy = Status::ResourceExhausted("too many ingest requests at once; retry later");
    if (otlp) {
      SetOtlpError(res, busy);
    } else {
      res.SetError(busy);
      res.SetHeader("Retry-After", "1");
    }
    return false;
  }
  return true;
}

Status SignalsService::HandleIngestSpans(const HttpRequest& req, HttpResponse& res) {
  if (!BeginIngest(res, false)) return Status::Ok();  // answered 429
  Status s = IngestSpans(req, res);
  EndIngest();
  return s;
}

Status SignalsService::IngestSpans(const HttpRequest& req, HttpResponse& res) {
  ParsedSpans parsed = ParseNdjsonSpans(req.body, clock_->Now());
  metrics_->spans_rejected->Increment(static_cast<double>(parsed.rejected));
  HIVE_RETURN_IF_ERROR(ScopeEvents(req.principal, parsed.spans));
  if (parsed.spans.empty()) {
    std::string message = parsed.rejected == 0 ? "the body holds no spans"
                                               : "no valid span in the batch (" +
                                                     std::to_string(parsed.rejected) + " rejected)";
    if (!parsed.errors.empty()) {
      message +=
          ": line " + std::to_string(parsed.errors[0].line) + ": " + parsed.errors[0].message;
    }
    return Status::InvalidArgument(message);
  }
  HIVE_RETURN_IF_ERROR(AddSpans(parsed.spans));
  JsonWriter w;
  w.BeginObject().Field("accepted", parsed.spans.size()).Field("rejected", parsed.rejected);
  LineErrorsField(w, parsed.errors);
  res.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status SignalsService::AccountMetrics(const AppendSummary& summary) {
  metrics_->samples_ingested->Increment(static_cast<double>(summary.stored));
  for (size_t i = 0; i < kSeriesRefusalCount; ++i) {
    metrics_->series_refused[i]->Increment(static_cast<double>(summary.refused[i]));
  }
  return summary.refusal;
}

Status SignalsService::HandleIngestMetrics(const HttpRequest& req, HttpResponse& res) {
  if (!BeginIngest(res, false)) return Status::Ok();  // answered 429
  Status s = IngestMetrics(req, res);
  UpdateGauges();
  EndIngest();
  return s;
}

Status SignalsService::IngestMetrics(const HttpRequest& req, HttpResponse& res) {
  std::string service = req.Query("service").value_or("");
  std::string instance = req.Query("instance").value_or("");
  HIVE_RETURN_IF_ERROR(ScopeService(req.principal, service));
  Result<ParsedExposition> parsed = ParsePrometheusText(req.body);
  Result<AppendSummary> stored = parsed.ok() ? metric_store_->Append(service, instance, *parsed)
                                             : Result<AppendSummary>(parsed.status());
  if (!stored.ok()) {
    if (stored.status().IsInvalidArgument()) metrics_->metric_bodies_rejected->Increment();
    return stored.status();
  }
  if (Status refusal = AccountMetrics(*stored); !refusal.ok()) {
    if (refusal.code() == StatusCode::kResourceExhausted) {
      res.SetHeader("Retry-After", std::string(kSeriesCapRetryAfter));
    }
    return refusal;
  }
  res.SetJson(JsonWriter().BeginObject().Field("accepted", stored->stored).EndObject().Take());
  return Status::Ok();
}

void SignalsService::HandleOtlp(const HttpRequest& req, HttpResponse& res, const char* signal,
                                OtlpIngest ingest) {
  // OTLP answers its errors in its own shape (google.rpc.Status).
  if (req.HeaderValue("Content-Type").value_or("").starts_with("application/x-protobuf")) {
    res.SetJson(OtlpStatusJson(kGrpcInvalidArgument,
                               "only the JSON encoding is supported; send application/json"),
                415);
  } else if (BeginIngest(res, true)) {
    Result<std::string> answer = (this->*ingest)(req.body, req.principal);
    if (answer.ok()) {
      res.SetJson(std::move(*answer));
    } else {
      // An ingest itself answers 429 only for a full metric series cap.
      SetOtlpError(res, answer.status(), kSeriesCapRetryAfter);
    }
    EndIngest();
  }
  metrics_->otlp_requests->Add({{"signal", signal}, {"code", std::to_string(res.status)}})
      .Increment();
}

Result<std::string> SignalsService::IngestOtlpTraces(std::string_view body, const Principal& who) {
  Result<OtlpSpans> parsed = ParseOtlpTraces(body);
  if (!parsed.ok()) return parsed.status();
  HIVE_RETURN_IF_ERROR(ScopeEvents(who, parsed->spans));
  metrics_->spans_rejected->Increment(static_cast<double>(parsed->rejected));
  HIVE_RETURN_IF_ERROR(AddSpans(parsed->spans));
  return OtlpResponseJson("rejectedSpans", parsed->rejected, parsed->error_message);
}

Result<std::string> SignalsService::IngestOtlpLogs(std::string_view body, const Principal& who) {
  Result<OtlpLogs> parsed = ParseOtlpLogs(body, clock_->Now());
  if (!parsed.ok()) return parsed.status();
  HIVE_RETURN_IF_ERROR(ScopeEvents(who, parsed->events));
  if (!parsed->events.empty()) {
    LogBatch batch;
    batch.events = std::move(parsed->events);
    batch.rejected = parsed->rejected;
    Result<AppendResult> appended = ingest_logs_(std::move(batch));
    if (!appended.ok()) return appended.status();
  }
  return OtlpResponseJson("rejectedLogRecords", parsed->rejected, parsed->error_message);
}

Result<std::string> SignalsService::IngestOtlpMetrics(std::string_view body, const Principal& who) {
  Result<OtlpMetrics> parsed = ParseOtlpMetrics(body);
  if (!parsed.ok()) return parsed.status();
  HIVE_RETURN_IF_ERROR(ScopeEvents(who, parsed->resources));
  // Every resource is stored before a refusal is answered, so that the
  // series already stored keep being updated whatever the others carry.
  Status refusal;
  for (const OtlpResourceMetrics& r : parsed->resources) {
    Result<AppendSummary> stored = metric_store_->Append(r.service, r.instance, r.exposition);
    if (!stored.ok()) return stored.status();
    if (Status s = AccountMetrics(*stored); refusal.ok()) refusal = s;
  }
  UpdateGauges();
  if (!refusal.ok()) return refusal;
  return OtlpResponseJson("rejectedDataPoints", parsed->rejected, parsed->error_message);
}

Status SignalsService::HandleGraph(const HttpRequest& req, HttpResponse& res) {
  Result<Duration> window = WindowParam(req, std::chrono::minutes(5));
  if (!window.ok()) return window.status();
  std::map<std::string, RegistryHealth> registry;
  if (options_.registry_health) registry = options_.registry_health();
  GraphSnapshot snap = graph_->Snapshot(*window, registry);
  UpdateGauges();
  JsonWriter w;
  w.BeginObject()
      .Field("window", FormatDuration(snap.window))
      .Field("window_seconds",
             std::chrono::duration_cast<std::chrono::seconds>(snap.window).count());
  w.Key("thresholds")
      .BeginObject()
      .Field("degraded_error_rate", options_.thresholds.degraded_error_rate)
      .Field("failing_error_rate", options_.thresholds.failing_error_rate)
      .EndObject();
  w.Key("nodes").BeginArray();
  for (const GraphNode& n : snap.nodes) {
    w.BeginObject().Field("id", n.service);
    TrafficFields(w, n.traffic);
    w.Field("health", HealthName(n.health)).Field("uninstrumented", n.uninstrumented);
    if (n.registry) {
      w.Key("instances")
          .BeginObject()
          .Field("total", n.registry->instances)
          .Field("passing", n.registry->passing)
          .Field("warning", n.registry->warning)
          .Field("critical", n.registry->critical)
          .EndObject();
    }
    w.EndObject();
  }
  w.EndArray().Key("edges").BeginArray();
  for (const GraphEdge& e : snap.edges) {
    w.BeginObject().Field("source", e.source).Field("target", e.target);
    TrafficFields(w, e.traffic);
    w.Field("health", HealthName(e.health)).EndObject();
  }
  res.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status SignalsService::HandleTraffic(const HttpRequest& req, HttpResponse& res) {
  std::string service = req.Query("service").value_or("");
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  Result<Duration> window = WindowParam(req, std::chrono::hours(1));
  if (!window.ok()) return window.status();
  TrafficSeries series = graph_->ServiceTraffic(service, *window);
  JsonWriter w;
  w.BeginObject()
      .Field("service", service)
      .Field("window", FormatDuration(series.window))
      .Field("step_seconds", std::chrono::duration_cast<std::chrono::seconds>(series.step).count())
      .Key("points")
      .BeginArray();
  for (const auto& point : series.points) {
    w.BeginObject().Field("t", FormatBucketStart(point.start));
    TrafficFields(w, point.traffic);
    w.EndObject();
  }
  res.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status SignalsService::HandleDependencies(const HttpRequest& req, HttpResponse& res) {
  int64_t end_ms = ToUnixNanos(clock_->Now()) / 1'000'000;
  int64_t lookback_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(ServiceGraph::kMaxWindow).count();
  if (auto v = req.Query("endTs"); v && !v->empty()) {
    Result<int64_t> t = ParseIntParam("endTs", *v);
    if (!t.ok()) return t.status();
    end_ms = *t;
  }
  if (auto v = req.Query("lookback"); v && !v->empty()) {
    Result<int64_t> t = ParseIntParam("lookback", *v);
    if (!t.ok()) return t.status();
    if (*t > lookback_ms) {
      return Status::InvalidArgument("'lookback' is at most 86400000 ms (24h)");
    }
    lookback_ms = *t;
  }
  std::vector<DependencyLink> links = graph_->Dependencies(FromUnixNanos(end_ms * 1'000'000),
                                                           std::chrono::milliseconds(lookback_ms));
  JsonWriter w;
  w.BeginObject().Key("data").BeginArray();
  for (const DependencyLink& link : links) {
    w.BeginObject()
        .Field("parent", link.parent)
        .Field("child", link.child)
        .Field("callCount", link.call_count)
        .Field("errorCount", link.error_count)
        .EndObject();
  }
  res.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

// The query of GET /api/v1/metrics/query from its parameters.
Result<MetricsQuery> SignalsService::ReadMetricsQuery(const HttpRequest& req) {
  TimePoint now = clock_->Now();
  MetricsQuery q;
  q.name = req.Query("name").value_or("");
  for (const auto& [key, value] : req.query) {
    if (key != "match[]" && key != "match") continue;
    Result<std::vector<LabelMatcher>> m = ParseLabelMatchers(value);
    if (!m.ok()) return m.status();
    q.matchers.insert(q.matchers.end(), m->begin(), m->end());
  }
  q.end_ms = ToUnixNanos(now) / 1'000'000;
  if (auto v = req.Query("end"); v && !v->empty()) {
    Result<int64_t> t = ParseTimeMs("end", *v, now);
    if (!t.ok()) return t.status();
    q.end_ms = *t;
  }
  q.start_ms = q.end_ms - 3'600'000;
  if (auto v = req.Query("start"); v && !v->empty()) {
    Result<int64_t> t = ParseTimeMs("start", *v, now);
    if (!t.ok()) return t.status();
    q.start_ms = *t;
  }
  auto duration_ms = [&](const char* name, int64_t* out) -> Status {
    auto v = req.Query(name);
    if (!v || v->empty()) return Status::Ok();
    Result<Duration> d = ParseDuration(*v);
    if (!d.ok() || *d <= Duration::zero()) {
      return Status::InvalidArgument(std::string("'") + name +
                                     "' must be a positive duration like 15s");
    }
    *out = std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
    if (*out <= 0) return Status::InvalidArgument(std::string("'") + name + "' is under 1ms");
    return Status::Ok();
  };
  HIVE_RETURN_IF_ERROR(duration_ms("step", &q.step_ms));
  HIVE_RETURN_IF_ERROR(duration_ms("range", &q.range_ms));
  Result<bool> rate = req.BoolQuery("rate");
  if (!rate.ok()) return rate.status();
  q.rate = *rate;
  return q;
}

Status SignalsService::HandleMetricsQuery(const HttpRequest& req, HttpResponse& res) {
  Result<MetricsQuery> q = ReadMetricsQuery(req);
  if (!q.ok()) return q.status();
  Result<std::vector<QueriedSeries>> result = metric_store_->Query(*q);
  if (!result.ok()) return result.status();
  JsonWriter w;
  w.BeginObject().Field("name", q->name).Key("series").BeginArray();
  for (const QueriedSeries& series : *result) {
    w.BeginObject().Field("name", series.name).Key("labels").BeginObject();
    for (const auto& [label, value] : series.labels) w.Field(label, value);
    w.EndObject().Key("points").BeginArray();
    for (const auto& point : series.points) {
      w.BeginArray().Int(point.ts_ms).Double(point.value).EndArray();
    }
    w.EndArray().EndObject();
  }
  res.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status SignalsService::HandleMetricsExport(const HttpRequest&, HttpResponse& res) {
  res.status = 200;
  res.body = metric_store_->Export();
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return Status::Ok();
}

}  // namespace hive::collector
