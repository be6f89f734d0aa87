// The signals routes end to end: a real CollectorService on a real HttpServer
// (127.0.0.1, port 0) with its stores on disk, and a real Prometheus scraping
// the metrics export.
#include "hive/collector/signals_service.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "collector_server.h"
#include "hive/collector/collector_service.h"
#include "hive/core/http_client.h"
#include "hive/core/text.h"
#include "metric_value.h"
#include "process.h"
#include "temp_dir.h"

namespace hive::collector {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class SignalsServiceTest : public ::testing::Test {
 protected:
  void TearDown() override { StopAll(); }

  void Start(Clock* clock, SignalsOptions signals = {}) {
    registry_ = std::make_shared<prometheus::Registry>();
    CollectorOptions o;
    o.data_dir = dir_.path();
    o.clock = clock;
    o.metrics = registry_;
    o.signals = std::move(signals);
    StartCollector(o, &service_, &server_);
  }

  void StopAll() { StopCollector(&service_, &server_); }

  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  HttpClientResponse Send(std::string_view method, const std::string& target,
                          std::string_view body = {},
                          std::string_view content_type = "application/json") {
    HttpClientOptions o;
    o.base_url = BaseUrl();
    auto client = HttpClient::Create(o);
    EXPECT_TRUE(client.ok());
    auto r = (*client)->Send(method, target, body, content_type);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  json GetJson(const std::string& target, int want_status = 200) {
    HttpClientResponse r = Send("GET", target);
    EXPECT_EQ(r.status, want_status) << target << " -> " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  std::string MetricsText() { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

  hive::testing::TempDir dir_;
  FakeClock clock_{FromUnixNanos(ToUnixNanos(Clock::System().Now()))};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<CollectorService> service_;
  std::unique_ptr<HttpServer> server_;
};

// Demo span lines as the demo services write them and the agent ships them.
std::string DemoLogs(const std::string& trace, TimePoint t, bool payment_fails) {
  std::string ts = FormatRfc3339(t);
  std::string later = FormatRfc3339(t + std::chrono::milliseconds(5));
  std::string pay_status = payment_fails ? "error" : "ok";
  std::string pay_code = payment_fails ? "500" : "200";
  auto line = [&](const std::string& service, const std::string& fields) {
    return R"({"service":")" + service + R"(","instance":")" + service + R"(-1","trace_id":")" +
           trace + "\"," + fields + "}\n";
  };
  return line(
             "gateway",
             R"("ts":")" + ts +
                 R"(","message":"GET /checkout 200","span_id":"a000000000000001","kind":"server","name":"GET /checkout","duration_ms":20.5,"status":"ok","http.status_code":200)") +
         line("gateway",
              R"("ts":")" + later +
                  R"(","message":"checkout of 1 x sku-1","span_id":"a000000000000001")") +
         line(
             "gateway",
             R"("ts":")" + ts +
                 R"(","message":"GET /orders -> orders 200","span_id":"a000000000000002","parent_span_id":"a000000000000001","kind":"client","name":"GET /orders","peer.service":"orders","duration_ms":15,"status":"ok","http.status_code":200)") +
         line(
             "orders",
             R"("ts":")" + ts +
                 R"(","message":"GET /orders 200","span_id":"b000000000000001","parent_span_id":"a000000000000002","kind":"server","name":"GET /orders","duration_ms":14,"status":"ok","http.status_code":200)") +
         line(
             "orders",
             R"("ts":")" + ts +
                 R"(","message":"GET /pay -> payments","span_id":"b000000000000002","parent_span_id":"b000000000000001","kind":"client","name":"GET /pay","peer.service":"payments","duration_ms":6,"status":")" +
                 pay_status + R"(","http.status_code":)" + pay_code) +
         line(
             "payments",
             R"("ts":")" + ts +
                 R"(","level":"error","message":"GET /pay","span_id":"c000000000000001","parent_span_id":"b000000000000002","kind":"server","name":"GET /pay","duration_ms":5,"status":")" +
                 pay_status + R"(","http.status_code":)" + pay_code);
}

