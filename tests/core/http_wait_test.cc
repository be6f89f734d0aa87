// Requests that wait (HttpResponse::Wait) and stream (HttpResponse::Stream)
// on the event-driven server: woken by a Notifier, answered at their timeout
// or at Stop(), released when the client leaves, and never holding a thread;
// plus the wire details a client library relies on (HEAD, gzip,
// 100-continue, pipelining).
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "hive/core/notifier.h"
#include "metric_value.h"
#include "raw_http.h"

namespace hive {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::MetricValue;
using testing::RawConnection;
using testing::StatusOf;

int ThreadCount() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

std::string Body(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

class HttpWaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions o;
    o.port = 0;
    o.worker_threads = 2;
    o.access_log = AccessLog::kNone;
    server_ = std::make_unique<HttpServer>(o);
    // GET /watch?after=N waits until version_ passes N, like a blocking query.
    server_->Route(
        "GET", "/watch", {Access::kRead}, [this](const HttpRequest& req, HttpResponse& res) {
          const int after = std::stoi(req.Query("after").value_or("0"));
          const auto timeout = milliseconds(std::stoi(req.Query("timeout_ms").value_or("30000")));
          res.Wait([this](Notifier::Listener wake) { return changes_.Subscribe(std::move(wake)); },
                   timeout,
                   [this, after](HttpResponse& r, bool last) {
                     const int v = version_.load();
                     if (!last && v <= after) return false;
                     r.SetJson(json{{"version", v}, {"last", last}}.dump());
                     return true;
                   });
        });
    // GET /events streams one line per version, like an SSE feed.
    server_->Route(
        "GET", "/events", {Access::kRead}, [this](const HttpRequest&, HttpResponse& res) {
          res.content_type = "text/event-stream";
          auto seen = std::make_shared<int>(version_.load());
          res.Stream(
              [this](Notifier::Listener wake) { return changes_.Subscribe(std::move(wake)); },
              seconds(30),
              [this, seen](StreamSink& sink) {
                std::string out;
                for (const int v = version_.load(); *seen < v;) {
                  out += "data: " + std::to_string(++*seen) + "\n\n";
                }
                return out.empty() || sink.Write(out);
              });
        });
    server_->Route("GET", "/hello", {Access::kRead},
                   [](const HttpRequest&, HttpResponse& res) { res.SetJson(R"({"hello":1})"); });
    server_->Route("GET", "/text", {Access::kRead}, [](const HttpRequest&, HttpResponse& res) {
      res.body = std::string(10000, 'z');
      res.content_type = "text/plain";
    });
    server_->Route("PUT", "/echo", {Access::kOperate},
                   [](const HttpRequest& req, HttpResponse& res) {
                     res.SetJson(json{{"body", req.body}}.dump());
                   });
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override { server_->Stop(); }

  int port() const { return server_->port(); }
  double Metric(const std::string& name, const std::string& label = "",
                const std::string& value = "") {
    return MetricValue(server_->metrics(), name, label, value);
  }
  // Waits, with a deadline, until the metric reaches `want`.
  bool AwaitMetric(const std::string& name, double want) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (Metric(name) != want) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
  }
  bool AwaitListeners(size_t want) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (changes_.listeners() != want) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
  }
  void Bump() {
    ++version_;
    changes_.Notify();
  }
  static std::string Get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
  }

  Notifier changes_;
  std::atomic<int> version_{0};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpWaitTest, AWaitingRequestIsAnsweredByTheChangeThatWakesIt) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send(Get("/watch?after=0")));
  ASSERT_TRUE(AwaitMetric("hive_http_waiting_requests", 1));
  EXPECT_EQ(changes_.listeners(), 1u);
  EXPECT_EQ(c.ReadResponse(milliseconds(100)), "");  // still waiting
  Bump();
  const std::string r = c.ReadResponse(seconds(5));
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(json::parse(Body(r)), json::parse(R"({"version":1,"last":false})"));
  EXPECT_TRUE(AwaitMetric("hive_http_waiting_requests", 0));
  EXPECT_TRUE(AwaitListeners(0));
  // The connection is kept alive for the next query.
  ASSERT_TRUE(c.Send(Get("/watch?after=0")));
  EXPECT_EQ(json::parse(Body(c.ReadResponse(seconds(5))))["version"], 1);
}

