// Untrusted input against a real hived (issue 12): bodies nested past the
// limit, a reader's pathological label matcher and a burst of new metric
// series. Before, the first crashed hived, the second held the metrics
// store's lock for as long as it ran and the third grew hived without bound.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hive/core/http_client.h"
#include "hive_processes.h"

namespace hive::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// The value of one sample line of /metrics ("name{labels}" as exposed).
double MetricOf(HttpClient& c, const std::string& sample) {
  const std::string body = c.Get("/metrics")->body;
  const size_t at = body.find("\n" + sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + sample.size() + 2));
}

void ExpectRefused(const Result<HttpClientResponse>& r, const std::string& needle,
                   const std::string& what) {
  ASSERT_TRUE(r.ok()) << what << ": " << r.status().ToString();
  EXPECT_EQ(r->status, 400) << what << ": " << r->body;
  json j = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << what << ": " << r->body;
  EXPECT_EQ(j["error"]["code"], "invalid_argument") << what;
  EXPECT_NE(j["error"]["message"].get<std::string>().find(needle), std::string::npos)
      << what << ": " << r->body;
}

class HivedInputTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args = {}) {
    hived_ = std::make_unique<HivedProcess>(dir_, std::move(args));
    ASSERT_FALSE(hived_->url().empty()) << hived_->process().Stderr();
    client_ = ClientFor(hived_->url());
  }
  void TearDown() override {
    client_.reset();  // an idle keep-alive connection would hold hived's shutdown
    if (hived_) {
      EXPECT_EQ(hived_->process().Signal(SIGTERM, seconds(15)), 0) << hived_->process().Stderr();
    }
  }
  // Prometheus text for one service; answers the ingest.
  Result<HttpClientResponse> IngestMetrics(const std::string& service, const std::string& text) {
    return client_->Send("POST", "/api/v1/ingest/metrics?service=" + service, text, "text/plain");
  }

  std::string dir_ = MakeTestDir();
  std::unique_ptr<HivedProcess> hived_;
  std::unique_ptr<HttpClient> client_;
};

// An OTLP export whose one AnyValue (an attribute, or a log's body) nests
// arrays `depth` deep: about 2 bytes a level, 200 KB for 100,000.
std::string DeepOtlp(const std::string& signal, size_t depth) {
  const std::string deep =
      R"({"arrayValue":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  const std::string resource =
      R"("resource":{"attributes":[{"key":"service.name","value":{"stringValue":"deep"}}]})";
  if (signal == "traces") {
    return R"({"resourceSpans":[{)" + resource +
           R"(,"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
           R"("spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2",)"
           R"("attributes":[{"key":"a","value":)" +
           deep + "}]}]}]}]}";
  }
  if (signal == "logs") {
    return R"({"resourceLogs":[{)" + resource + R"(,"scopeLogs":[{"logRecords":[{"body":)" + deep +
           "}]}]}]}";
  }
  return R"({"resourceMetrics":[{)" + resource +
         R"(,"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":1,)"
         R"("attributes":[{"key":"a","value":)" +
         deep + "}]}]}}]}]}]}";
}

