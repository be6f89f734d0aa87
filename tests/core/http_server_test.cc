#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "http_wire.h"

namespace hive {
namespace {

using nlohmann::json;

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(std::shared_ptr<const TokenAuthenticator> auth = nullptr) {
    HttpServerOptions opts;
    opts.port = 0;
    opts.max_body_bytes = 1024;
    opts.worker_threads = 4;
    opts.auth = std::move(auth);
    server_ = std::make_unique<HttpServer>(opts);
    server_->Route("GET", "/api/v1/services/{service}/instances/{id}", {Access::kRead},
                   [](const HttpRequest& req, HttpResponse& res) {
                     res.SetJson(json{{"service", req.PathParam("service")},
                                      {"id", req.PathParam("id")},
                                      {"who", req.principal.name}}
                                     .dump());
                   });
    server_->Route(
        "GET", "/api/v1/services/{service}/instances/special", {Access::kRead},
        [](const HttpRequest&, HttpResponse& res) { res.SetJson(R"({"literal":true})"); });
    server_->Route("PUT", "/echo", {Access::kOperate},
                   [](const HttpRequest& req, HttpResponse& res) {
                     res.SetJson(json{{"size", req.body.size()}, {"body", req.body}}.dump());
                   });
    server_->Route("POST", "/big", {Access::kAgent, 4096},
                   [](const HttpRequest& req, HttpResponse& res) {
                     res.SetJson(json{{"size", req.body.size()}}.dump());
                   });
    server_->Route("GET", "/boom", {Access::kRead},
                   [](const HttpRequest&, HttpResponse&) { throw std::runtime_error("kaboom"); });
    server_->Route("GET", "/assets/{path*}", {Access::kPublic},
                   [](const HttpRequest& req, HttpResponse& res) {
                     res.SetJson(json{{"path", req.PathParam("path")}}.dump());
                   });
    server_->Route("GET", "/stream", {Access::kRead}, [](const HttpRequest&, HttpResponse& res) {
      auto n = std::make_shared<int>(0);
      res.content_type = "text/event-stream";
      res.Stream(nullptr, std::chrono::minutes(1), [n](StreamSink& sink) {
        if (*n == 3) return false;
        return sink.Write("data: " + std::to_string((*n)++) + "\n\n");
      });
    });
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }

  std::unique_ptr<HttpClient> Client(std::string token = "",
                                     RequestCoding coding = RequestCoding::kIdentity) {
    HttpClientOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
    o.bearer_token = std::move(token);
    o.request_coding = coding;
    auto c = HttpClient::Create(o);
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  }

  // Sends raw bytes and returns the whole answer (the server closes or the read times out).
  std::string Raw(const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos && out.find("}}") != std::string::npos) break;
    }
    ::close(fd);
    return out;
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, RoutesWithParamsAndPrefersLiterals) {
  StartServer();
  auto c = Client();
  auto r = c->Get("/api/v1/services/orders/instances/orders-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  auto j = json::parse(r->body);
  EXPECT_EQ(j["service"], "orders");
  EXPECT_EQ(j["id"], "orders-1");
  EXPECT_EQ(j["who"], "anonymous");
  EXPECT_EQ(json::parse(c->Get("/api/v1/services/x/instances/special")->body)["literal"], true);
  EXPECT_EQ(json::parse(c->Get("/assets/js/app.js")->body)["path"], "js/app.js");
}

TEST_F(HttpServerTest, UnknownRouteAndMethodAreJsonErrors) {
  StartServer();
  auto c = Client();
  auto r = c->Get("/nope");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "not_found");
  auto m = c->Send("POST", "/healthz", "{}");
  EXPECT_EQ(m->status, 405);
  EXPECT_EQ(json::parse(m->body)["error"]["code"], "invalid_argument");
}

