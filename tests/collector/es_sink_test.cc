// EsSink against a fake Elasticsearch on loopback that answers with bodies
// written from the Elasticsearch _bulk API documentation (success, partial
// failure with per-item 400/429, whole-request 429, 413). With
// HIVE_TEST_ES_URL set, also against a real Elasticsearch.
#include "hive/collector/es_sink.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "collector_server.h"
#include "hive/collector/collector_service.h"
#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "hive/core/text.h"
#include "temp_dir.h"
#include "tls_certs.h"

namespace hive::collector {
namespace {

using nlohmann::json;

struct Reply {
  int status;
  std::string body;
};

// An item result as the _bulk docs show them for a data stream.
std::string Created() {
  return R"({"create":{"_index":".ds-logs-hive-default-2026.11.22-000001","_id":"x1","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}})";
}
std::string Rejected429() {
  return R"({"create":{"_index":".ds-logs-hive-default-2026.11.22-000001","_id":null,"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}})";
}
std::string Mapping400() {
  return R"({"create":{"_index":".ds-logs-hive-default-2026.11.22-000001","_id":null,"status":400,"error":{"type":"document_parsing_exception","reason":"[1:42] failed to parse field [labels.qty] of type [long]"}}})";
}
std::string BulkBody(const std::vector<std::string>& items) {
  bool errors = false;
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += items[i];
    errors = errors || items[i].find("\"error\"") != std::string::npos;
  }
  return std::string(R"({"took":30,"errors":)") + (errors ? "true" : "false") +
         ",\"items\":" + out + "]}";
}

