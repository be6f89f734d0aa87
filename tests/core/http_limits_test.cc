// Every limit of HttpLimits attacked through a raw socket: each is refused
// with its status before any token is checked, counted in /metrics, and
// leaves the server serving everyone else. Also the checks that keep a web
// page of another site from using a server that runs without tokens.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "hive/core/http.h"
#include "hive/core/http_client.h"
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

class HttpLimitsTest : public ::testing::Test {
 protected:
  void Start(HttpLimits limits, std::shared_ptr<const TokenAuthenticator> auth = nullptr,
             std::vector<std::string> allowed_hosts = {}) {
    HttpServerOptions o;
    o.port = 0;
    o.worker_threads = 2;
    o.max_body_bytes = 4096;
    o.limits = limits;
    o.auth = std::move(auth);
    o.allowed_hosts = std::move(allowed_hosts);
    o.access_log = AccessLog::kNone;
    server_ = std::make_unique<HttpServer>(o);
    server_->Route("GET", "/hello", {Access::kRead},
                   [](const HttpRequest&, HttpResponse& res) { res.SetJson(R"({"hello":1})"); });
    server_->Route("PUT", "/echo", {Access::kOperate},
                   [](const HttpRequest& req, HttpResponse& res) {
                     res.SetJson(json{{"size", req.body.size()}}.dump());
                   });
    server_->Route("GET", "/big", {Access::kRead}, [](const HttpRequest&, HttpResponse& res) {
      res.body = std::string(64u << 20, 'b');
      res.content_type = "application/octet-stream";
    });
    server_->Route("GET", "/wait", {Access::kRead}, [](const HttpRequest&, HttpResponse& res) {
      res.Wait(nullptr, seconds(30), [](HttpResponse& r, bool last) {
        if (!last) return false;
        r.SetJson(R"({"waited":true})");
        return true;
      });
    });
    ASSERT_TRUE(server_->Start().ok());
  }

  int port() const { return server_->port(); }
  double Metric(const std::string& name, const std::string& label = "",
                const std::string& value = "") {
    return MetricValue(server_->metrics(), name, label, value);
  }
  double Rejected(const std::string& reason) {
    return Metric("hive_http_rejected_total", "reason", reason);
  }

  // The server still answers a well-behaved client.
  void ExpectServing() {
    auto c = HttpClient::Create({.base_url = "http://127.0.0.1:" + std::to_string(port())});
    ASSERT_TRUE(c.ok());
    auto r = (*c)->Get("/healthz");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
  }

  static std::string Get(std::string_view target, std::string_view extra = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(extra) +
           "\r\n";
  }