// Issue 12: a 200 KB OTLP request with an arrayValue nested 100,000 deep
// crashed hived (json::dump() recursed until the stack ran out).
TEST_F(HivedInputTest, DeepOtlpAnyValueIs400AndHivedKeepsServing) {
  Start();
  for (const std::string signal : {"traces", "logs", "metrics"}) {
    auto r = client_->Send("POST", "/v1/" + signal, DeepOtlp(signal, 100'000));
    ASSERT_TRUE(r.ok()) << signal << ": " << r.status().ToString() << "\n"
                        << hived_->process().Stderr();
    EXPECT_EQ(r->status, 400) << signal << ": " << r->body;
    json j = json::parse(r->body, nullptr, false);
    EXPECT_EQ(j["code"], 3) << r->body;
    EXPECT_NE(j["message"].get<std::string>().find("nested deeper than 64"), std::string::npos)
        << r->body;
  }
  auto shallow = client_->Send("POST", "/v1/traces", DeepOtlp("traces", 8));
  ASSERT_TRUE(shallow.ok());
  EXPECT_EQ(shallow->status, 200) << shallow->body;
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
}

// The config store's JSON and YAML documents and the registry's bodies have
// the same limit, in every YAML style.
TEST_F(HivedInputTest, DeepConfigAndRegistryBodiesAre400) {
  Start();
  const std::string deep(100'000, '[');
  const std::string closed = deep + std::string(100'000, ']');
  ExpectRefused(client_->Send("PUT", "/api/v1/config/payments/demo", R"({"a":)" + closed + "}"),
                "nested deeper than 64", "JSON config");
  ExpectRefused(client_->Send("PUT", "/api/v1/config/payments/demo", "a: " + closed + "\n",
                              "application/yaml"),
                "nested deeper than 64", "flow YAML config");
  std::string compact = "a:\n";
  for (int i = 0; i < 100'000; ++i) compact += "- ";
  ExpectRefused(
      client_->Send("PUT", "/api/v1/config/payments/demo", compact + "x\n", "application/yaml"),
      "nested deeper than 64", "compact block YAML config");
  std::string block;
  for (size_t i = 0; i < 1'000; ++i) block += std::string(i, ' ') + "k:\n";
  ExpectRefused(client_->Send("PUT", "/api/v1/config/payments/demo",
                              block + std::string(1'000, ' ') + "1\n", "application/yaml"),
                "line 65, column 65: nested deeper than 64", "block YAML config");
  ExpectRefused(client_->Send("PUT", "/api/v1/services/orders/instances/o1",
                              R"({"address":"127.0.0.1","port":80,"metadata":)" + closed + "}"),
                "nested deeper than 64", "registration");
  auto ok = client_->Send("PUT", "/api/v1/config/payments/demo", R"({"a":[[1]]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
}

// Issue 12: match[]=path=~"(.*)*Z" ran past 20 s in std::regex holding the
// metrics store's lock, so ingest and shutdown waited behind it; a 100 KB
// label value against (a|b)* overflowed std::regex's recursion. The client's
// 30 s read timeout is the only bound here: RE2 answers in milliseconds.
TEST_F(HivedInputTest, PathologicalMatchersAnswerWithoutHoldingUpIngest) {
  Start({"--metrics-max-label-value", "128KiB"});
  std::string text = "# TYPE req_total counter\n";
  for (int i = 0; i < 2'000; ++i) {
    text += "req_total{path=\"/api/v1/orders/" + std::to_string(i) + "/items/xxxxxxxxxxxx\"} 1\n";
  }
  std::string ab(100'000, 'a');
  for (size_t i = 0; i < ab.size(); i += 3) ab[i] = 'b';
  text += "req_total{path=\"" + ab + "\"} 1\n";
  auto stored = IngestMetrics("orders", text);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->status, 200) << stored->body;

  const std::string query = "/api/v1/metrics/query?name=req_total&match[]=";
  auto slow = std::async(std::launch::async, [&] {
    return ClientFor(hived_->url())->Get(query + UrlEncode(R"(path=~"(.*)*Z")"));
  });
  for (int i = 0; i < 20; ++i) {
    auto r = IngestMetrics("orders", "req_total{path=\"/api/v1/orders/1/items/xxxxxxxxxxxx\"} " +
                                         std::to_string(i + 2) + "\n");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200) << r->body;
  }
  Result<HttpClientResponse> none = slow.get();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  ASSERT_EQ(none->status, 200) << none->body;
  EXPECT_TRUE(json::parse(none->body)["series"].empty()) << none->body;

  auto ab_only = client_->Get(query + UrlEncode(R"(path=~"(a|b)*")"));
  ASSERT_TRUE(ab_only.ok()) << ab_only.status().ToString() << "\n" << hived_->process().Stderr();
  ASSERT_EQ(ab_only->status, 200) << ab_only->body;
  EXPECT_EQ(json::parse(ab_only->body)["series"].size(), 1u);
}

// Issue 12: 200,000 new series in 5 s grew hived by 234 MB. Now a service
// holds at most --metrics-max-series-per-service (10,000 by default); the
// rest is refused with 429 and counted, and the stored series still update.
TEST_F(HivedInputTest, ABurstOfNewSeriesIsCappedPerService) {
  Start();
  ASSERT_EQ(IngestMetrics("orders", "up 1\n")->status, 200);
  for (int burst = 0; burst < 4; ++burst) {
    std::string text;
    for (int i = 0; i < 50'000; ++i) {
      text += "burst_total{id=\"" + std::to_string(burst * 50'000 + i) + "\"} 1\n";
    }
    auto r = IngestMetrics("orders", text);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 429) << r->body.substr(0, 300);
    EXPECT_EQ(r->HeaderValue("Retry-After"), "60");
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "resource_exhausted");
  }
  EXPECT_EQ(MetricOf(*client_, "hive_collector_metric_series"), 10'000);
  EXPECT_EQ(MetricOf(*client_,
                     "hive_collector_metric_series_refused_total{reason=\"series_per_service\"}"),
            190'001);

  auto update = IngestMetrics("orders", "up 2\nburst_total{id=\"7\"} 2\n");
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->status, 200) << update->body;
  auto other = IngestMetrics("payments", "burst_total{id=\"1\"} 1\n");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status, 200) << other->body;
  EXPECT_EQ(MetricOf(*client_, "hive_collector_metric_series"), 10'001);
}

}  // namespace
}  // namespace hive::testing
