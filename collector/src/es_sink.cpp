#include "hive/collector/es_sink.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "event_fields.h"
#include "hive/core/http_client.h"
#include "hive/core/log.h"
#include "hive/core/text.h"

namespace hive::collector {
namespace {

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace

struct EsSink::Metrics {
  prometheus::Gauge* queued = nullptr;
  prometheus::Counter* sent = nullptr;
  prometheus::Counter* retried = nullptr;
  prometheus::Counter* dead_lettered = nullptr;
  prometheus::Counter* refused = nullptr;
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  std::unique_ptr<HttpClient> client;  // used by the sender thread only
  std::string transport_error;         // the sender's last one; "" after an answer
};

std::string EsDocument(const LogEvent& event) {
  std::string out = "{\"@timestamp\":";
  AppendJsonString(out, FormatRfc3339(FromUnixNanos(event.ts_ns)));
  out += ",\"message\":";
  AppendJsonString(out, event.message);
  out += ",\"log.level\":\"";
  out += LogLevelName(event.level);
  out += '"';
  AppendOptionalField(out, "service.name", event.service);
  AppendOptionalField(out, "service.instance.id", event.instance);
  AppendOptionalField(out, "trace.id", event.trace_id);
  AppendOptionalField(out, "span.id", event.span_id);
  AppendOptionalField(out, "parent.span.id", event.parent_span_id);
  if (!event.attrs.empty()) {
    out += ",\"labels\":";
    AppendAttrsJson(out, event.attrs);
  }
  out += '}';
  return out;
}

EsSink::EsSink(EsSinkOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<EsSink>> EsSink::Start(EsSinkOptions options) {
  if (options.batch_events == 0 || options.max_queue_events == 0 || options.max_attempts < 1) {
    return Status::InvalidArgument("es sink: batch, queue and attempts must be positive");
  }
  if (options.data_stream.empty() || options.data_stream.find('/') != std::string::npos) {
    return Status::InvalidArgument("es sink: bad data stream name '" + options.data_stream + "'");
  }
  if (!options.metrics) options.metrics = std::make_shared<prometheus::Registry>();
  HttpClientOptions co;
  co.base_url = options.url;
  co.ca_file = options.ca_file;
  auto client = HttpClient::Create(co);
  if (!client.ok()) return client.status().WithContext("es sink url");
  std::unique_ptr<EsSink> sink(new EsSink(std::move(options)));
  auto m = std::make_unique<Metrics>();
  m->client = std::move(*client);
  try {
    prometheus::Registry& r = *sink->options_.metrics;
    auto counter = [&](const char* name, const char* help) {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
    };
    m->queued = &prometheus::BuildGauge()
                     .Name("hive_es_sink_queue_events")
                     .Help("Log events waiting to be sent to Elasticsearch")
                     .Register(r)
                     .Add({});
    m->sent = counter("hive_es_sink_sent_total", "Events Elasticsearch accepted");
    m->retried = counter("hive_es_sink_retried_total", "Event resends (429 items, failed batches)");
    m->dead_lettered =
        counter("hive_es_sink_dead_lettered_total", "Events given up on (dead-lettered)");
    m->refused = counter("hive_es_sink_refused_total", "Events refused because the queue was full");
    m->requests = &prometheus::BuildCounter()
                       .Name("hive_es_sink_requests_total")
                       .Help("_bulk requests by HTTP status (0: no answer)")
                       .Register(r);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("registering es sink metrics: ") + e.what());
  }
  sink->metrics_ = std::move(m);
  if (!sink->options_.api_key.empty()) {
    sink->headers_.emplace_back("Authorization", "ApiKey " + sink->options_.api_key);
  } else if (!sink->options_.username.empty()) {
    sink->headers_.emplace_back("Authorization", "Basic " + Base64(sink->options_.username + ":" +
                                                                   sink->options_.password));
  }
  sink->sender_ = std::thread([s = sink.get()] { s->Run(); });
  return sink;
}

EsSink::~EsSink() { Stop(); }

void EsSink::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (sender_.joinable()) sender_.join();
}

Status EsSink::Enqueue(const std::vector<LogEvent>& events) {
  std::lock_guard lock(mu_);
  if (stopping_) return Status::Unavailable("es sink is stopped");
  if (queue_.size() + events.size() > options_.max_queue_events) {
    metrics_->refused->Increment(static_cast<double>(events.size()));
    return Status::ResourceExhausted("es sink queue is full (" + std::to_string(queue_.size()) +
                                     " events)");
  }
  for (const LogEvent& e : events) queue_.push_back({EsDocument(e), 0});
  counts_.queued = queue_.size();
  metrics_->queued->Set(static_cast<double>(queue_.size()));
  cv_.notify_all();
  return Status::Ok();
}

EsSink::Counts EsSink::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

bool EsSink::WaitIdle(Duration timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !busy_; });
}

