// HttpClient against a real HttpServer on 127.0.0.1:0: https with server
// verification (chain and host name) and client certificates, the errors a
// refused certificate gives, and Cancel() from another thread in each phase
// of a request. Certificates come from tests/support/tls_certs.h.
#include "hive/core/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "hive/core/http.h"
#include "process.h"
#include "temp_dir.h"
#include "tls_certs.h"

namespace hive {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::TempDir;
using testing::TlsCerts;

// Cancels `c` while `pending` (a request of `c`'s on another thread) is in
// flight; that request must end within 5 s as Aborted.
void ExpectCancelAborts(HttpClient& c, std::future<Result<HttpClientResponse>>& pending) {
  const auto start = std::chrono::steady_clock::now();
  c.Cancel();
  ASSERT_EQ(pending.wait_for(seconds(5)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  auto r = pending.get();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsAborted()) << r.status().ToString();
}

class HttpClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("hive-http-client-test");
    auto certs = testing::MakeTlsCerts(dir_->path());
    if (certs) certs_ = new TlsCerts(*certs);
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(certs_, nullptr) << "openssl could not make certificates"; }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // A server with /hello (counted) and /wait, a blocking query that answers
  // after 30 s; `tls.cert_file` empty: plain HTTP.
  void StartServer(TlsOptions tls) {
    HttpServerOptions o;
    o.port = 0;
    o.worker_threads = 2;
    o.tls = std::move(tls);
    o.access_log = AccessLog::kNone;
    server_ = std::make_unique<HttpServer>(o);
    server_->Route("GET", "/hello", {Access::kRead}, [this](const HttpRequest&, HttpResponse& res) {
      ++hellos_;
      res.SetJson(R"({"hello":1})");
    });
    server_->Route("GET", "/wait", {Access::kRead}, [this](const HttpRequest&, HttpResponse& res) {
      ++waits_;
      res.Wait(nullptr, seconds(30), [](HttpResponse& r, bool last) {
        if (!last) return false;
        r.SetJson(R"({"waited":true})");
        return true;
      });
    });
    ASSERT_TRUE(server_->Start().ok());
  }
  void StartTlsServer(bool require_client_cert = false) {
    StartServer({.cert_file = certs_->server_cert,
                 .key_file = certs_->server_key,
                 .client_ca_file = require_client_cert ? certs_->ca : ""});
  }

  std::string HttpsUrl() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }

  static HttpClientOptions Options(std::string url, std::string ca_file = "") {
    HttpClientOptions o;
    o.base_url = std::move(url);
    o.ca_file = std::move(ca_file);
    o.connect_timeout = seconds(10);
    o.read_timeout = seconds(60);
    return o;
  }

  std::unique_ptr<HttpClient> Client(HttpClientOptions o) {
    auto c = HttpClient::Create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  static inline TempDir* dir_ = nullptr;
  static inline TlsCerts* certs_ = nullptr;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> hellos_{0};
  std::atomic<int> waits_{0};
};