TEST_F(HttpWaitTest, AWaitTimesOutWithItsLastPoll) {
  auto c = HttpClient::Create({.base_url = "http://127.0.0.1:" + std::to_string(port())});
  const auto start = std::chrono::steady_clock::now();
  auto r = (*c)->Get("/watch?after=0&timeout_ms=200");
  ASSERT_TRUE(r.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(200));
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"version":0,"last":true})"));
}

TEST_F(HttpWaitTest, StopAnswersEveryWaitingRequest) {
  std::vector<RawConnection> waiting;
  for (int i = 0; i < 5; ++i) {
    waiting.emplace_back(port());
    ASSERT_TRUE(waiting.back().Send(Get("/watch?after=0")));
  }
  ASSERT_TRUE(AwaitMetric("hive_http_waiting_requests", 5));
  std::thread stopper([&] { server_->Stop(); });
  for (auto& c : waiting) {
    const std::string r = c.ReadResponse(seconds(5));
    EXPECT_EQ(StatusOf(r), 200);
    EXPECT_EQ(json::parse(Body(r))["last"], true);
  }
  stopper.join();
  EXPECT_EQ(changes_.listeners(), 0u);
}

TEST_F(HttpWaitTest, AClientThatLeavesReleasesItsWaitAndItsSubscription) {
  {
    RawConnection c(port());
    ASSERT_TRUE(c.Send(Get("/watch?after=0")));
    ASSERT_TRUE(AwaitMetric("hive_http_waiting_requests", 1));
  }
  EXPECT_TRUE(AwaitMetric("hive_http_waiting_requests", 0));
  EXPECT_TRUE(AwaitListeners(0));
  EXPECT_TRUE(AwaitMetric("hive_http_connections", 0));
  EXPECT_EQ(Metric("hive_http_requests_in_flight"), 0);
  EXPECT_EQ(Metric("hive_http_requests_total", "code", "499"), 1);
}

// The old server gave each waiting request a worker thread: with two, two
// watchers stopped everyone else.
TEST_F(HttpWaitTest, HundredsOfWaitingRequestsHoldNoThread) {
  auto hello = HttpClient::Create({.base_url = "http://127.0.0.1:" + std::to_string(port())});
  ASSERT_EQ((*hello)->Get("/hello")->status, 200);
  const int threads_before = ThreadCount();
  std::vector<RawConnection> waiting;
  for (int i = 0; i < 300; ++i) {
    waiting.emplace_back(port());
    ASSERT_TRUE(waiting.back().Send(Get("/watch?after=0")));
  }
  ASSERT_TRUE(AwaitMetric("hive_http_waiting_requests", 300));
  EXPECT_EQ(ThreadCount(), threads_before);
  auto r = (*hello)->Get("/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  Bump();  // one change answers them all
  for (auto& c : waiting) EXPECT_EQ(StatusOf(c.ReadResponse(seconds(10))), 200);
  EXPECT_TRUE(AwaitListeners(0));
}

TEST_F(HttpWaitTest, AStreamWritesWhatEachWakeBringsAndEndsAtStop) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send(Get("/events")));
  const std::string head = c.ReadUntil("\r\n\r\n", seconds(5));
  EXPECT_EQ(StatusOf(head), 200);
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(head.find("text/event-stream"), std::string::npos);
  ASSERT_TRUE(AwaitListeners(1));
  EXPECT_EQ(Metric("hive_http_streams"), 1);
  Bump();
  EXPECT_NE(c.ReadUntil("data: 1\n\n", seconds(5)).find("data: 1"), std::string::npos);
  Bump();
  Bump();
  const std::string more = c.ReadUntil("data: 3\n\n", seconds(5));
  EXPECT_NE(more.find("data: 2"), std::string::npos);
  EXPECT_NE(more.find("data: 3"), std::string::npos);
  server_->Stop();
  EXPECT_NE(c.ReadUntil("0\r\n\r\n", seconds(5)).find("0\r\n\r\n"), std::string::npos);
  EXPECT_TRUE(c.WaitForClose(seconds(5)));
  EXPECT_EQ(changes_.listeners(), 0u);
}