TEST_F(SignalsServiceTest, DemoSpanLogLinesBuildTheGraphAndTheTrace) {
  Start(&clock_);
  TimePoint t = clock_.Now();
  for (int i = 0; i < 10; ++i) {
    std::string trace = "0000000000000000000000000000000" + std::to_string(i);
    HttpClientResponse r =
        Send("POST", "/api/v1/ingest/logs", DemoLogs(trace, t, i < 2), "application/x-ndjson");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  json g = GetJson("/api/v1/graph?window=5m");
  ASSERT_EQ(g["edges"].size(), 2u) << g.dump();
  EXPECT_EQ(g["window"], "5m");
  EXPECT_EQ(g["edges"][0]["source"], "gateway");
  EXPECT_EQ(g["edges"][0]["target"], "orders");
  EXPECT_EQ(g["edges"][0]["calls"], 10);
  EXPECT_EQ(g["edges"][0]["health"], "healthy");
  EXPECT_EQ(g["edges"][1]["target"], "payments");
  EXPECT_EQ(g["edges"][1]["errors"], 2);
  EXPECT_DOUBLE_EQ(g["edges"][1]["error_rate"].get<double>(), 0.2);
  EXPECT_EQ(g["edges"][1]["health"], "failing");
  ASSERT_EQ(g["nodes"].size(), 3u);
  EXPECT_EQ(g["nodes"][2]["id"], "payments");
  EXPECT_EQ(g["nodes"][2]["health"], "failing");
  EXPECT_GT(g["nodes"][0]["p99_ms"].get<double>(), 0);

  // A retried batch (same lines) counts once.
  ASSERT_EQ(Send("POST", "/api/v1/ingest/logs",
                 DemoLogs("00000000000000000000000000000000", t, true), "application/x-ndjson")
                .status,
            200);
  EXPECT_EQ(GetJson("/api/v1/graph?window=5m")["edges"][0]["calls"], 10);

  json trace = GetJson("/api/v1/traces/00000000000000000000000000000003");
  ASSERT_EQ(trace["spans"].size(), 5u) << trace.dump();
  ASSERT_EQ(trace["events"].size(), 6u);
  EXPECT_EQ(trace["spans"][0]["kind"], "server");
  std::string previous;
  for (const json& e : trace["events"]) {
    EXPECT_LE(previous, e["ts"].get<std::string>());
    previous = e["ts"];
  }

  json deps =
      GetJson("/api/v1/dependencies?endTs=" +
              std::to_string(ToUnixNanos(clock_.Now()) / 1'000'000 + 60'000) + "&lookback=3600000");
  ASSERT_EQ(deps["data"].size(), 2u) << deps.dump();
  EXPECT_EQ(deps["data"][1], json::parse(R"({"parent":"orders","child":"payments",
                                              "callCount":10,"errorCount":2})"));
  GetJson("/api/v1/graph?window=30s", 400);
  GetJson("/api/v1/graph?window=25h", 400);
  GetJson("/api/v1/dependencies?lookback=-1", 400);

  // The graph is rebuilt from the span store after a restart.
  StopAll();
  Start(&clock_);
  EXPECT_EQ(GetJson("/api/v1/graph?window=5m")["edges"][1]["errors"], 2);
  EXPECT_NE(MetricsText().find("hive_collector_graph_edges 2"), std::string::npos);
}

TEST_F(SignalsServiceTest, IngestSpansAndRegistryHealth) {
  SignalsOptions signals;
  signals.registry_health = [] {
    return std::map<std::string, RegistryHealth>{{"web", {2, 1, 1, 0}}};
  };
  Start(&clock_, signals);
  std::string start = FormatRfc3339(clock_.Now());
  HttpClientResponse r =
      Send("POST", "/api/v1/ingest/spans",
           R"({"trace_id":"t1","span_id":"s1","service":"web","kind":"server","start":")" + start +
               R"(","duration_ms":3})"
               "\n"
               R"({"trace_id":"t1"})"
               "\n",
           "application/x-ndjson");
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["accepted"], 1);
  EXPECT_EQ(body["rejected"], 1);
  EXPECT_EQ(body["errors"][0]["line"], 2);
  r = Send("POST", "/api/v1/ingest/spans", "{}\n", "application/x-ndjson");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("line 1"), std::string::npos);

  json g = GetJson("/api/v1/graph?window=1m");
  ASSERT_EQ(g["nodes"].size(), 1u);
  EXPECT_EQ(g["nodes"][0]["health"], "degraded");  // one instance warning
  EXPECT_EQ(g["nodes"][0]["instances"]["warning"], 1);

  json trace = GetJson("/api/v1/traces/t1");
  EXPECT_EQ(trace["events"].size(), 0u) << "spans alone make a trace";
  EXPECT_EQ(trace["spans"][0]["span_id"], "s1");
  EXPECT_EQ(trace["spans"][0]["start"], start);
  GetJson("/api/v1/traces/nothing-here", 404);
  EXPECT_NE(MetricsText().find("hive_collector_spans_rejected_total 2"), std::string::npos);
}