  static std::string ErrorCode(const std::string& response) {
    const size_t body = response.find("\r\n\r\n");
    if (body == std::string::npos) return "";
    json j = json::parse(response.substr(body + 4), nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"]["code"].get<std::string>() : "";
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpLimitsTest, ALongRequestLineIs414) {
  HttpLimits limits;
  limits.max_request_line_bytes = 1024;
  Start(limits);
  RawConnection c(port());
  ASSERT_TRUE(c.Send(Get("/hello?q=" + std::string(2000, 'a'))));
  const std::string r = c.ReadResponse(seconds(5));
  EXPECT_EQ(StatusOf(r), 414) << r;
  EXPECT_EQ(ErrorCode(r), "too_large");
  EXPECT_TRUE(c.WaitForClose(seconds(5)));
  // A request line far past the whole head's buffer is 414 too, not 431.
  RawConnection huge(port());
  huge.Send("GET /" + std::string(200'000, 'a'));
  EXPECT_EQ(StatusOf(huge.ReadResponse(seconds(5))), 414);
  EXPECT_EQ(Rejected("request_line_too_long"), 2);
  ExpectServing();
}

TEST_F(HttpLimitsTest, HeaderBytesAndCountAre431) {
  HttpLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_header_count = 20;
  Start(limits);
  RawConnection big(port());
  ASSERT_TRUE(big.Send(Get("/hello", "X-Big: " + std::string(4000, 'h') + "\r\n")));
  EXPECT_EQ(StatusOf(big.ReadResponse(seconds(5))), 431);
  EXPECT_EQ(Rejected("header_too_large"), 1);

  std::string many;
  for (int i = 0; i < 21; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  RawConnection count(port());
  ASSERT_TRUE(count.Send(Get("/hello", many)));
  EXPECT_EQ(StatusOf(count.ReadResponse(seconds(5))), 431);
  EXPECT_EQ(Rejected("too_many_headers"), 1);

  // 20 fields (Host is one) are still fine.
  std::string fine;
  for (int i = 0; i < 19; ++i) fine += "X-" + std::to_string(i) + ": v\r\n";
  RawConnection ok(port());
  ASSERT_TRUE(ok.Send(Get("/hello", fine)));
  EXPECT_EQ(StatusOf(ok.ReadResponse(seconds(5))), 200);
}

// The issue's attack: 300,000 small header lines and no token. The server
// answers once the limit is reached and drops the rest unread.
TEST_F(HttpLimitsTest, HundredsOfThousandsOfHeaderLinesAreCutAtTheLimit) {
  auto auth = std::make_shared<TokenAuthenticator>();
  ASSERT_TRUE(auth->Add("reader", Role::kReader, "r-token").ok());
  Start(HttpLimits{}, auth);
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  std::string lines;
  for (int i = 0; i < 1000; ++i) lines += "X-A: b\r\n";
  for (int sent = 0; sent < 300 && c.Send(lines); ++sent) {
  }
  const std::string r = c.ReadResponse(seconds(5));
  EXPECT_EQ(StatusOf(r), 431) << r.substr(0, 200);
  // Which limit comes first depends on how the lines arrive in reads.
  EXPECT_EQ(Rejected("header_too_large") + Rejected("too_many_headers"), 1);
  ExpectServing();
}

TEST_F(HttpLimitsTest, AHeadThatDoesNotArriveInTimeIs408EvenIfBytesKeepComing) {
  HttpLimits limits;
  limits.head_timeout = milliseconds(600);
  Start(limits);
  // A slow client: one header line every 100 ms never completes its head.
  RawConnection slow(port());
  ASSERT_TRUE(slow.Send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  const auto start = std::chrono::steady_clock::now();
  std::string r;
  for (int i = 0; i < 50 && r.empty(); ++i) {
    slow.Send("X-Slow-" + std::to_string(i) + ": drip\r\n");
    r = slow.ReadResponse(milliseconds(100));
  }
  EXPECT_EQ(StatusOf(r), 408) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
  EXPECT_EQ(Rejected("head_timeout"), 1);
  // A connection that sends nothing at all is closed as well.
  RawConnection silent(port());
  EXPECT_TRUE(silent.WaitForClose(seconds(5)));
  ExpectServing();
}

TEST_F(HttpLimitsTest, ABodyThatDoesNotArriveInTimeIs408) {
  HttpLimits limits;
  limits.body_timeout = milliseconds(500);
  Start(limits);
  RawConnection c(port());
  ASSERT_TRUE(c.Send("PUT /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123"));
  const std::string r = c.ReadResponse(seconds(5));
  EXPECT_EQ(StatusOf(r), 408) << r;
  EXPECT_EQ(Rejected("body_timeout"), 1);
  ExpectServing();
}

TEST_F(HttpLimitsTest, IdleKeptAliveConnectionsAreClosed) {
  HttpLimits limits;
  limits.idle_timeout = milliseconds(300);
  Start(limits);
  RawConnection c(port());
  ASSERT_TRUE(c.Send(Get("/hello")));
  EXPECT_EQ(StatusOf(c.ReadResponse(seconds(5))), 200);
  EXPECT_TRUE(c.WaitForClose(seconds(5)));
  EXPECT_EQ(Metric("hive_http_idle_timeouts_total"), 1);
}

TEST_F(HttpLimitsTest, OverTheConnectionLimitNewOnesAre503WhileOldOnesAreServed) {
  HttpLimits limits;
  limits.max_connections = 3;
  Start(limits);
  std::vector<RawConnection> held;
  for (int i = 0; i < 3; ++i) {
    held.emplace_back(port());
    ASSERT_TRUE(held.back().Send(Get("/hello")));
    ASSERT_EQ(StatusOf(held.back().ReadResponse(seconds(5))), 200);
  }
  RawConnection extra(port());
  const std::string r = extra.ReadResponse(seconds(5));
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_TRUE(extra.WaitForClose(seconds(5)));
  for (auto& c : held) {
    ASSERT_TRUE(c.Send(Get("/hello")));
    EXPECT_EQ(StatusOf(c.ReadResponse(seconds(5))), 200);
  }
  EXPECT_EQ(Metric("hive_http_connections_refused_total", "reason", "max_connections"), 1);
  EXPECT_EQ(Metric("hive_http_connections"), 3);
  held.pop_back();
  // A slot came free.
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (Metric("hive_http_connections") > 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ExpectServing();
}

TEST_F(HttpLimitsTest, OneClientAddressCannotTakeEveryConnection) {
  HttpLimits limits;
  limits.max_connections_per_client = 2;
  Start(limits);
  RawConnection a(port());
  RawConnection b(port());
  ASSERT_TRUE(a.Send(Get("/hello")));
  ASSERT_TRUE(b.Send(Get("/hello")));
  EXPECT_EQ(StatusOf(a.ReadResponse(seconds(5))), 200);
  EXPECT_EQ(StatusOf(b.ReadResponse(seconds(5))), 200);
  RawConnection third(port());
  EXPECT_EQ(StatusOf(third.ReadResponse(seconds(5))), 503);
  // Another client address is served.
  RawConnection other(port(), "127.0.0.2");
  ASSERT_TRUE(other.connected());
  ASSERT_TRUE(other.Send(Get("/hello")));
  EXPECT_EQ(StatusOf(other.ReadResponse(seconds(5))), 200);
  EXPECT_EQ(Metric("hive_http_connections_refused_total", "reason", "max_connections_per_client"),
            1);
}

TEST_F(HttpLimitsTest, WaitingRequestsPerTokenAreCapped) {
  auto auth = std::make_shared<TokenAuthenticator>();
  ASSERT_TRUE(auth->Add("alice", Role::kReader, "a-token").ok());
  ASSERT_TRUE(auth->Add("bob", Role::kReader, "b-token").ok());
  HttpLimits limits;
  limits.max_waits_per_token = 2;
  Start(limits, auth);
  auto wait = [&](const std::string& token) {
    return Get("/wait", "Authorization: Bearer " + token + "\r\n");
  };
  RawConnection a1(port()), a2(port()), a3(port()), b1(port());
  ASSERT_TRUE(a1.Send(wait("a-token")));
  ASSERT_TRUE(a2.Send(wait("a-token")));
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (Metric("hive_http_waiting_requests") < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(Metric("hive_http_waiting_requests"), 2);
  ASSERT_TRUE(a3.Send(wait("a-token")));
  const std::string r = a3.ReadResponse(seconds(5));
  EXPECT_EQ(StatusOf(r), 429) << r;
  EXPECT_EQ(ErrorCode(r), "resource_exhausted");
  EXPECT_EQ(Rejected("too_many_waits"), 1);
  // Another token is not held back by alice's.
  ASSERT_TRUE(b1.Send(wait("b-token")));
  const auto deadline2 = std::chrono::steady_clock::now() + seconds(5);
  while (Metric("hive_http_waiting_requests") < 3 && std::chrono::steady_clock::now() < deadline2) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(Metric("hive_http_waiting_requests"), 3);
}

TEST_F(HttpLimitsTest, AClientThatDoesNotReadIsClosedAfterTheWriteTimeout) {
  HttpLimits limits;
  limits.write_timeout = milliseconds(500);
  Start(limits);
  RawConnection c(port());
  ASSERT_TRUE(c.Send(Get("/big")));
  // Never read: 64 MiB cannot fit in the socket buffers.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (Metric("hive_http_write_timeouts_total") < 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(Metric("hive_http_write_timeouts_total"), 1);
  ExpectServing();
}

TEST_F(HttpLimitsTest, WithoutTokensForeignHostNamesAreRefused) {
  Start(HttpLimits{}, nullptr, {"hive.internal.example"});
  for (std::string host :
       {"127.0.0.1:7070", "localhost:7070", "[::1]:7070", "localhost", "app.localhost:7070",
        "10.1.2.3:7070", "[fd00::1]:7070", "hive.internal.example", "hive.internal.example:7070"}) {
    RawConnection c(port());
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
    EXPECT_EQ(StatusOf(c.ReadResponse(seconds(5))), 200) << host;
  }
  // DNS rebinding: the attacker's name resolves to 127.0.0.1.
  for (std::string host : {"attacker.example:7070", "attacker.example", "127.0.0.1.nip.io"}) {
    RawConnection c(port());
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
    const std::string r = c.ReadResponse(seconds(5));
    EXPECT_EQ(StatusOf(r), 403) << host;
    EXPECT_EQ(ErrorCode(r), "permission_denied") << host;
  }
  EXPECT_EQ(Rejected("browser_origin"), 3);
}

TEST_F(HttpLimitsTest, WithoutTokensCrossSiteWritesAreRefused) {
  Start(HttpLimits{});
  const std::string put = "PUT /echo HTTP/1.1\r\nHost: 127.0.0.1:7070\r\nContent-Length: 2\r\n";
  auto status = [&](const std::string& headers) {
    RawConnection c(port());
    c.Send(put + headers + "\r\n{}");
    return StatusOf(c.ReadResponse(seconds(5)));
  };
  // A page of another origin (a fetch or a form post).
  EXPECT_EQ(status("Origin: http://attacker.example\r\n"), 403);
  EXPECT_EQ(status("Origin: null\r\n"), 403);
  EXPECT_EQ(status("Origin: http://127.0.0.1:8080\r\n"), 403);  // another local site
  EXPECT_EQ(status("Sec-Fetch-Site: cross-site\r\n"), 403);
  // A text/plain or form body from a browser with no Origin (no preflight needed).
  const std::string browser = "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n";
  EXPECT_EQ(status(browser + "Content-Type: text/plain;charset=UTF-8\r\n"), 403);
  EXPECT_EQ(status(browser + "Content-Type: application/x-www-form-urlencoded\r\n"), 403);
  // The dashboard itself (same origin), and tools that are not browsers.
  EXPECT_EQ(status("Origin: http://127.0.0.1:7070\r\nSec-Fetch-Site: same-origin\r\n" + browser +
                   "Content-Type: application/json\r\n"),
            200);
  EXPECT_EQ(status("User-Agent: curl/7.88.1\r\nContent-Type: text/plain\r\n"), 200);
  EXPECT_EQ(status("Content-Type: application/json\r\n"), 200);
  // Reads are not state-changing: a cross-site GET is left to CORS.
  RawConnection get(port());
  get.Send(Get("/hello", "Origin: http://attacker.example\r\n"));
  EXPECT_EQ(StatusOf(get.ReadResponse(seconds(5))), 200);
}

TEST_F(HttpLimitsTest, WithTokensTheBrowserChecksGiveWayToTheToken) {
  auto auth = std::make_shared<TokenAuthenticator>();
  ASSERT_TRUE(auth->Add("ops", Role::kOperator, "o-token").ok());
  Start(HttpLimits{}, auth);
  RawConnection c(port());
  c.Send(
      "PUT /echo HTTP/1.1\r\nHost: hive.example.com\r\nOrigin: https://ci.example.com\r\n"
      "Authorization: Bearer o-token\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(StatusOf(c.ReadResponse(seconds(5))), 200);
}

}  // namespace
}  // namespace hive