TEST_F(HttpServerTest, BodyLimitCoversContentLengthChunkedAndPerRoute) {
  StartServer();
  auto c = Client();
  auto small = c->Send("PUT", "/echo", std::string(100, 'x'));
  EXPECT_EQ(small->status, 200);
  auto big = c->Send("PUT", "/echo", std::string(2000, 'x'));
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(json::parse(big->body)["error"]["code"], "too_large");
  // The /big route allows 4096 bytes even though the server default is 1024.
  EXPECT_EQ(c->Send("POST", "/big", std::string(3000, 'x'))->status, 200);
  EXPECT_EQ(c->Send("POST", "/big", std::string(5000, 'x'))->status, 413);
  // Chunked bodies carry no Content-Length; the limit still holds.
  std::string chunk(1500, 'y');
  char size_hex[16];
  std::snprintf(size_hex, sizeof size_hex, "%zx", chunk.size());
  std::string raw = "PUT /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    std::string(size_hex) + "\r\n" + chunk + "\r\n0\r\n\r\n";
  std::string answer = Raw(raw);
  EXPECT_NE(answer.find("413"), std::string::npos) << answer.substr(0, 200);
  EXPECT_NE(answer.find("too_large"), std::string::npos);
  // The server keeps serving.
  EXPECT_EQ(c->Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, GzipAndZstdBodiesAreDecodedAndBombsStopped) {
  StartServer();
  // The client compresses from 1 KiB; /echo takes up to 1 KiB.
  const std::string text = "hello " + std::string(1018, 'x');
  for (RequestCoding coding : {RequestCoding::kGzip, RequestCoding::kZstd}) {
    SCOPED_TRACE(coding == RequestCoding::kGzip ? "gzip" : "zstd");
    auto c = Client("", coding);
    auto r = c->Send("PUT", "/echo", text);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(json::parse(r->body)["body"], text);
    // 100 KB of zeros compresses to ~100 bytes but decodes over the limit.
    auto bomb = c->Send("PUT", "/echo", std::string(100'000, '\0'));
    EXPECT_EQ(bomb->status, 413);
    EXPECT_EQ(c->Get("/healthz")->status, 200);
  }
  auto plain = Client();
  // Corrupt and cut-short data are the client's error.
  for (const char* coding : {"gzip", "zstd"}) {
    auto bad = plain->Send("PUT", "/echo", std::string(64, 'z'), "application/json",
                           {{"Content-Encoding", coding}});
    EXPECT_EQ(bad->status, 400) << coding;
    EXPECT_EQ(json::parse(bad->body)["error"]["code"], "invalid_argument");
  }
  const std::string zstd = http_internal::Zstd(text);
  auto cut = plain->Send("PUT", "/echo", zstd.substr(0, zstd.size() - 3), "application/json",
                         {{"Content-Encoding", "zstd"}});
  EXPECT_EQ(cut->status, 400) << cut->body;
  // Two frames one after the other are one body, as two gzip members are.
  auto two = plain->Send("PUT", "/echo", http_internal::Zstd("hello ") + http_internal::Zstd("you"),
                         "application/json", {{"Content-Encoding", "zstd"}});
  ASSERT_EQ(two->status, 200) << two->body;
  EXPECT_EQ(json::parse(two->body)["body"], "hello you");
  // A coding hived does not read: 415, naming the ones it does.
  auto unknown = plain->Send("PUT", "/echo", "x", "application/json", {{"Content-Encoding", "br"}});
  EXPECT_EQ(unknown->status, 415);
  EXPECT_EQ(unknown->HeaderValue("Accept-Encoding"), "gzip, deflate, zstd");
  EXPECT_NE(unknown->body.find("zstd"), std::string::npos) << unknown->body;
}

TEST_F(HttpServerTest, ExceptionsBecomeCounted500s) {
  StartServer();
  auto c = Client();
  auto r = c->Get("/boom");
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "internal");
  EXPECT_EQ(c->Get("/healthz")->status, 200);
  auto m = c->Get("/metrics");
  ASSERT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("hive_http_handler_exceptions_total 1"), std::string::npos);
  EXPECT_NE(m->body.find("hive_http_requests_total{code=\"500\",method=\"GET\",route=\"/boom\"} 1"),
            std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("process_resident_memory_bytes"), std::string::npos);
}

TEST_F(HttpServerTest, TokensAndRoles) {
  auto auth = std::make_shared<TokenAuthenticator>();
  ASSERT_TRUE(auth->Add("viewer", Role::kReader, "r-token").ok());
  ASSERT_TRUE(auth->Add("deployer", Role::kOperator, "o-token").ok());
  StartServer(auth);
  auto anon = Client();
  auto r = anon->Get("/api/v1/services/a/instances/b");
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "unauthenticated");
  EXPECT_EQ(anon->Get("/healthz")->status, 200);  // public
  EXPECT_EQ(Client("wrong")->Get("/api/v1/services/a/instances/b")->status, 401);
  auto reader = Client("r-token");
  auto ok = reader->Get("/api/v1/services/a/instances/b");
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(json::parse(ok->body)["who"], "viewer");
  auto denied = reader->Send("PUT", "/echo", "x");
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(json::parse(denied->body)["error"]["code"], "permission_denied");
  EXPECT_EQ(Client("o-token")->Send("PUT", "/echo", "x")->status, 200);
  // A refused body must not poison the kept-alive connection it came on.
  EXPECT_EQ(reader->Send("PUT", "/echo", std::string(500, 'z'))->status, 403);
  EXPECT_EQ(reader->Get("/api/v1/services/a/instances/b")->status, 200);
}