TEST_F(SignalsServiceTest, TrafficAnswersEveryBucketOfOneService) {
  Start(&clock_);
  TimePoint now = clock_.Now();
  std::string body;
  for (int i = 0; i < 12; ++i) {
    TimePoint start = i < 4 ? now - std::chrono::minutes(2) : now;
    body += R"({"trace_id":"t)" + std::to_string(i) +
            R"(","span_id":"s1","service":"payments","kind":"server","start":")" +
            FormatRfc3339(start) + R"(","duration_ms":)" + std::to_string(10 + i) +
            R"(,"status":")" + (i == 11 ? "error" : "ok") + "\"}\n";
  }
  HttpClientResponse r = Send("POST", "/api/v1/ingest/spans", body, "application/x-ndjson");
  ASSERT_EQ(r.status, 200) << r.body;

  json t = GetJson("/api/v1/traffic?service=payments&window=1h");
  EXPECT_EQ(t["service"], "payments");
  EXPECT_EQ(t["window"], "1h");
  EXPECT_EQ(t["step_seconds"], 60);
  ASSERT_EQ(t["points"].size(), 60u);
  const json& last = t["points"][59];
  EXPECT_EQ(last["calls"], 8);
  EXPECT_EQ(last["errors"], 1);
  EXPECT_DOUBLE_EQ(last["request_rate"].get<double>(), 8.0 / 60.0);
  EXPECT_DOUBLE_EQ(last["error_rate"].get<double>(), 1.0 / 8.0);
  EXPECT_GT(last["p50_ms"].get<double>(), 0);
  EXPECT_LE(last["p50_ms"].get<double>(), last["p95_ms"].get<double>());
  EXPECT_LE(last["p95_ms"].get<double>(), last["p99_ms"].get<double>());
  EXPECT_EQ(t["points"][57]["calls"], 4);
  EXPECT_EQ(t["points"][0]["calls"], 0);
  // Bucket starts are whole minutes, oldest first.
  Result<TimePoint> first = ParseRfc3339(t["points"][0]["t"].get<std::string>());
  Result<TimePoint> newest = ParseRfc3339(last["t"].get<std::string>());
  ASSERT_TRUE(first.ok() && newest.ok());
  EXPECT_EQ(last["t"].get<std::string>().size(), 20u) << last["t"];
  EXPECT_EQ(*newest - *first, std::chrono::minutes(59));
  EXPECT_LE(*newest, now);
  EXPECT_GT(*newest + std::chrono::minutes(1), now);

  EXPECT_EQ(GetJson("/api/v1/traffic?service=payments")["window"], "1h") << "the default";
  json day = GetJson("/api/v1/traffic?service=payments&window=24h");
  EXPECT_EQ(day["step_seconds"], 900);
  ASSERT_EQ(day["points"].size(), 96u);
  EXPECT_EQ(day["points"][95]["calls"].get<int>() + day["points"][94]["calls"].get<int>(), 12);

  json unknown = GetJson("/api/v1/traffic?service=nobody&window=5m");
  ASSERT_EQ(unknown["points"].size(), 5u);
  EXPECT_EQ(unknown["points"][4]["calls"], 0);
  EXPECT_EQ(unknown["points"][4]["request_rate"], 0.0);

  EXPECT_NE(GetJson("/api/v1/traffic", 400)["error"].dump().find("service"), std::string::npos);
  GetJson("/api/v1/traffic?service=Bad%20Name", 400);
  GetJson("/api/v1/traffic?service=payments&window=30s", 400);
  GetJson("/api/v1/traffic?service=payments&window=25h", 400);
  GetJson("/api/v1/traffic?service=payments&window=soon", 400);
}