TEST_F(HttpClientTest, HttpsVerifiesTheServerWithTheGivenCa) {
  StartTlsServer();
  auto c = Client(Options(HttpsUrl(), certs_->ca));
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 2; ++i) {  // the second request reuses the connection
    auto r = c->Get("/hello");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"hello":1})");
  }
  EXPECT_EQ(hellos_, 2);
  // localhost is in the certificate's subjectAltName too.
  auto by_name =
      Client(Options("https://localhost:" + std::to_string(server_->port()), certs_->ca));
  ASSERT_NE(by_name, nullptr);
  auto r = by_name->Get("/hello");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpClientTest, ServerCertificateOfAnotherCaIsRefused) {
  StartTlsServer();
  auto c = Client(Options(HttpsUrl(), certs_->other_ca));
  ASSERT_NE(c, nullptr);
  auto r = c->Get("/hello");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnavailable()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("the server's certificate could not be verified with the "
                                      "CA file " +
                                      certs_->other_ca + ": "),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("local issuer certificate"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(hellos_, 0);
}

TEST_F(HttpClientTest, WithoutCaFileTheSystemTrustStoreRefusesAPrivateCa) {
  StartTlsServer();
  auto c = Client(Options(HttpsUrl()));
  ASSERT_NE(c, nullptr);
  auto r = c->Get("/hello");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnavailable());
  EXPECT_NE(r.status().message().find("could not be verified with the system's trust store"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(hellos_, 0);
}

TEST_F(HttpClientTest, CertificateForAnotherHostIsRefused) {
  StartServer({.cert_file = certs_->wrong_host_cert, .key_file = certs_->wrong_host_key});
  auto c = Client(Options(HttpsUrl(), certs_->ca));
  ASSERT_NE(c, nullptr);
  auto r = c->Get("/hello");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnavailable());
  EXPECT_NE(r.status().message().find("could not be verified with the CA file " + certs_->ca +
                                      ": it is not issued for 127.0.0.1"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(hellos_, 0);
}

TEST_F(HttpClientTest, MutualTlsNeedsAClientCertificateOfTheServersCa) {
  StartTlsServer(/*require_client_cert=*/true);

  auto without = Client(Options(HttpsUrl(), certs_->ca));
  ASSERT_NE(without, nullptr);
  auto refused = without->Get("/hello");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsUnavailable());
  EXPECT_NE(refused.status().message().find("certificate"), std::string::npos)
      << refused.status().message();

  HttpClientOptions foreign = Options(HttpsUrl(), certs_->ca);
  foreign.cert_file = certs_->other_client_cert;
  foreign.key_file = certs_->other_client_key;
  auto other = Client(foreign);
  ASSERT_NE(other, nullptr);
  auto refused_too = other->Get("/hello");
  ASSERT_FALSE(refused_too.ok());
  EXPECT_TRUE(refused_too.status().IsUnavailable());
  EXPECT_EQ(hellos_, 0);

  HttpClientOptions with_cert = Options(HttpsUrl(), certs_->ca);
  with_cert.cert_file = certs_->client_cert;
  with_cert.key_file = certs_->client_key;
  auto c = Client(with_cert);
  ASSERT_NE(c, nullptr);
  auto r = c->Get("/hello");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(hellos_, 1);
}

TEST_F(HttpClientTest, CreateRefusesMisusedTlsFiles) {
  auto create = [](HttpClientOptions o) { return HttpClient::Create(std::move(o)).status(); };
  const std::string https = "https://127.0.0.1:7443";

  Status plain = create(Options("http://127.0.0.1:7070", certs_->ca));
  EXPECT_TRUE(plain.IsInvalidArgument());
  EXPECT_NE(plain.message().find("needs https://"), std::string::npos) << plain.message();

  const std::string missing = dir_->path() + "/missing.pem";
  Status no_ca = create(Options(https, missing));
  EXPECT_TRUE(no_ca.IsInvalidArgument());
  EXPECT_NE(no_ca.message().find("cannot load the CA file '" + missing + "'"), std::string::npos)
      << no_ca.message();

  const std::string not_pem = dir_->path() + "/not.pem";
  testing::WriteFile(not_pem, "hello\n");
  Status bad_ca = create(Options(https, not_pem));
  EXPECT_TRUE(bad_ca.IsInvalidArgument());
  EXPECT_NE(bad_ca.message().find(not_pem), std::string::npos) << bad_ca.message();

  HttpClientOptions half = Options(https, certs_->ca);
  half.cert_file = certs_->client_cert;
  Status only_cert = create(half);
  EXPECT_TRUE(only_cert.IsInvalidArgument());
  EXPECT_NE(only_cert.message().find("both"), std::string::npos) << only_cert.message();

  HttpClientOptions mismatched = Options(https, certs_->ca);
  mismatched.cert_file = certs_->client_cert;
  mismatched.key_file = certs_->server_key;
  Status wrong_key = create(mismatched);
  EXPECT_TRUE(wrong_key.IsInvalidArgument());
  EXPECT_NE(wrong_key.message().find("cannot load the key '" + certs_->server_key + "'"),
            std::string::npos)
      << wrong_key.message();

  HttpClientOptions no_cert = Options(https, certs_->ca);
  no_cert.cert_file = missing;
  no_cert.key_file = certs_->client_key;
  Status missing_cert = create(no_cert);
  EXPECT_TRUE(missing_cert.IsInvalidArgument());
  EXPECT_NE(missing_cert.message().find("cannot load the client certificate '" + missing + "'"),
            std::string::npos)
      << missing_cert.message();

  EXPECT_TRUE(create(Options("ftp://127.0.0.1:21")).IsInvalidArgument());
  EXPECT_TRUE(create(Options(https, certs_->ca)).ok());
}

// Cancel() from another thread ends a request that waits for its answer at
// once, over plain HTTP and over TLS, and every later request is Aborted.
TEST_F(HttpClientTest, CancelAbortsAWaitingRequestAndEveryLaterOne) {
  for (bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "https" : "http");
    if (tls) {
      StartTlsServer();
    } else {
      StartServer({});
    }
    const std::string url =
        tls ? HttpsUrl() : "http://127.0.0.1:" + std::to_string(server_->port());
    auto c = Client(Options(url, tls ? certs_->ca : ""));
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Get("/hello").ok());  // a kept-alive connection, then the wait on it
    const int waits_before = waits_;
    auto pending = std::async(std::launch::async, [&] { return c->Get("/wait"); });
    ASSERT_TRUE(testing::WaitFor([&] { return waits_ > waits_before; }, seconds(10)));
    ExpectCancelAborts(*c, pending);

    const int hellos = hellos_;
    auto later = c->Get("/hello");
    ASSERT_FALSE(later.ok());
    EXPECT_TRUE(later.status().IsAborted()) << later.status().ToString();
    EXPECT_EQ(hellos_, hellos);
    server_->Stop();
    server_.reset();
  }
}

