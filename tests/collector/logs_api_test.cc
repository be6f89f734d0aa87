// GET /api/v1/logs paging and regex, and the live tail over SSE, through a
// real HttpServer on port 0.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "collector_server.h"
#include "hive/collector/collector_service.h"
#include "hive/core/http_client.h"
#include "hive/core/text.h"
#include "temp_dir.h"

namespace hive::collector {
namespace {

using nlohmann::json;

class LogsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CollectorOptions o;
    o.data_dir = dir_.path();
    o.clock = &clock_;
    o.metrics = std::make_shared<prometheus::Registry>();
    StartCollector(o, &service_, &server_);
  }

  void TearDown() override { StopCollector(&service_, &server_); }

  std::unique_ptr<HttpClient> Client() {
    HttpClientOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
    auto c = HttpClient::Create(o);
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  }

  void Ingest(const std::string& body) {
    auto r = Client()->Send("POST", "/api/v1/ingest/logs", body, "application/x-ndjson");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }

  json GetJson(const std::string& target, int want_status = 200) {
    auto r = Client()->Get(target);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, want_status) << target << " -> " << r->body;
    return json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  }

  hive::testing::TempDir dir_;
  FakeClock clock_{ParseRfc3339("2026-11-22T10:05:00Z").value()};
  std::unique_ptr<CollectorService> service_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(LogsApiTest, NextCursorPagesThroughEverythingOnce) {
  std::string body;
  for (int i = 0; i < 25; ++i) {
    body += R"({"ts":)" + std::to_string(1'700'000'000'000'000'000 + i) +
            R"(,"service":"orders","message":"m)" + std::to_string(i) + "\"}\n";
  }
  Ingest(body);
  std::vector<std::string> got;
  std::string target = "/api/v1/logs?service=orders&limit=10";
  for (int page = 0; page < 5; ++page) {
    json answer = GetJson(target);
    for (const auto& e : answer["events"]) got.push_back(e["message"]);
    if (!answer.contains("next")) break;
    target = "/api/v1/logs?service=orders&limit=10&cursor=" + answer["next"].get<std::string>();
  }
  ASSERT_EQ(got.size(), 25u);
  EXPECT_EQ(got.front(), "m24");
  EXPECT_EQ(got.back(), "m0");
  EXPECT_EQ(GetJson("/api/v1/logs?cursor=bogus", 400)["error"]["code"], "invalid_argument");
}

TEST_F(LogsApiTest, RegexParameterFiltersAndBadPatternsAre400) {
  Ingest(
      "{\"message\":\"GET /orders 200\"}\n{\"message\":\"GET /orders 503\"}\n"
      "{\"message\":\"timeout after 30s\"}\n");
  json answer = GetJson("/api/v1/logs?re=%205%5Cd%5Cd%24");  // " 5\d\d$"
  ASSERT_EQ(answer["events"].size(), 1u);
  EXPECT_EQ(answer["events"][0]["message"], "GET /orders 503");
  EXPECT_EQ(GetJson("/api/v1/logs?re=%28", 400)["error"]["code"], "invalid_argument");
  EXPECT_EQ(GetJson("/api/v1/logs/tail?re=%28", 400)["error"]["code"], "invalid_argument");
}

TEST_F(LogsApiTest, TailStreamsNewMatchingEventsAndEndsOnStop) {
  std::mutex mu;
  std::string received;
  std::atomic<int> events{0};
  std::atomic<bool> ended{false};
  std::thread reader([&] {
    auto r = Client()->GetStream(
        "/api/v1/logs/tail?service=orders&level=warn", [&](std::string_view data) {
          std::lock_guard lock(mu);
          received.append(data);
          size_t n = 0;
          for (size_t p = 0; (p = received.find("data: ", p)) != std::string::npos; ++p) ++n;
          events = static_cast<int>(n);
          return true;
        });
    EXPECT_TRUE(r.ok());
    ended = true;
  });
  // The tail starts at the moment it connects: keep sending until it has
  // seen a few events (each round also sends events it must not see).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int round = 0; events < 3 && std::chrono::steady_clock::now() < deadline; ++round) {
    Ingest("{\"service\":\"orders\",\"level\":\"error\",\"message\":\"wanted " +
           std::to_string(round) +
           "\"}\n{\"service\":\"orders\",\"level\":\"info\",\"message\":\"too quiet\"}\n"
           "{\"service\":\"payments\",\"level\":\"error\",\"message\":\"other service\"}\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(events.load(), 3);
  service_->Stop();  // closes the store: the stream ends within a poll
  reader.join();
  EXPECT_TRUE(ended);
  std::lock_guard lock(mu);
  EXPECT_EQ(received.find("too quiet"), std::string::npos);
  EXPECT_EQ(received.find("other service"), std::string::npos);
  // Events arrive in ingest order, each as one SSE message of the API's JSON.
  int last = -1;
  for (size_t p = 0; (p = received.find("data: ", p)) != std::string::npos;) {
    size_t end = received.find("\n\n", p);
    ASSERT_NE(end, std::string::npos);
    json e = json::parse(received.substr(p + 6, end - p - 6));
    std::string msg = e["message"];
    int round = std::stoi(msg.substr(7));
    EXPECT_GT(round, last);
    last = round;
    p = end;
  }
}

}  // namespace
}  // namespace hive::collector
