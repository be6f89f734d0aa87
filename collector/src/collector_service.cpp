#include "hive/collector/collector_service.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <charconv>
#include <chrono>

#include "hive/collector/ndjson.h"
#include "hive/collector/segment_log_store.h"
#include "hive/core/json_writer.h"
#include "hive/core/text.h"
#include "ingest_scope.h"

namespace hive::collector {
namespace {

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 1000;
constexpr size_t kLineErrorsInMessage = 3;
// A live tail waits this long for new events per call, then checks the client.
constexpr auto kTailKeepAlive = std::chrono::seconds(15);
constexpr size_t kTailBatch = 1000;

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
  if (auto v = req.Query("re")) {
    if (v->size() > kMaxRegexBytes) {
      return Status::InvalidArgument("'re' is longer than " + std::to_string(kMaxRegexBytes) +
                                     " characters");
    }
    f.message_regex = *v;
  }
  if (auto v = req.Query("cursor")) f.cursor = *v;
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

// Log events and spans are rendered by their own writers (log_event.h,
// span.h), straight into the answer.
template <typename T, typename Append>
void RenderedArray(JsonWriter& w, std::string_view name, const std::vector<T>& items,
                   Append append) {
  w.Key(name).BeginArray();
  for (const T& item : items) w.RawWith([&](std::string& out) { append(out, item); });
  w.EndArray();
}

void EventsField(JsonWriter& w, const std::vector<LogEvent>& events) {
  RenderedArray(w, "events", events,
                [](std::string& out, const LogEvent& e) { AppendEventJson(out, e); });
}

}  // namespace

struct CollectorService::Metrics {
  prometheus::Counter* ingested = nullptr;
  prometheus::Counter* rejected = nullptr;
  prometheus::Counter* bytes = nullptr;
  prometheus::Counter* duplicates = nullptr;
  prometheus::Histogram* ingest_seconds = nullptr;
  prometheus::Histogram* search_seconds = nullptr;
  prometheus::Histogram* trace_seconds = nullptr;
};

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

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
    const prometheus::Histogram::BucketBoundaries buckets{
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    metrics->ingest_seconds = &prometheus::BuildHistogram()
                                   .Name("hive_collector_ingest_seconds")
                                   .Help("Log ingest request time: parse, write, fdatasync")
                                   .Register(*options.metrics)
                                   .Add({}, buckets);
    auto& query_family = prometheus::BuildHistogram()
                             .Name("hive_collector_query_seconds")
                             .Help("Log store query time by kind (search, trace)")
                             .Register(*options.metrics);
    metrics->search_seconds = &query_family.Add({{"kind", "search"}}, buckets);
    metrics->trace_seconds = &query_family.Add({{"kind", "trace"}}, buckets);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("registering collector metrics: ") + e.what());
  }
  SegmentLogStoreOptions store_options;
  store_options.dir = options.data_dir + "/collector";
  store_options.segment_bytes = options.segment_bytes;
  store_options.max_age = options.log_max_age;
  store_options.max_bytes = options.log_max_bytes;
  store_options.metrics = options.metrics;
  store_options.env = options.env;
  auto store = OpenSegmentLogStore(std::move(store_options));
  if (!store.ok()) return store.status();
  std::unique_ptr<CollectorService> service(
      new CollectorService(std::move(options), std::move(*store)));
  service->metrics_ = std::move(metrics);
  CollectorService* self = service.get();
  auto signals = SignalsService::Open(
      service->options_.data_dir + "/collector/signals", service->options_.clock,
      service->options_.metrics,
      [self](LogBatch batch) { return self->IngestLogs(std::move(batch)); },
      service->options_.signals);
  if (!signals.ok()) return signals.status();
  service->signals_ = std::move(*signals);
  return service;
}

CollectorService::CollectorService(CollectorOptions options, std::unique_ptr<LogStore> store)
    : options_(std::move(options)), store_(std::move(store)) {}

CollectorService::~CollectorService() { Stop(); }

void CollectorService::Stop() { store_->Close(); }