void EsSink::Run() {
  while (true) {
    std::vector<Item> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      while (!queue_.empty() && batch.size() < options_.batch_events) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      busy_ = true;
      counts_.queued = queue_.size();
      metrics_->queued->Set(static_cast<double>(queue_.size()));
    }
    Duration backoff = options_.backoff;
    while (!batch.empty()) {
      std::vector<Item> again = Send(std::move(batch));
      batch.clear();
      for (Item& item : again) {
        if (++item.attempts >= options_.max_attempts) {
          DeadLetter(
              item,
              "gave up after " + std::to_string(item.attempts) + " attempts" +
                  (metrics_->transport_error.empty() ? "" : ": " + metrics_->transport_error));
        } else {
          batch.push_back(std::move(item));
        }
      }
      if (!batch.empty()) {
        {
          std::lock_guard lock(mu_);
          counts_.retried += batch.size();
        }
        metrics_->retried->Increment(static_cast<double>(batch.size()));
        // Backoff before a resend; cut short by Stop() so shutdown only
        // spends the remaining attempts, then dead-letters.
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, backoff, [&] { return stopping_; });
        backoff *= 2;
      }
    }
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

std::vector<EsSink::Item> EsSink::Send(std::vector<Item> items) {
  std::string body;
  for (const Item& item : items) {
    body += "{\"create\":{}}\n";
    body += item.doc;
    body += '\n';
  }
  Result<HttpClientResponse> r = metrics_->client->Send(
      "POST", "/" + options_.data_stream + "/_bulk", body, "application/x-ndjson", headers_);
  int status = r.ok() ? r->status : 0;
  metrics_->requests->Add({{"code", std::to_string(status)}}).Increment();
  if (!r.ok()) {
    if (r.status().message() != metrics_->transport_error) {
      log::Warn("es sink: cannot reach Elasticsearch; retrying", {{"error", r.status().message()}});
    }
    metrics_->transport_error = r.status().message();
  } else {
    metrics_->transport_error.clear();
  }
  if (status == 0 || status == 429 || status >= 500) return items;  // nothing known indexed
  if (status == 413) {
    if (items.size() == 1) {
      DeadLetter(items[0], "413: a single document is over the request size limit");
      return {};
    }
    std::vector<Item> second(std::make_move_iterator(items.begin() + items.size() / 2),
                             std::make_move_iterator(items.end()));
    items.resize(items.size() / 2);
    std::vector<Item> again = Send(std::move(items));
    std::vector<Item> more = Send(std::move(second));
    again.insert(again.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
    return again;
  }
  if (status < 200 || status >= 300) {
    for (const Item& item : items) {
      DeadLetter(item, "HTTP " + std::to_string(status) + ": " + r->body.substr(0, 200));
    }
    return {};
  }
  nlohmann::json answer = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* results = nullptr;
  if (answer.is_object() && answer.contains("items") && answer["items"].is_array() &&
      answer["items"].size() == items.size()) {
    results = &answer["items"];
  }
  if (results == nullptr) return items;  // an answer we cannot match to items: resend
  std::vector<Item> again;
  uint64_t sent = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const nlohmann::json& result = (*results)[i];
    const nlohmann::json* op = nullptr;
    if (result.is_object() && !result.empty() && result.begin()->is_object()) {
      op = &*result.begin();
    }
    int item_status = op && op->contains("status") && (*op)["status"].is_number_integer()
                          ? (*op)["status"].get<int>()
                          : 0;
    // 409 on create: the document is there already (an earlier attempt landed).
    if ((item_status >= 200 && item_status < 300) || item_status == 409) {
      ++sent;
    } else if (item_status == 429) {
      again.push_back(std::move(items[i]));
    } else {
      std::string reason = "status " + std::to_string(item_status);
      if (op && op->contains("error")) reason += ": " + (*op)["error"].dump();
      DeadLetter(items[i], reason);
    }
  }
  metrics_->sent->Increment(static_cast<double>(sent));
  std::lock_guard lock(mu_);
  counts_.sent += sent;
  return again;
}

void EsSink::DeadLetter(const Item& item, std::string_view reason) {
  metrics_->dead_lettered->Increment();
  {
    std::lock_guard lock(mu_);
    ++counts_.dead_lettered;
  }
  if (options_.dead_letter_path.empty()) return;
  std::string line = "{\"reason\":";
  AppendJsonString(line, reason);
  line += ",\"document\":" + item.doc + "}\n";
  std::lock_guard lock(dead_letter_mu_);
  std::ofstream out(options_.dead_letter_path, std::ios::app);
  out << line;
  if (!out) log::Warn("es sink: cannot write dead letter", {{"path", options_.dead_letter_path}});
}

}  // namespace hive::collector