TEST_F(HttpWaitTest, AStreamWhoseClientLeftEnds) {
  {
    RawConnection c(port());
    ASSERT_TRUE(c.Send(Get("/events")));
    ASSERT_TRUE(AwaitListeners(1));
  }
  EXPECT_TRUE(AwaitListeners(0));
  EXPECT_TRUE(AwaitMetric("hive_http_streams", 0));
}

TEST_F(HttpWaitTest, HeadAnswersWithoutTheBody) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("HEAD /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string r = c.ReadUntil("\r\n\r\n", seconds(5));
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_NE(r.find("Content-Length: 11"), std::string::npos) << r;
  // Nothing follows the head: the next answer starts right after it.
  ASSERT_TRUE(c.Send(Get("/hello")));
  EXPECT_EQ(StatusOf(c.ReadResponse(seconds(5))), 200);
}

TEST_F(HttpWaitTest, LargeTextAnswersAreGzippedWhenTheClientTakesIt) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send(Get("/text", "Accept-Encoding: gzip, deflate\r\n")));
  const std::string r = c.ReadResponse(seconds(5));
  EXPECT_NE(r.find("Content-Encoding: gzip"), std::string::npos);
  const std::string gz = Body(r);
  EXPECT_LT(gz.size(), 1000u);
  std::string plain(20000, '\0');
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(plain.data());
  zs.avail_out = static_cast<uInt>(plain.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  plain.resize(zs.total_out);
  inflateEnd(&zs);
  EXPECT_EQ(plain, std::string(10000, 'z'));
  // Without Accept-Encoding the same answer is plain.
  ASSERT_TRUE(c.Send(Get("/text")));
  EXPECT_EQ(Body(c.ReadResponse(seconds(5))), std::string(10000, 'z'));
}

TEST_F(HttpWaitTest, ExpectContinueGetsTheGoAheadBeforeTheBody) {
  RawConnection c(port());
  ASSERT_TRUE(
      c.Send("PUT /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: "
             "100-continue\r\n\r\n"));
  EXPECT_EQ(c.ReadUntil("\r\n\r\n", seconds(5)), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.Send("hello"));
  const std::string r = c.ReadResponse(seconds(5));
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_EQ(json::parse(Body(r))["body"], "hello");
}

TEST_F(HttpWaitTest, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send(Get("/hello") +
                     "PUT /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc" +
                     Get("/hello")));
  EXPECT_EQ(json::parse(Body(c.ReadResponse(seconds(5))))["hello"], 1);
  EXPECT_EQ(json::parse(Body(c.ReadResponse(seconds(5))))["body"], "abc");
  EXPECT_EQ(json::parse(Body(c.ReadResponse(seconds(5))))["hello"], 1);
}

TEST_F(HttpWaitTest, GarbageIs400AndClosesOnlyItsConnection) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("THIS IS NOT HTTP\r\n\r\n"));
  EXPECT_EQ(StatusOf(c.ReadResponse(seconds(5))), 400);
  EXPECT_TRUE(c.WaitForClose(seconds(5)));
  RawConnection absolute(port());
  ASSERT_TRUE(absolute.Send("GET http://127.0.0.1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_EQ(StatusOf(absolute.ReadResponse(seconds(5))), 200);
}

}  // namespace
}  // namespace hive