void CollectorService::Mount(hive::HttpServer& server) {
  auto route = [this](Status (CollectorService::*handler)(const HttpRequest&, HttpResponse&)) {
    return AnswerErrors([this, handler](const HttpRequest& req, HttpResponse& res) {
      return (this->*handler)(req, res);
    });
  };
  server.Route("POST", "/api/v1/ingest/logs", {Access::kAgent, kMaxIngestBodyBytes},
               route(&CollectorService::HandleIngest));
  server.Route("GET", "/api/v1/logs", {Access::kRead}, route(&CollectorService::HandleLogs));
  server.Route("GET", "/api/v1/logs/tail", {Access::kRead}, route(&CollectorService::HandleTail));
  server.Route("GET", "/api/v1/traces/{trace_id}", {Access::kRead},
               route(&CollectorService::HandleTrace));
  signals_->Mount(server);
  // A store stopped by a disk failure takes no more logs: not ready.
  server.AddReadinessCheck([this] { return store_->Health(); });
}

Result<AppendResult> CollectorService::IngestLogs(LogBatch batch) {
  // Span lines feed the span store and the graph (duplicates are skipped there).
  std::vector<Span> spans = SpansFromLogEvents(batch.events);
  // A copy only when an Elasticsearch sink is configured.
  std::vector<LogEvent> forward = signals_->forwarding() ? batch.events : std::vector<LogEvent>();
  Result<AppendResult> appended = store_->Append(std::move(batch));
  if (!appended.ok()) return appended.status();
  HIVE_RETURN_IF_ERROR(signals_->AddSpans(spans));
  if (appended->duplicate) {
    metrics_->duplicates->Increment();
  } else {
    metrics_->ingested->Increment(static_cast<double>(appended->accepted));
    metrics_->rejected->Increment(static_cast<double>(appended->rejected));
    signals_->ForwardLogs(forward);
  }
  return appended;
}

Status CollectorService::HandleIngest(const HttpRequest& req, HttpResponse& res) {
  if (!signals_->BeginIngest(res, /*otlp=*/false)) return Status::Ok();  // answered 429
  Status s = IngestNdjson(req, res);
  signals_->EndIngest();
  return s;
}

Status CollectorService::IngestNdjson(const HttpRequest& req, HttpResponse& res) {
  std::string batch_id;
  if (auto v = req.HeaderValue("X-Hive-Batch-Id")) {
    batch_id = std::string(Trim(*v));
    if (batch_id.size() > kMaxIdBytes) {
      return Status::InvalidArgument("X-Hive-Batch-Id is longer than " +
                                     std::to_string(kMaxIdBytes) + " characters");
    }
  }
  const auto start = std::chrono::steady_clock::now();
  metrics_->bytes->Increment(static_cast<double>(req.body.size()));
  ParsedLogs parsed = ParseNdjsonLogs(req.body, options_.clock->Now());
  HIVE_RETURN_IF_ERROR(ScopeEvents(req.principal, parsed.events));
  if (parsed.events.empty()) {
    metrics_->rejected->Increment(static_cast<double>(parsed.rejected));
    std::string message = parsed.rejected == 0 ? "the body holds no log events"
                                               : "no valid log event in the batch (" +
                                                     std::to_string(parsed.rejected) + " rejected)";
    for (size_t i = 0; i < parsed.errors.size() && i < kLineErrorsInMessage; ++i) {
      message += (i == 0 ? ": " : "; ");
      message += "line " + std::to_string(parsed.errors[i].line) + ": " + parsed.errors[i].message;
    }
    return Status::InvalidArgument(message);
  }
  LogBatch batch;
  batch.batch_id = std::move(batch_id);
  batch.events = std::move(parsed.events);
  batch.rejected = parsed.rejected;
  Result<AppendResult> appended = IngestLogs(std::move(batch));
  if (!appended.ok()) return appended.status();
  JsonWriter w;
  w.BeginObject().Field("accepted", appended->accepted).Field("rejected", appended->rejected);
  LineErrorsField(w, parsed.errors);
  if (appended->duplicate) w.Field("duplicate", true);
  res.SetJson(w.EndObject().Take());
  metrics_->ingest_seconds->Observe(SecondsSince(start));
  return Status::Ok();
}