TEST_F(SignalsServiceTest, OtlpReceiverFollowsTheSpec) {
  Start(&clock_);
  std::string now_ns = std::to_string(ToUnixNanos(clock_.Now()));
  std::string traces =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},
    "scopeSpans":[{"spans":[
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /","kind":2,
       "startTimeUnixNano":")" +
      now_ns + R"(","endTimeUnixNano":")" + now_ns + R"("},
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"bad"}]}]}]})";
  HttpClientResponse r = Send("POST", "/v1/traces", traces);
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["partialSuccess"]["rejectedSpans"], "1");
  EXPECT_FALSE(body["partialSuccess"]["errorMessage"].get<std::string>().empty());

  r = Send("POST", "/v1/traces", R"({"resourceSpans":[]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  r = Send("POST", "/v1/traces", "{broken");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["code"], 3);
  r = Send("POST", "/v1/traces", std::string("\x0a\x00", 2), "application/x-protobuf");
  EXPECT_EQ(r.status, 415);

  std::string logs =
      R"({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},
    "scopeLogs":[{"logRecords":[{"timeUnixNano":")" +
      now_ns + R"(","severityNumber":17,
      "body":{"stringValue":"boom"},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]})";
  r = Send("POST", "/v1/logs", logs);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  json trace = GetJson("/api/v1/traces/5b8efff798038103d269b633813fc60c");
  ASSERT_EQ(trace["events"].size(), 1u);
  EXPECT_EQ(trace["events"][0]["level"], "error");
  EXPECT_EQ(trace["events"][0]["service"], "web");
  ASSERT_EQ(trace["spans"].size(), 1u);
  EXPECT_EQ(trace["spans"][0]["kind"], "server");
  // Counted like native log ingest: the same path.
  EXPECT_NE(MetricsText().find("\nhive_collector_events_ingested_total 1\n"), std::string::npos);
  EXPECT_NE(
      MetricsText().find(R"(hive_collector_otlp_requests_total{code="400",signal="traces"} 1)"),
      std::string::npos)
      << MetricsText();

  r = Send("POST", "/v1/metrics", R"({"resourceMetrics":[{"resource":{"attributes":[
      {"key":"service.name","value":{"stringValue":"web"}}]},"scopeMetrics":[{"metrics":[
      {"name":"jobs.done","sum":{"aggregationTemporality":2,"isMonotonic":true,
       "dataPoints":[{"asInt":"5"}]}},
      {"name":"d","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"asInt":"1"}]}}]}]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["partialSuccess"]["rejectedDataPoints"], "1");
  EXPECT_NE(Send("GET", "/api/v1/metrics/export").body.find("jobs_done_total{service=\"web\"} 5"),
            std::string::npos);

  // Ingest after the stores closed is a retryable 503.
  service_->Stop();
  r = Send("POST", "/v1/logs", logs);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.HeaderValue("Retry-After"), "1");
  EXPECT_EQ(json::parse(r.body)["code"], 14);
}

TEST_F(SignalsServiceTest, OverloadAnswers429WithRetryAfter) {
  SignalsOptions signals;
  signals.max_concurrent_ingests = 0;
  Start(&clock_, signals);
  HttpClientResponse r = Send("POST", "/v1/traces", "{}");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.HeaderValue("Retry-After"), "1");
  EXPECT_EQ(json::parse(r.body)["code"], 8);
  r = Send("POST", "/api/v1/ingest/spans", "{}", "application/x-ndjson");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.HeaderValue("Retry-After"), "1");
  // Log ingest shares the limit: one ingest path, one back-pressure.
  r = Send("POST", "/api/v1/ingest/logs", R"({"service":"web","message":"hi"})",
           "application/x-ndjson");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.HeaderValue("Retry-After"), "1");
}

TEST_F(SignalsServiceTest, MetricsIngestQueryAndRate) {
  Start(&clock_);
  int64_t t0 = ToUnixNanos(clock_.Now()) / 1'000'000;
  for (int i = 0; i < 5; ++i) {
    HttpClientResponse r = Send("POST", "/api/v1/ingest/metrics?service=orders&instance=orders-1",
                                "# TYPE req_total counter\nreq_total{code=\"200\"} " +
                                    std::to_string(i * 30) + "\nreq_total{code=\"500\"} 1\n",
                                "text/plain");
    ASSERT_EQ(r.status, 200) << r.body;
    clock_.Advance(seconds(15));
  }
  // Unix seconds: the first step is just after the first sample.
  std::string range = "&start=" + std::to_string(t0 / 1000 + 1) +
                      "&end=" + std::to_string(t0 / 1000 + 61) + "&step=15s";
  json q =
      GetJson("/api/v1/metrics/query?name=req_total&match[]=" + UrlEncode("code=\"200\"") + range);
  ASSERT_EQ(q["series"].size(), 1u) << q.dump();
  EXPECT_EQ(q["series"][0]["labels"]["service"], "orders");
  ASSERT_EQ(q["series"][0]["points"].size(), 5u);
  EXPECT_EQ(q["series"][0]["points"][4][1], 120.0);
  json rate = GetJson("/api/v1/metrics/query?name=req_total&rate=true&range=1m&match[]=" +
                      UrlEncode("{code=~\"2..\"}") + range);
  ASSERT_EQ(rate["series"].size(), 1u);
  EXPECT_DOUBLE_EQ(rate["series"][0]["points"].back()[1].get<double>(), 2.0);
  GetJson("/api/v1/metrics/query?name=req_total&match[]=" + UrlEncode("code=~\"(\""), 400);
  GetJson("/api/v1/metrics/query?name=req_total&step=0s", 400);
  GetJson("/api/v1/metrics/query?name=bad-name", 400);
  GetJson("/api/v1/metrics/query?name=req_total&rate=yes", 400);

  HttpClientResponse bad = Send("POST", "/api/v1/ingest/metrics?service=orders",
                                "ok 1\n# TYPE x counter\nx{a=\"1\" 2\n", "text/plain");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("line 3"), std::string::npos) << bad.body;
  EXPECT_EQ(Send("POST", "/api/v1/ingest/metrics?service=Bad", "x 1\n", "text/plain").status, 400);
}