TEST(HttpRequestTest, BoolQueryTakesYesNoAndRefusesTheRest) {
  HttpRequest req;
  req.query = {{"a", ""}, {"b", "true"}, {"c", "1"}, {"d", "false"}, {"e", "0"}, {"f", "yes"}};
  EXPECT_TRUE(*req.BoolQuery("a"));
  EXPECT_TRUE(*req.BoolQuery("b"));
  EXPECT_TRUE(*req.BoolQuery("c"));
  EXPECT_FALSE(*req.BoolQuery("d"));
  EXPECT_FALSE(*req.BoolQuery("e"));
  EXPECT_FALSE(*req.BoolQuery("absent"));
  EXPECT_TRUE(*req.BoolQuery("absent", true));
  Result<bool> bad = req.BoolQuery("f");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "f must be true or false, not \"yes\"");
}

TEST_F(HttpServerTest, WhoamiNamesTheCallerAndRole) {
  auto auth = std::make_shared<TokenAuthenticator>();
  ASSERT_TRUE(auth->Add("ops-alice", Role::kOperator, "o-token").ok());
  StartServer(auth);
  EXPECT_EQ(Client()->Get("/api/v1/whoami")->status, 401);
  auto r = Client("o-token")->Get("/api/v1/whoami");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"({"name":"ops-alice","role":"operator","authenticated":true})"));
}

TEST_F(HttpServerTest, WhoamiListsTheServicesOfAScopedToken) {
  auto auth = std::make_shared<TokenAuthenticator>();
  ASSERT_TRUE(auth->Add("pay-1", Role::kAgent, "p-token", {"payments", "ledger"}).ok());
  StartServer(auth);
  auto r = Client("p-token")->Get("/api/v1/whoami");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"name":"pay-1","role":"agent",)"
                                              R"("authenticated":true,)"
                                              R"("services":["ledger","payments"]})"));
}

TEST_F(HttpServerTest, WhoamiWithoutTokensIsTheAnonymousAdmin) {
  StartServer();
  auto r = Client()->Get("/api/v1/whoami");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"({"name":"anonymous","role":"admin","authenticated":false})"));
}

TEST_F(HttpServerTest, ReadinessAndStreams) {
  StartServer();
  auto c = Client();
  EXPECT_EQ(c->Get("/readyz")->status, 200);
  std::string got;
  auto s = c->GetStream("/stream", [&](std::string_view d) {
    got.append(d);
    return true;
  });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, 200);
  EXPECT_EQ(got, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

TEST_F(HttpServerTest, PortInUseIsUnavailable) {
  StartServer();
  HttpServerOptions opts;
  opts.port = server_->port();
  HttpServer second(opts);
  EXPECT_TRUE(second.Listen().IsUnavailable());
}

TEST(HttpServerLifecycleTest, StopRightAfterStartOrListenFreesThePort) {
  for (int i = 0; i < 20; ++i) {
    HttpServerOptions opts;
    opts.port = 0;
    opts.worker_threads = 2;
    HttpServer started(opts);
    ASSERT_TRUE(started.Start().ok());
    const int port = started.port();
    started.Stop();
    HttpServer listened(opts);
    ASSERT_TRUE(listened.Listen().ok());
    listened.Stop();
    // Nothing listens on the port any more: it can be bound again.
    HttpServerOptions again = opts;
    again.port = port;
    HttpServer rebind(again);
    EXPECT_TRUE(rebind.Listen().ok()) << "iteration " << i;
  }
}

// httplib's own backlog of 5 dropped connection bursts (agents reconnecting
// after a restart); the server raises it to SOMAXCONN.
TEST(HttpServerLifecycleTest, AcceptsABurstOfConnectionsBeforeServing) {
  HttpServerOptions opts;
  opts.port = 0;
  opts.worker_threads = 2;
  HttpServer server(opts);
  ASSERT_TRUE(server.Listen().ok());  // bound, but nothing accepts yet
  constexpr int kConnections = 100;
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fds.push_back(fd);
  }
  int established = 0;
  for (int fd : fds) {
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t len = sizeof error;
    if (::poll(&p, 1, 500) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 &&
        error == 0) {
      ++established;
    }
    ::close(fd);
  }
  EXPECT_EQ(established, kConnections);
  server.Stop();
}

TEST(HttpServerLifecycleTest, ARouteRegisteredTwiceIsAProgrammingError) {
  HttpServer server(HttpServerOptions{});
  auto handler = [](const HttpRequest&, HttpResponse& res) { res.SetJson("{}"); };
  server.Route("GET", "/a/{x}", {}, handler);
  server.Route("PUT", "/a/{x}", {}, handler);  // another method is another route
  EXPECT_THROW(server.Route("GET", "/a/{x}", {}, handler), std::logic_error);
  EXPECT_THROW(server.Route("GET", "/metrics", {}, handler), std::logic_error);  // built in
}

TEST(HostPortTest, Parses) {
  std::string host;
  int port;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:7070", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7070);
  ASSERT_TRUE(ParseHostPort("[::1]:80", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(ParseHostPort("nohost", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("h:99999", &host, &port).ok());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.nip.io"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
}

}  // namespace
}  // namespace hive