Status CollectorService::HandleLogs(const HttpRequest& req, HttpResponse& res) {
  Result<LogFilter> filter = ParseLogFilter(req, options_.clock->Now());
  if (!filter.ok()) return filter.status();
  const auto start = std::chrono::steady_clock::now();
  Result<LogPage> page = store_->Search(*filter);
  metrics_->search_seconds->Observe(SecondsSince(start));
  if (!page.ok()) return page.status();
  JsonWriter w;
  w.BeginObject();
  EventsField(w, page->events);
  if (!page->next.empty()) w.Field("next", page->next);
  res.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status CollectorService::HandleTail(const HttpRequest& req, HttpResponse& res) {
  Result<LogFilter> parsed = ParseLogFilter(req, options_.clock->Now());
  if (!parsed.ok()) return parsed.status();
  // Validates the filter (a bad regex is a 400 now, not a closed stream).
  LogFilter probe = *parsed;
  probe.limit = 1;
  if (Result<LogPage> p = store_->Search(probe); !p.ok()) return p.status();
  // From now on: the highest sequence number already visible.
  Result<uint64_t> now_seq = store_->LastSequence();
  if (!now_seq.ok()) return now_seq.status();
  struct TailState {
    LogFilter filter;
    std::chrono::steady_clock::time_point last_write;
  };
  auto state = std::make_shared<TailState>();
  state->filter = std::move(*parsed);
  state->filter.after_seq = *now_seq;
  state->filter.limit = kTailBatch;
  state->last_write = std::chrono::steady_clock::now();
  res.status = 200;
  res.content_type = "text/event-stream";
  res.SetHeader("Cache-Control", "no-cache");
  LogStore* store = store_.get();
  auto wake_on = [store](Notifier::Listener wake) {
    return store->SubscribeAppends(std::move(wake));
  };
  auto pump = [store, state](StreamSink& sink) {
    Result<uint64_t> latest = store->LastSequence();
    if (!latest.ok()) return false;  // the store closed
    std::string out;
    if (*latest > *state->filter.after_seq) {
      Result<LogPage> page = store->Search(state->filter);
      if (!page.ok()) return false;
      for (const LogEvent& e : page->events) {
        out += "data: ";
        AppendEventJson(out, e);
        out += "\n\n";
      }
      state->filter.after_seq = page->last_seq;
    }
    const auto now = std::chrono::steady_clock::now();
    if (out.empty() && now - state->last_write >= kTailKeepAlive / 2) out = ": keep-alive\n\n";
    if (out.empty()) return true;
    state->last_write = now;
    return sink.Write(out);
  };
  res.Stream(std::move(wake_on), kTailKeepAlive, std::move(pump));
  return Status::Ok();
}

Status CollectorService::HandleTrace(const HttpRequest& req, HttpResponse& res) {
  std::string_view raw = req.PathParam("trace_id");
  if (raw.size() > kMaxIdBytes) {
    return Status::InvalidArgument("trace id is longer than " + std::to_string(kMaxIdBytes) +
                                   " characters");
  }
  LogFilter filter;
  filter.trace_id = NormalizeTraceId(raw);
  filter.limit = kMaxTraceEvents;
  filter.newest_first = false;
  const auto start = std::chrono::steady_clock::now();
  Result<std::vector<LogEvent>> events = store_->Query(filter);
  metrics_->trace_seconds->Observe(SecondsSince(start));
  if (!events.ok()) return events.status();
  Result<std::vector<Span>> spans = signals_->SpansOfTrace(filter.trace_id);
  if (!spans.ok()) return spans.status();
  if (events->empty() && spans->empty()) {
    return Status::NotFound("no events or spans with trace id '" + filter.trace_id + "'");
  }
  JsonWriter w;
  w.BeginObject().Field("trace_id", filter.trace_id);
  EventsField(w, *events);
  RenderedArray(w, "spans", *spans,
                [](std::string& out, const Span& span) { AppendSpanJson(out, span); });
  res.SetJson(w.EndObject().Take());
  return Status::Ok();
}

}  // namespace hive::collector