// Past a series cap new series are refused (429, a JSON error, counted by
// reason) while the stored ones keep being updated; labels past a limit are
// the sender's to fix (400). Both ingest routes answer alike.
TEST_F(SignalsServiceTest, MetricSeriesPastTheCapsAreRefusedAndCounted) {
  SignalsOptions signals;
  signals.metric_limits.max_series_per_service = 2;
  Start(&clock_, signals);
  HttpClientResponse r = Send("POST", "/api/v1/ingest/metrics?service=orders",
                              "g{i=\"1\"} 1\ng{i=\"2\"} 1\ng{i=\"3\"} 1\n", "text/plain");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.HeaderValue("Retry-After"), "60");
  json error = json::parse(r.body, nullptr, false);
  EXPECT_EQ(error["error"]["code"], "resource_exhausted") << r.body;
  EXPECT_NE(error["error"]["message"].get<std::string>().find("stored 2 samples"),
            std::string::npos)
      << r.body;
  r = Send("POST", "/api/v1/ingest/metrics?service=orders", "g{i=\"1\"} 5\n", "text/plain");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(Send("GET", "/api/v1/metrics/export").body.find("g{i=\"1\",service=\"orders\"} 5\n"),
            std::string::npos);

  const std::string otlp =
      R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":)"
      R"({"stringValue":"orders"}}]},"scopeMetrics":[{"metrics":[{"name":"g","gauge":)"
      R"({"dataPoints":[{"asDouble":1,"attributes":[{"key":"i","value":{"stringValue":"4"}}]}]}}]}]}]})";
  r = Send("POST", "/v1/metrics", otlp);
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(json::parse(r.body, nullptr, false)["code"], 8) << r.body;
  EXPECT_EQ(r.HeaderValue("Retry-After"), "60");

  r = Send("POST", "/api/v1/ingest/metrics?service=payments",
           "g{v=\"" + std::string(3000, 'x') + "\"} 1\n", "text/plain");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("--metrics-max-label-value"), std::string::npos) << r.body;

  EXPECT_EQ(hive::testing::MetricValue(*registry_, "hive_collector_metric_series_refused_total",
                                       "reason", "series_per_service"),
            2);
  EXPECT_EQ(hive::testing::MetricValue(*registry_, "hive_collector_metric_series_refused_total",
                                       "reason", "value_too_long"),
            1);
  EXPECT_EQ(hive::testing::MetricValue(*registry_, "hive_collector_metric_series"), 2);
}