class FakeElasticsearch {
 public:
  // With `tls.cert_file` set it serves https.
  explicit FakeElasticsearch(TlsOptions tls = {}) : https_(!tls.cert_file.empty()) {
    HttpServerOptions o;
    o.port = 0;
    o.worker_threads = 4;
    o.tls = std::move(tls);
    server_ = std::make_unique<HttpServer>(o);
    server_->Route("POST", "/{stream}/_bulk", {Access::kRead, 0},
                   [this](const HttpRequest& req, HttpResponse& res) {
                     std::lock_guard lock(mu_);
                     requests_.push_back(req.body);
                     streams_.push_back(std::string(req.PathParam("stream")));
                     auth_ = req.HeaderValue("Authorization").value_or("");
                     Reply reply = replies_.empty() ? Reply{200, ""} : replies_.front();
                     if (!replies_.empty()) replies_.pop_front();
                     if (reply.body.empty() && reply.status == 200) {
                       std::vector<std::string> items(Lines(req.body).size(), Created());
                       reply.body = BulkBody(items);
                     }
                     res.SetJson(reply.body, reply.status);
                   });
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakeElasticsearch() { server_->Stop(); }

  std::string url() const {
    return (https_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(server_->port());
  }
  void Script(std::vector<Reply> replies) {
    std::lock_guard lock(mu_);
    replies_.assign(replies.begin(), replies.end());
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::string auth() {
    std::lock_guard lock(mu_);
    return auth_;
  }
  std::string stream() {
    std::lock_guard lock(mu_);
    return streams_.empty() ? "" : streams_.back();
  }

  // The documents of a _bulk body (every second line).
  static std::vector<json> Lines(const std::string& body) {
    std::vector<json> docs;
    std::vector<std::string_view> lines = Split(body, '\n');
    for (size_t i = 1; i < lines.size(); i += 2) docs.push_back(json::parse(lines[i]));
    return docs;
  }

 private:
  bool https_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::deque<Reply> replies_;
  std::vector<std::string> requests_;
  std::vector<std::string> streams_;
  std::string auth_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

LogEvent Event(int i) {
  LogEvent e;
  e.ts_ns = 1'700'000'000'000'000'000 + i;
  e.level = LogLevel::kError;
  e.service = "payments";
  e.instance = "payments-1";
  e.message = "payment " + std::to_string(i) + " declined";
  e.trace_id = "5b8efff798038103d269b633813fc60c";
  e.span_id = "eee19b7ec3c1b174";
  e.attrs = {{"qty", int64_t{i}}, {"ok", false}};
  return e;
}

std::vector<LogEvent> Events(int n) {
  std::vector<LogEvent> out;
  for (int i = 0; i < n; ++i) out.push_back(Event(i));
  return out;
}

class EsSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<EsSink> StartSink(EsSinkOptions o = {}) {
    o.url = es_.url();
    o.backoff = std::chrono::milliseconds(1);
    o.dead_letter_path = dir_ / "dead.ndjson";
    auto sink = EsSink::Start(o);
    EXPECT_TRUE(sink.ok()) << sink.status().ToString();
    return sink.ok() ? std::move(*sink) : nullptr;
  }

  hive::testing::TempDir dir_;
  FakeElasticsearch es_;
};

TEST_F(EsSinkTest, SendsEcsDocumentsIntoTheDataStream) {
  EsSinkOptions o;
  o.username = "elastic";
  o.password = "changeme";
  auto sink = StartSink(o);
  ASSERT_TRUE(sink->Enqueue(Events(3)).ok());
  ASSERT_TRUE(sink->WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(sink->counts().sent, 3u);
  ASSERT_EQ(es_.requests().size(), 1u);
  EXPECT_EQ(es_.stream(), "logs-hive-default");
  EXPECT_EQ(es_.auth(), "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
  const std::string body = es_.requests()[0];
  std::vector<std::string_view> lines = Split(body, '\n');
  EXPECT_EQ(lines[0], R"({"create":{}})");
  json doc = json::parse(lines[1]);
  EXPECT_EQ(doc["@timestamp"], "2023-11-14T22:13:20.000000000Z");
  EXPECT_EQ(doc["message"], "payment 0 declined");
  EXPECT_EQ(doc["log.level"], "error");
  EXPECT_EQ(doc["service.name"], "payments");
  EXPECT_EQ(doc["trace.id"], "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(doc["span.id"], "eee19b7ec3c1b174");
  EXPECT_EQ(doc["labels"]["qty"], 0);
}

TEST_F(EsSinkTest, PartialFailureRetriesOnly429ItemsAndDeadLettersTheRest) {
  es_.Script({{200, BulkBody({Created(), Mapping400(), Rejected429()})},
              {200, BulkBody({Rejected429()})},
              {200, BulkBody({Created()})}});
  auto sink = StartSink();
  ASSERT_TRUE(sink->Enqueue(Events(3)).ok());
  ASSERT_TRUE(sink->WaitIdle(std::chrono::seconds(10)));
  std::vector<std::string> requests = es_.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (size_t i = 1; i < requests.size(); ++i) {
    std::vector<json> docs = FakeElasticsearch::Lines(requests[i]);
    ASSERT_EQ(docs.size(), 1u) << "only the 429 item is resent";
    EXPECT_EQ(docs[0]["message"], "payment 2 declined");
  }
  EsSink::Counts c = sink->counts();
  EXPECT_EQ(c.sent, 2u);
  EXPECT_EQ(c.dead_lettered, 1u);
  EXPECT_EQ(c.retried, 2u);
  std::string dead = ReadAll(dir_ / "dead.ndjson");
  json letter = json::parse(dead.substr(0, dead.find('\n')));
  EXPECT_EQ(letter["document"]["message"], "payment 1 declined");
  EXPECT_NE(letter["reason"].get<std::string>().find("document_parsing_exception"),
            std::string::npos);
}

TEST_F(EsSinkTest, Whole429RetriesTheBatchAndGivesUpAfterMaxAttempts) {
  std::string busy =
      R"({"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected execution"}],"type":"es_rejected_execution_exception","reason":"rejected execution"},"status":429})";
  es_.Script({{429, busy}, {200, ""}});
  auto sink = StartSink();
  ASSERT_TRUE(sink->Enqueue(Events(2)).ok());
  ASSERT_TRUE(sink->WaitIdle(std::chrono::seconds(10)));
  ASSERT_EQ(es_.requests().size(), 2u);
  EXPECT_EQ(es_.requests()[0], es_.requests()[1]);
  EXPECT_EQ(sink->counts().sent, 2u);

  es_.Script({{503, "{}"}, {503, "{}"}, {503, "{}"}});
  EsSinkOptions o;
  o.max_attempts = 3;
  auto limited = StartSink(o);
  ASSERT_TRUE(limited->Enqueue(Events(1)).ok());
  ASSERT_TRUE(limited->WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(limited->counts().dead_lettered, 1u);
  EXPECT_EQ(limited->counts().sent, 0u);
}

TEST_F(EsSinkTest, Oversized413SplitsTheBatch) {
  es_.Script({{413, "{}"}, {200, ""}, {413, "{}"}, {200, ""}, {413, "{}"}});
  auto sink = StartSink();
  ASSERT_TRUE(sink->Enqueue(Events(4)).ok());
  ASSERT_TRUE(sink->WaitIdle(std::chrono::seconds(10)));
  std::vector<std::string> requests = es_.requests();
  // 4 -> 2 (ok) + 2 -> 1 (ok) + 1 (413 again: dead-lettered alone).
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(FakeElasticsearch::Lines(requests[1]).size(), 2u);
  EXPECT_EQ(FakeElasticsearch::Lines(requests[3]).size(), 1u);
  EXPECT_EQ(sink->counts().sent, 3u);
  EXPECT_EQ(sink->counts().dead_lettered, 1u);
}

TEST_F(EsSinkTest, FullQueuePushesBack) {
  EsSinkOptions o;
  o.max_queue_events = 5;
  o.api_key = "aWQ6a2V5";
  auto sink = StartSink(o);
  EXPECT_EQ(sink->Enqueue(Events(6)).code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(sink->Enqueue(Events(5)).ok());
  ASSERT_TRUE(sink->WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(es_.auth(), "ApiKey aWQ6a2V5");
  sink->Stop();
  EXPECT_TRUE(sink->Enqueue(Events(1)).IsUnavailable());
  EXPECT_FALSE(EsSink::Start({.url = "ftp://x"}).ok());
}

TEST_F(EsSinkTest, CollectorShipsStoredLogsWhenConfigured) {
  CollectorOptions o;
  o.data_dir = dir_.path();
  o.signals.es.url = es_.url();
  std::unique_ptr<CollectorService> collector;
  std::unique_ptr<HttpServer> server;
  StartCollector(o, &collector, &server);
  ASSERT_FALSE(HasFatalFailure());
  HttpClientOptions co;
  co.base_url = "http://127.0.0.1:" + std::to_string(server->port());
  auto client = HttpClient::Create(co);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Send("POST", "/api/v1/ingest/logs",
                           R"({"service":"orders","message":"one","trace_id":"ab"})"
                           "\n"
                           R"({"service":"orders","message":"two"})",
                           "application/x-ndjson", {{"X-Hive-Batch-Id", "b1"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  // A retried batch is stored and shipped once.
  r = (*client)->Send("POST", "/api/v1/ingest/logs",
                      R"({"service":"orders","message":"one","trace_id":"ab"})"
                      "\n"
                      R"({"service":"orders","message":"two"})",
                      "application/x-ndjson", {{"X-Hive-Batch-Id", "b1"}});
  ASSERT_EQ(r->status, 200) << r->body;
  StopCollector(&collector, &server);  // joins the sink after it sent what was queued
  size_t docs = 0;
  for (const std::string& body : es_.requests()) docs += FakeElasticsearch::Lines(body).size();
  EXPECT_EQ(docs, 2u);
  EXPECT_EQ(FakeElasticsearch::Lines(es_.requests()[0])[0]["trace.id"], "ab");
}

// https: the sink verifies Elasticsearch against its CA file; with a CA
// that did not sign the server's certificate nothing is sent, the error is
// named in the dead letters, and a CA file for an http URL is refused.
TEST(EsSinkTlsTest, VerifiesElasticsearchWithItsCaFile) {
  hive::testing::TempDir dir;
  auto certs = hive::testing::MakeTlsCerts(dir.path());
  ASSERT_TRUE(certs.has_value());
  FakeElasticsearch es({.cert_file = certs->server_cert, .key_file = certs->server_key});
  ASSERT_TRUE(es.url().starts_with("https://"));

  EsSinkOptions o;
  o.url = es.url();
  o.ca_file = certs->ca;
  o.backoff = std::chrono::milliseconds(1);
  auto sink = EsSink::Start(o);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE((*sink)->Enqueue(Events(3)).ok());
  ASSERT_TRUE((*sink)->WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ((*sink)->counts().sent, 3u);
  ASSERT_EQ(es.requests().size(), 1u);
  (*sink)->Stop();

  o.ca_file = certs->other_ca;
  o.max_attempts = 2;
  o.dead_letter_path = dir / "dead.ndjson";
  auto refused = EsSink::Start(o);
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  ASSERT_TRUE((*refused)->Enqueue(Events(1)).ok());
  ASSERT_TRUE((*refused)->WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ((*refused)->counts().sent, 0u);
  EXPECT_EQ((*refused)->counts().dead_lettered, 1u);
  EXPECT_EQ(es.requests().size(), 1u) << "nothing reached the server";
  const std::string dead = ReadAll(dir / "dead.ndjson");
  json letter = json::parse(dead.substr(0, dead.find('\n')));
  EXPECT_NE(
      letter["reason"].get<std::string>().find(
          "the server's certificate could not be verified with the CA file " + certs->other_ca),
      std::string::npos)
      << letter["reason"];

  auto plain = EsSink::Start({.url = "http://127.0.0.1:9200", .ca_file = certs->ca});
  ASSERT_FALSE(plain.ok());
  EXPECT_TRUE(plain.status().IsInvalidArgument());
  EXPECT_NE(plain.status().message().find("needs https://"), std::string::npos)
      << plain.status().message();
}

TEST(EsSinkRealTest, IndexesIntoARealElasticsearch) {
  const char* url = std::getenv("HIVE_TEST_ES_URL");
  if (url == nullptr || *url == '\0') {
    GTEST_SKIP() << "set HIVE_TEST_ES_URL=http://127.0.0.1:9200 to run against Elasticsearch";
  }
  EsSinkOptions o;
  o.url = url;
  auto sink = EsSink::Start(o);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE((*sink)->Enqueue(Events(3)).ok());
  ASSERT_TRUE((*sink)->WaitIdle(std::chrono::seconds(30)));
  EXPECT_EQ((*sink)->counts().sent, 3u);
  EXPECT_EQ((*sink)->counts().dead_lettered, 0u);
}

}  // namespace
}  // namespace hive::collector
