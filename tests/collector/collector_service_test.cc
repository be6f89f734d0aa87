#include "hive/collector/collector_service.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "collector_server.h"
#include "fault_env.h"
#include "hive/core/http_client.h"
#include "hive/core/text.h"
#include "temp_dir.h"

namespace hive::collector {
namespace {

using nlohmann::json;

class CollectorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void TearDown() override { StopAll(); }

  void Start() {
    registry_ = std::make_shared<prometheus::Registry>();
    CollectorOptions o;
    o.data_dir = dir_.path();
    o.clock = &clock_;
    o.metrics = registry_;
    o.env = &env_;
    StartCollector(o, &service_, &server_);
  }

  void StopAll() { StopCollector(&service_, &server_); }

  std::unique_ptr<HttpClient> Client(RequestCoding coding = RequestCoding::kIdentity) {
    HttpClientOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
    o.request_coding = coding;
    auto c = HttpClient::Create(o);
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  }

  HttpClientResponse Ingest(std::string_view body, std::vector<Header> headers = {},
                            RequestCoding coding = RequestCoding::kIdentity) {
    auto r =
        Client(coding)->Send("POST", "/api/v1/ingest/logs", body, "application/x-ndjson", headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  json GetJson(const std::string& target, int want_status = 200) {
    auto r = Client()->Get(target);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, want_status) << target << " -> " << r->body;
    return json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  }

  std::string Metrics() { return Client()->Get("/metrics")->body; }

  hive::testing::TempDir dir_;
  hive::testing::FaultEnv env_;
  FakeClock clock_{ParseRfc3339("2026-11-22T10:05:00Z").value()};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<CollectorService> service_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(CollectorServiceTest, GzipIngestThenSearchAndTrace) {
  const std::string body =
      R"({"ts":"2026-11-22T10:00:02Z","service":"orders","level":"info","message":"order placed","trace_id":"ABCDEF01","span_id":"s2","parent_span_id":"s1"})"
      "\n"
      R"({"ts":"2026-11-22T10:00:01Z","service":"gateway","level":"warn","message":"slow upstream","trace_id":"abcdef01","span_id":"s1","kind":"server","duration_ms":12.5})"
      "\n"
      R"({"service":"payments","level":"error","message":"card declined","attrs":{"detail":")" +
      std::string(1200, 'd') +  // over the size the client compresses from
      "\"}}\n";
  HttpClientResponse r = Ingest(body, {}, RequestCoding::kGzip);
  ASSERT_EQ(r.status, 200) << r.body;
  json answer = json::parse(r.body);
  EXPECT_EQ(answer["accepted"], 3);
  EXPECT_EQ(answer["rejected"], 0);
  EXPECT_TRUE(answer["errors"].empty());
  EXPECT_FALSE(answer.contains("duplicate"));

  json trace = GetJson("/api/v1/traces/ABCDEF01");
  EXPECT_EQ(trace["trace_id"], "abcdef01");
  ASSERT_EQ(trace["events"].size(), 2u);
  json first = trace["events"][0];
  EXPECT_EQ(first["ts"], "2026-11-22T10:00:01.000000000Z");
  EXPECT_EQ(first["service"], "gateway");
  EXPECT_EQ(first["level"], "warn");
  EXPECT_EQ(first["message"], "slow upstream");
  EXPECT_EQ(first["span_id"], "s1");
  EXPECT_EQ(first["attrs"]["kind"], "server");
  EXPECT_EQ(first["attrs"]["duration_ms"], 12.5);
  EXPECT_EQ(trace["events"][1]["parent_span_id"], "s1");
  GetJson("/api/v1/traces/00000000", 404);

  // The event without ts got the (fake) clock's time, the newest of the three.
  json all = GetJson("/api/v1/logs");
  ASSERT_EQ(all["events"].size(), 3u);
  EXPECT_EQ(all["events"][0]["service"], "payments");
  EXPECT_EQ(all["events"][0]["ts"], FormatRfc3339(clock_.Now()));
  EXPECT_EQ(GetJson("/api/v1/logs?level=warn&service=gateway")["events"].size(), 1u);
  EXPECT_EQ(GetJson("/api/v1/logs?level=warn")["events"].size(), 2u);
  EXPECT_EQ(GetJson("/api/v1/logs?q=ORDER")["events"][0]["message"], "order placed");
  EXPECT_EQ(GetJson("/api/v1/logs?trace_id=ABCDEF01&limit=1")["events"][0]["message"],
            "order placed");
  json window = GetJson("/api/v1/logs?since=2026-11-22T10:00:00Z&until=2026-11-22T10:00:02Z");
  ASSERT_EQ(window["events"].size(), 1u);
  EXPECT_EQ(window["events"][0]["service"], "gateway");

  std::string m = Metrics();
  EXPECT_NE(m.find("hive_collector_events_ingested_total 3"), std::string::npos) << m;
  EXPECT_NE(m.find("hive_collector_ingest_bytes_total " + std::to_string(body.size())),
            std::string::npos);
  EXPECT_NE(m.find("hive_collector_segments 1"), std::string::npos);
  EXPECT_NE(m.find("hive_collector_fsync_seconds_count 1"), std::string::npos);
  EXPECT_NE(m.find("hive_collector_write_queue_batches"), std::string::npos);
}

TEST_F(CollectorServiceTest, MixedBatchAcceptsGoodLinesAndListsBadOnes) {
  HttpClientResponse r =
      Ingest("{\"message\":\"ok\"}\nnot json\n{\"level\":\"loud\"}\n{\"message\":\"ok too\"}\n");
  ASSERT_EQ(r.status, 200) << r.body;
  json answer = json::parse(r.body);
  EXPECT_EQ(answer["accepted"], 2);
  EXPECT_EQ(answer["rejected"], 2);
  ASSERT_EQ(answer["errors"].size(), 2u);
  EXPECT_EQ(answer["errors"][0]["line"], 2);
  EXPECT_EQ(answer["errors"][1]["line"], 3);
  EXPECT_NE(answer["errors"][1]["message"].get<std::string>().find("'level'"), std::string::npos);
  EXPECT_NE(Metrics().find("hive_collector_events_rejected_total 2"), std::string::npos);
}

TEST_F(CollectorServiceTest, AllBadBatchIs400AndStoresNothing) {
  HttpClientResponse r = Ingest("[1]\n{\"ts\":\"nope\"}\n");
  ASSERT_EQ(r.status, 400) << r.body;
  json err = json::parse(r.body)["error"];
  EXPECT_EQ(err["code"], "invalid_argument");
  std::string message = err["message"];
  EXPECT_NE(message.find("line 1: not a JSON object"), std::string::npos) << message;
  EXPECT_NE(message.find("line 2:"), std::string::npos) << message;
  EXPECT_EQ(Ingest("\n\n").status, 400);
  EXPECT_TRUE(GetJson("/api/v1/logs")["events"].empty());
}

TEST_F(CollectorServiceTest, OversizedBodyIs413AndServerKeepsServing) {
  std::string line = "{\"message\":\"" + std::string(1000, 'x') + "\"}\n";
  std::string body;
  body.reserve(kMaxIngestBodyBytes + line.size());
  while (body.size() <= kMaxIngestBodyBytes) body += line;
  HttpClientResponse r = Ingest(body);
  EXPECT_EQ(r.status, 413) << r.body.substr(0, 200);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "too_large");
  EXPECT_EQ(Ingest(line).status, 200);
  EXPECT_EQ(GetJson("/api/v1/logs")["events"].size(), 1u);
}

TEST_F(CollectorServiceTest, BatchIdMakesARetryCountOnceEvenAfterRestart) {
  std::vector<Header> id = {{"X-Hive-Batch-Id", "agent-1-000042"}};
  std::string body = "{\"message\":\"a\"}\nbad\n{\"message\":\"b\"}\n";
  json first = json::parse(Ingest(body, id).body);
  EXPECT_EQ(first["accepted"], 2);
  EXPECT_FALSE(first.contains("duplicate"));
  json again = json::parse(Ingest(body, id).body);
  EXPECT_EQ(again["accepted"], 2);
  EXPECT_EQ(again["rejected"], 1);
  EXPECT_EQ(again["duplicate"], true);

  StopAll();
  Start();
  json after_restart = json::parse(Ingest(body, id).body);
  EXPECT_EQ(after_restart["duplicate"], true);
  EXPECT_EQ(after_restart["accepted"], 2);
  EXPECT_EQ(GetJson("/api/v1/logs")["events"].size(), 2u);
  EXPECT_NE(Metrics().find("hive_collector_batches_duplicate_total 1"), std::string::npos);

  HttpClientResponse too_long = Ingest(body, {{"X-Hive-Batch-Id", std::string(129, 'b')}});
  EXPECT_EQ(too_long.status, 400);
}

TEST_F(CollectorServiceTest, BadQueryParametersAre400) {
  for (const char* target :
       {"/api/v1/logs?limit=0", "/api/v1/logs?limit=1001", "/api/v1/logs?limit=ten",
        "/api/v1/logs?level=loud", "/api/v1/logs?service=Orders", "/api/v1/logs?instance=a%20b",
        "/api/v1/logs?since=yesterday",
        "/api/v1/logs?since=2026-11-22T10:00:00Z&until=2026-11-22T09:00:00Z"}) {
    json err = GetJson(target, 400);
    EXPECT_EQ(err["error"]["code"], "invalid_argument") << target;
  }
  GetJson("/api/v1/traces/" + std::string(129, 'a'), 400);
  EXPECT_EQ(GetJson("/api/v1/logs?limit=1000&since=10m")["events"].size(), 0u);
}

TEST_F(CollectorServiceTest, ConcurrentIngestIsDurableAcrossRestart) {
  constexpr int kThreads = 4, kRequests = 10, kEvents = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = Client(t % 3 == 0   ? RequestCoding::kIdentity
                           : t % 3 == 1 ? RequestCoding::kGzip
                                        : RequestCoding::kZstd);
      for (int i = 0; i < kRequests; ++i) {
        std::string body;
        for (int e = 0; e < kEvents; ++e) {
          body +=
              R"({"service":"load","message":"m","trace_id":"trace-)" + std::to_string(t) + "\"}\n";
        }
        auto r = client->Send("POST", "/api/v1/ingest/logs", body, "application/x-ndjson");
        ASSERT_TRUE(r.ok());
        ASSERT_EQ(r->status, 200) << r->body;
      }
    });
  }
  for (auto& th : threads) th.join();
  StopAll();
  Start();
  for (int t = 0; t < kThreads; ++t) {
    json trace = GetJson("/api/v1/traces/trace-" + std::to_string(t));
    EXPECT_EQ(trace["events"].size(), static_cast<size_t>(kRequests * kEvents));
  }
}