// A free loopback port for a child process that cannot report the one it got.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(SignalsServiceTest, ExportPassesPromtoolAndIsScrapedByPrometheus) {
  if (!std::filesystem::exists("/usr/bin/prometheus") ||
      !std::filesystem::exists("/usr/bin/promtool")) {
    GTEST_SKIP() << "prometheus/promtool not installed (apt-get install prometheus; "
                    "scripts/install-deps.sh lists it)";
  }
  Start(&Clock::System());
  HttpClientResponse r = Send(
      "POST", "/api/v1/ingest/metrics?service=orders&instance=orders-1",
      "# HELP demo_requests_total Requests served.\n# TYPE demo_requests_total counter\n"
      "demo_requests_total{code=\"200\",path=\"/a \\\"b\\\"\"} 7\n"
      "# HELP demo_latency_seconds Request latency.\n# TYPE demo_latency_seconds histogram\n"
      "demo_latency_seconds_bucket{le=\"0.1\"} 3\ndemo_latency_seconds_bucket{le=\"+Inf\"} 4\n"
      "demo_latency_seconds_sum 0.9\ndemo_latency_seconds_count 4\n"
      "# HELP demo_queue_depth Items queued.\n# TYPE demo_queue_depth gauge\ndemo_queue_depth 2\n",
      "text/plain");
  ASSERT_EQ(r.status, 200) << r.body;
  HttpClientResponse exported = Send("GET", "/api/v1/metrics/export");
  ASSERT_EQ(exported.status, 200);
  ASSERT_NE(exported.body.find("demo_requests_total{code=\"200\",instance=\"orders-1\""),
            std::string::npos)
      << exported.body;

  std::string work = dir_ / "prom";
  std::filesystem::create_directories(work);
  std::ofstream(work + "/export.txt") << exported.body;
  testing::CommandResult check =
      testing::RunCommand({"/bin/sh", "-c", "promtool check metrics < " + work + "/export.txt"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << exported.body;

  int port = FreePort();
  std::ofstream(work + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
         "scrape_configs:\n  - job_name: hive\n    honor_labels: true\n"
         "    metrics_path: /api/v1/metrics/export\n    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << server_->port() << "']\n";
  testing::ChildProcess prom({"/usr/bin/prometheus", "--config.file=" + work + "/prometheus.yml",
                              "--storage.tsdb.path=" + work + "/data",
                              "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                             work + "/prometheus");
  ASSERT_TRUE(prom.running());
  HttpClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  auto client = HttpClient::Create(o);
  ASSERT_TRUE(client.ok());
  json result;
  bool found = testing::WaitFor(
      [&] {
        auto q = (*client)->Get("/api/v1/query?query=" +
                                UrlEncode("demo_requests_total{service=\"orders\"}"));
        if (!q.ok() || q->status != 200) return false;
        result = json::parse(q->body, nullptr, false);
        return result.is_object() && result["data"]["result"].size() == 1;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(found) << prom.Stderr();
  const json& series = result["data"]["result"][0];
  EXPECT_EQ(series["metric"]["instance"], "orders-1");
  EXPECT_EQ(series["metric"]["path"], "/a \"b\"");
  EXPECT_EQ(series["value"][1], "7");
}

}  // namespace
}  // namespace hive::collector