// A TLS server that accepts the TCP connection but never answers the
// handshake: the request is inside httplib's connect/handshake, and Cancel()
// still ends it long before the connect timeout.
TEST_F(HttpClientTest, CancelAbortsATlsHandshakeInProgress) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  HttpClientOptions o =
      Options("https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), certs_->ca);
  o.connect_timeout = seconds(60);
  auto c = Client(o);
  ASSERT_NE(c, nullptr);
  auto pending = std::async(std::launch::async, [&] { return c->Get("/hello"); });
  // The connection is established (queued on the listener), so the client
  // now waits for the server's handshake.
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1);
  const int accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  char hello[16];
  ASSERT_GT(::recv(accepted, hello, sizeof hello, 0), 0);  // the ClientHello has been sent

  ExpectCancelAborts(*c, pending);
  ::close(accepted);
  ::close(listener);
}

// Cancel() racing a request's start on another thread, wherever it lands
// (before the check, between the check and the connect, during the connect
// or the wait): the request, which would otherwise wait 30 s, ends at once.
TEST_F(HttpClientTest, CancelRacingTheStartOfARequestAlwaysEndsIt) {
  StartServer({});
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());
  for (int i = 0; i < 50; ++i) {
    auto c = Client(Options(url));
    ASSERT_NE(c, nullptr);
    auto pending = std::async(std::launch::async, [&] { return c->Get("/wait"); });
    if (i % 2 == 1) std::this_thread::yield();
    c->Cancel();
    ASSERT_EQ(pending.wait_for(seconds(5)), std::future_status::ready) << "iteration " << i;
    auto r = pending.get();
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsAborted()) << r.status().ToString();
  }
}

TEST_F(HttpClientTest, CancelBeforeARequestSendsNothing) {
  StartServer({});
  auto c = Client(Options("http://127.0.0.1:" + std::to_string(server_->port())));
  ASSERT_NE(c, nullptr);
  c->Cancel();
  c->Cancel();
  auto r = c->Send("PUT", "/hello", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsAborted()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("cancelled"), std::string::npos);
  int status = 0;
  auto stream = c->GetStream("/hello", [&](std::string_view) {
    status = 1;
    return true;
  });
  EXPECT_TRUE(stream.status().IsAborted());
  EXPECT_EQ(status, 0);
  EXPECT_EQ(hellos_, 0);
}

}  // namespace
}  // namespace hive