TEST_F(CollectorServiceTest, IngestAfterStopIs503) {
  service_->Stop();
  EXPECT_EQ(Ingest("{}\n").status, 503);
  EXPECT_EQ(GetJson("/api/v1/logs")["events"].size(), 0u);
}

// A failed fdatasync stops the store: ingest answers 503 without
// acknowledging anything, /readyz says why, the gauge says so, and queries
// keep answering. A restart replays the WAL and is ready again.
TEST_F(CollectorServiceTest, FailedFdatasyncMakesIngest503AndReadyz503) {
  const std::string line =
      R"({"ts":"2026-11-22T10:00:00Z","service":"orders","level":"info","message":"kept"})"
      "\n";
  ASSERT_EQ(Ingest(line).status, 200);
  EXPECT_EQ(GetJson("/readyz")["status"], "ready");
  EXPECT_NE(Metrics().find("\nhive_collector_store_failed 0"), std::string::npos);

  env_.Fail(hive::testing::FaultEnv::Op::kFdatasync, "segment-", EIO);
  HttpClientResponse failed =
      Ingest(R"({"ts":"2026-11-22T10:00:01Z","service":"orders","level":"info","message":"lost"})"
             "\n");
  EXPECT_EQ(failed.status, 503) << failed.body;
  EXPECT_NE(failed.body.find("fdatasync"), std::string::npos) << failed.body;
  EXPECT_GE(env_.failures(), 1);

  env_.Heal();  // the store stays failed: the kernel may have dropped the pages
  EXPECT_EQ(Ingest(line).status, 503);
  json ready = GetJson("/readyz", 503);
  EXPECT_NE(ready["error"]["message"].get<std::string>().find("fdatasync"), std::string::npos)
      << ready.dump();
  EXPECT_NE(Metrics().find("\nhive_collector_store_failed 1"), std::string::npos);
  json logs = GetJson("/api/v1/logs?service=orders");
  ASSERT_EQ(logs["events"].size(), 1u) << logs.dump();  // only what was acknowledged
  EXPECT_EQ(logs["events"][0]["message"], "kept");

  StopAll();
  Start();
  EXPECT_EQ(GetJson("/readyz")["status"], "ready");
  EXPECT_EQ(Ingest(line).status, 200);
}

TEST(CollectorServiceOpenTest, UnwritableDataDirIsAClearError) {
  hive::testing::TempDir dir;
  const std::string file = dir / "not-a-dir";
  std::ofstream(file) << "x";
  CollectorOptions o;
  o.data_dir = file;
  auto s = CollectorService::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find(file), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace hive::collector
