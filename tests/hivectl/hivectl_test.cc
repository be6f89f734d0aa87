#include "hive/ctl/hivectl.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hive/core/http.h"
#include "hive/core/text.h"
#include "temp_dir.h"
#include "tls_certs.h"

namespace hive::ctl {
namespace {

using nlohmann::json;

struct RecordedRequest {
  std::string method;
  std::string path;
  std::string body;
  std::vector<Header> query;
  std::optional<std::string> authorization;
  std::optional<std::string> if_match;
  std::optional<std::string> message;

  std::optional<std::string> Query(const std::string& name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};

struct Answer {
  int status = 200;
  std::string body;
};

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

// 2026-11-22T10:00:20Z: the canned instances were last seen 3 s and 2 min before.
const TimePoint kNow = FromUnixNanos(1'795'341'620'000'000'000);

// A fake hived: a real HttpServer on 127.0.0.1:0 whose routes answer in the
// docs/API.md shapes (or what a test sets with Answer()) and record requests.
class HivectlTest : public ::testing::Test {
 protected:
  HivectlTest() : clock_(kNow) {}

  void SetUp() override {
    Set("GET /api/v1/services",
        R"({"index":42,"services":[
             {"name":"orders","instances":2,"passing":1,"warning":0,"critical":1},
             {"name":"payments","instances":1,"passing":1,"warning":0,"critical":0}]})");
    Set("GET /api/v1/services/{service}", R"({"service":"orders","index":42,"instances":[
        {"service":"orders","id":"orders-1","address":"127.0.0.1","port":8081,"version":"1.4.2",
         "tags":[],"metadata":{},"ttl":"15s","health":{"status":"passing","output":""},
         "registered_at":"2026-11-22T10:00:00Z","last_seen":"2026-11-22T10:00:17Z",
         "lease_expires_at":"2026-11-22T10:00:32Z"},
        {"service":"orders","id":"orders-2","address":"10.0.0.7","port":8082,"version":"1.4.1",
         "tags":[],"metadata":{},"ttl":"15s","health":{"status":"critical","output":"lease expired"},
         "registered_at":"2026-11-22T09:50:00Z","last_seen":"2026-11-22T09:58:20Z",
         "lease_expires_at":"2026-11-22T09:58:35Z"}]})");
    Set("GET /api/v1/config/{app}/{profile}",
        R"({"app":"payments","profile":"demo","version":3,"index":17,
            "properties":{"failure_rate":0,"db.pool.size":5,"mode":"safe"},
            "property_sources":{"failure_rate":"payments/demo","db.pool.size":"payments/demo",
                                "mode":"payments/demo"},
            "sources":[{"app":"payments","profile":"demo","version":3}]})");
    Set("PUT /api/v1/config/{app}/{profile}",
        R"({"app":"payments","profile":"demo","version":4,"changed":true})");
    Set("GET /api/v1/config/{app}/{profile}/history",
        R"({"app":"payments","profile":"demo","versions":[
             {"version":3,"author":"ci-deployer","created_at":"2026-11-22T09:00:00Z","message":"pool 5"},
             {"version":2,"author":"alice","created_at":"2026-11-21T09:00:00Z","message":""}]})");
    Set("POST /api/v1/config/{app}/{profile}/rollback",
        R"({"app":"payments","profile":"demo","version":5,"changed":true})");
    Set("GET /api/v1/logs", R"({"events":[
        {"ts":"2026-11-22T10:00:02.5Z","service":"payments","instance":"payments-1","level":"error",
         "message":"card declined","trace_id":"4bf92f3577b34da6"},
        {"ts":"2026-11-22T10:00:01Z","service":"orders","instance":"orders-1","level":"info",
         "message":"order received"}]})");
    Set("GET /api/v1/traces/{trace_id}", R"({"trace_id":"4bf92f3577b34da6","events":[
        {"ts":"2026-11-22T10:00:01Z","service":"gateway","instance":"gw-1","level":"info",
         "message":"POST /orders","trace_id":"4bf92f3577b34da6"},
        {"trace_id":"4bf92f3577b34da6","span_id":"b7ad6b71","service":"orders","instance":"orders-1",
         "name":"POST /orders","kind":"server","start":"2026-11-22T10:00:01.010Z",
         "duration_ms":12.5,"status":"ok"}]})");

    HttpServerOptions options;
    options.port = 0;
    options.worker_threads = 4;
    options.access_log = AccessLog::kNone;
    server_ = std::make_unique<HttpServer>(options);
    for (const auto& [route, answer] : answers_) {
      const auto space = route.find(' ');
      server_->Route(route.substr(0, space), route.substr(space + 1), {Access::kRead},
                     [this, route = route](const HttpRequest& req, HttpResponse& res) {
                       Record(req);
                       std::lock_guard lock(mu_);
                       const Answer& a = answers_[route];
                       res.SetJson(a.body, a.status);
                     });
    }
    ASSERT_TRUE(server_->Start().ok());
    env_.vars["HIVE_ADDR"] = Addr();
    env_.clock = &clock_;
  }

  void TearDown() override { server_->Stop(); }

  std::string Addr() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  void Set(const std::string& route, std::string body, int status = 200) {
    std::lock_guard lock(mu_);
    answers_[route] = {status, std::move(body)};
  }

  void Record(const HttpRequest& req) {
    std::lock_guard lock(mu_);
    requests_.push_back({req.method, req.path, req.body, req.query,
                         req.HeaderValue("Authorization"), req.HeaderValue("If-Match"),
                         req.HeaderValue("X-Hive-Message")});
  }

  std::vector<RecordedRequest> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

  RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), "hivectl");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    RunResult r;
    r.code = RunHivectl(static_cast<int>(argv.size()), argv.data(), env_, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  FakeClock clock_;
  CtlEnvironment env_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::map<std::string, Answer> answers_;
  std::vector<RecordedRequest> requests_;
};

TEST_F(HivectlTest, ServicesPrintsAnAlignedTable) {
  RunResult r = Run({"services"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "NAME      INSTANCES  PASSING  WARNING  CRITICAL\n"
            "orders    2          1        0        1\n"
            "payments  1          1        0        0\n");
  ASSERT_EQ(Requests().size(), 1u);
  EXPECT_EQ(Requests()[0].path, "/api/v1/services");
}

TEST_F(HivectlTest, JsonOutputIsTheServersJsonPrettyPrinted) {
  RunResult r = Run({"services", "-o", "json"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  json printed = json::parse(r.out);
  EXPECT_EQ(printed["services"][0]["name"], "orders");
  EXPECT_EQ(printed["index"], 42);
  EXPECT_NE(r.out.find("\n  \"index\": 42"), std::string::npos) << r.out;
  // The global flag also works before the subcommand.
  EXPECT_EQ(json::parse(Run({"-o", "json", "services"}).out), printed);
}

TEST_F(HivectlTest, ServiceInstancesTable) {
  RunResult r = Run({"services", "orders", "--healthy"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "ID        ADDRESS         VERSION  HEALTH    LAST-SEEN  OUTPUT\n"
            "orders-1  127.0.0.1:8081  1.4.2    passing   3s ago\n"
            "orders-2  10.0.0.7:8082   1.4.1    critical  2m ago     lease expired\n");
  auto reqs = Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/api/v1/services/orders");
  EXPECT_EQ(reqs[0].Query("healthy"), "true");
}

TEST_F(HivectlTest, ServiceWithoutInstancesSaysSo) {
  Set("GET /api/v1/services/{service}", R"({"service":"ghost","index":1,"instances":[]})");
  RunResult r = Run({"services", "ghost"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "service ghost has no instances\n");
}

TEST_F(HivectlTest, PushKeyValuesKeepJsonScalarTypes) {
  RunResult r = Run({"config", "push", "payments", "--profile", "demo", "failure_rate=0.3",
                     "enabled=true", "retries=7", "fallback=null", "color=blue", "ratio=0.3x",
                     "empty=", "url=http://x/?a=b"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "payments/demo: version 4\n");
  auto reqs = Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].path, "/api/v1/config/payments/demo");
  EXPECT_FALSE(reqs[0].if_match.has_value());
  json body = json::parse(reqs[0].body);
  EXPECT_EQ(body, json({{"failure_rate", 0.3},
                        {"enabled", true},
                        {"retries", 7},
                        {"fallback", nullptr},
                        {"color", "blue"},
                        {"ratio", "0.3x"},
                        {"empty", ""},
                        {"url", "http://x/?a=b"}}));
  EXPECT_TRUE(body["failure_rate"].is_number_float());
  EXPECT_TRUE(body["retries"].is_number_integer());
}

TEST_F(HivectlTest, PushUnchangedSaysSo) {
  Set("PUT /api/v1/config/{app}/{profile}",
      R"({"app":"payments","profile":"demo","version":3,"changed":false})");
  RunResult r = Run({"config", "push", "payments", "--profile", "demo", "failure_rate=0"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "payments/demo: unchanged (version 3)\n");
}

TEST_F(HivectlTest, PushIfVersionSendsIfMatchAndMessage) {
  RunResult r = Run({"config", "push", "payments", "--profile", "demo", "a=1", "--if-version", "3",
                     "--message", "raise the failure rate"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  auto reqs = Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].if_match, "3");
  EXPECT_EQ(reqs[0].message, "raise the failure rate");
}

TEST_F(HivectlTest, PushConflictPrintsTheServerMessage) {
  Set("PUT /api/v1/config/{app}/{profile}",
      ErrorJson(Status::Aborted("payments/demo is at version 4, not 3")), 409);
  RunResult r =
      Run({"config", "push", "payments", "--profile", "demo", "a=1", "--if-version", "3"});
  EXPECT_EQ(r.code, kExitServerError);
  EXPECT_EQ(r.err, "error: payments/demo is at version 4, not 3\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(HivectlTest, BadInputIsAUsageErrorAndSendsNothing) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"config", "push", "payments", "--profile", "demo", "=5"},
           {"config", "push", "payments", "--profile", "demo", "failure_rate"},
           {"config", "push", "payments", "--profile", "demo", "a=1", "a=2"},
           {"config", "push", "Payments", "--profile", "demo", "a=1"},
           {"config", "push", "payments", "--profile", "de mo", "a=1"},
           {"config", "get", "payments", "--profile", "-bad"},
           {"services", "Orders"},
           {"logs", "--since", "yesterday"},
       }) {
    RunResult r = Run(args);
    EXPECT_EQ(r.code, kExitUsage) << args.back() << ": " << r.err;
    EXPECT_TRUE(r.err.starts_with("error: ") || r.err.find("Run with --help") != std::string::npos)
        << r.err;
  }
  EXPECT_TRUE(Requests().empty());
}

TEST_F(HivectlTest, ConfigGetTableKeyAndJson) {
  RunResult r = Run({"config", "get", "payments", "--profile", "demo"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "KEY           VALUE  SOURCE\n"
            "db.pool.size  5      payments/demo\n"
            "failure_rate  0      payments/demo\n"
            "mode          safe   payments/demo\n");
  RunResult one = Run({"config", "get", "payments", "--profile", "demo", "--key", "mode"});
  EXPECT_EQ(one.out, "KEY   VALUE  SOURCE\nmode  safe   payments/demo\n");
  RunResult value =
      Run({"config", "get", "payments", "--profile", "demo", "--key", "mode", "-o", "json"});
  EXPECT_EQ(value.out, "\"safe\"\n");
  RunResult missing = Run({"config", "get", "payments", "--profile", "demo", "--key", "nope"});
  EXPECT_EQ(missing.code, kExitServerError);
  EXPECT_EQ(missing.err, "error: key 'nope' is not set in payments/demo\n");
}

TEST_F(HivectlTest, ConfigGetNamesTheLayerEachKeyComesFrom) {
  Set("GET /api/v1/config/{app}/{profile}",
      R"({"app":"payments","profile":"demo","version":3,"index":17,
          "properties":{"log.level":"info","mode":"safe","region":"eu"},
          "property_sources":{"log.level":"application/default","mode":"payments/demo"},
          "sources":[{"app":"application","profile":"default","version":1},
                     {"app":"payments","profile":"demo","version":3}]})");
  RunResult r = Run({"config", "get", "payments", "--profile", "demo"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "KEY        VALUE  SOURCE\n"
            "log.level  info   application/default\n"
            "mode       safe   payments/demo\n"
            "region     eu     -\n");
}

TEST_F(HivectlTest, HistoryAndRollback) {
  RunResult h = Run({"config", "history", "payments", "--profile", "demo"});
  EXPECT_EQ(h.code, kExitOk) << h.err;
  EXPECT_EQ(h.out,
            "VERSION  AUTHOR       TIME                  MESSAGE\n"
            "3        ci-deployer  2026-11-22T09:00:00Z  pool 5\n"
            "2        alice        2026-11-21T09:00:00Z\n");
  RunResult r = Run({"config", "rollback", "payments", "--profile", "demo", "--to", "2"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "payments/demo: rolled back to version 2, now version 5\n");
  RunResult prev = Run({"config", "rollback", "payments", "--profile", "demo"});
  EXPECT_EQ(prev.out, "payments/demo: rolled back, now version 5\n");
  auto reqs = Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].path, "/api/v1/config/payments/demo/rollback");
  EXPECT_EQ(json::parse(reqs[1].body), json({{"to", 2}}));
  EXPECT_EQ(json::parse(reqs[2].body), json::object());
}

TEST_F(HivectlTest, LogsPrintsOldestFirstWithSinceAsTime) {
  RunResult r = Run({"logs", "--service", "payments", "--level", "error", "--since", "10m",
                     "--trace", "4bf92f3577b34da6", "--limit", "50"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(
      r.out,
      "2026-11-22T10:00:01.000Z orders/orders-1 INFO  order received\n"
      "2026-11-22T10:00:02.500Z payments/payments-1 ERROR [4bf92f3577b34da6] card declined\n");
  auto reqs = Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/api/v1/logs");
  EXPECT_EQ(reqs[0].Query("service"), "payments");
  EXPECT_EQ(reqs[0].Query("level"), "error");
  EXPECT_EQ(reqs[0].Query("trace_id"), "4bf92f3577b34da6");
  EXPECT_EQ(reqs[0].Query("limit"), "50");
  auto since = ParseRfc3339(reqs[0].Query("since").value_or(""));
  ASSERT_TRUE(since.ok());
  EXPECT_EQ(*since, kNow - std::chrono::minutes(10));

  RunResult absolute = Run({"logs", "--since", "2026-11-22T09:00:00Z"});
  EXPECT_EQ(absolute.code, kExitOk) << absolute.err;
  EXPECT_EQ(Requests()[1].Query("since"), "2026-11-22T09:00:00Z");
  EXPECT_EQ(Run({"logs", "--level", "loud"}).code, kExitUsage);
}

TEST_F(HivectlTest, TraceLinesIncludeSpans) {
  RunResult r = Run({"trace", "4bf92f3577b34da6"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "2026-11-22T10:00:01.000Z gateway/gw-1 INFO  [4bf92f3577b34da6] POST /orders\n"
            "2026-11-22T10:00:01.010Z orders/orders-1 SPAN  [4bf92f3577b34da6] span POST /orders "
            "12.5ms ok\n");
  EXPECT_EQ(Requests()[0].path, "/api/v1/traces/4bf92f3577b34da6");
}

TEST_F(HivectlTest, ServerErrorsExitOneWithTheMessage) {
  Set("GET /api/v1/traces/{trace_id}", ErrorJson(Status::NotFound("no events for trace 'zz'")),
      404);
  RunResult nf = Run({"trace", "zz"});
  EXPECT_EQ(nf.code, kExitServerError);
  EXPECT_EQ(nf.err, "error: no events for trace 'zz'\n");
  Set("GET /api/v1/logs", ErrorJson(Status::InvalidArgument("bad level 'x'")), 400);
  RunResult bad = Run({"logs"});
  EXPECT_EQ(bad.code, kExitServerError);
  EXPECT_EQ(bad.err, "error: bad level 'x'\n");
  Set("GET /api/v1/services", ErrorJson(Status::Unauthenticated("missing bearer token")), 401);
  RunResult unauth = Run({"services"});
  EXPECT_EQ(unauth.code, kExitServerError);
  EXPECT_EQ(unauth.err, "error: missing bearer token (set HIVE_TOKEN or pass --token)\n");
}

TEST_F(HivectlTest, UnreachableHivedExitsThree) {
  // A port that was just free: bound and closed again, so nothing listens.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  RunResult r = Run({"services", "--addr", url, "--timeout", "2s"});
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_EQ(r.err, "error: cannot reach hived at " + url +
                       ": connection failed (is hived running there?)\n");
  EXPECT_EQ(r.out, "");
}

// hivectl against an https hived: the CA from --ca-file or HIVE_CA_FILE,
// the client certificate from --cert-file/--key-file or HIVE_CERT_FILE/
// HIVE_KEY_FILE, and what a refused certificate prints.
class HivectlTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = hive::testing::MakeTlsCerts(dir_.path());
    ASSERT_TRUE(certs.has_value());
    certs_ = *certs;
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  void StartServer(bool require_client_cert) {
    HttpServerOptions o;
    o.port = 0;
    o.worker_threads = 2;
    o.access_log = AccessLog::kNone;
    o.tls = {.cert_file = certs_.server_cert,
             .key_file = certs_.server_key,
             .client_ca_file = require_client_cert ? certs_.ca : ""};
    server_ = std::make_unique<HttpServer>(o);
    server_->Route("GET", "/api/v1/services", {Access::kRead},
                   [](const HttpRequest&, HttpResponse& res) {
                     res.SetJson(R"({"index":1,"services":[{"name":"orders","instances":1,)"
                                 R"("passing":1,"warning":0,"critical":0}]})");
                   });
    ASSERT_TRUE(server_->Start().ok());
    addr_ = "https://127.0.0.1:" + std::to_string(server_->port());
  }

  RunResult Run(std::vector<std::string> args, std::map<std::string, std::string> vars = {}) {
    args.insert(args.begin(), "hivectl");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    CtlEnvironment env;
    env.vars = std::move(vars);
    env.vars.emplace("HIVE_ADDR", addr_);
    std::ostringstream out, err;
    RunResult r;
    r.code = RunHivectl(static_cast<int>(argv.size()), argv.data(), env, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  hive::testing::TempDir dir_;
  hive::testing::TlsCerts certs_;
  std::unique_ptr<HttpServer> server_;
  std::string addr_;
};

TEST_F(HivectlTlsTest, VerifiesHivedWithTheCaFromTheFlagOrTheEnvironment) {
  StartServer(/*require_client_cert=*/false);
  const std::string table =
      "NAME    INSTANCES  PASSING  WARNING  CRITICAL\norders  1          1        0        0\n";
  RunResult flag = Run({"services", "--ca-file", certs_.ca});
  EXPECT_EQ(flag.code, kExitOk) << flag.err;
  EXPECT_EQ(flag.out, table);
  RunResult env = Run({"services"}, {{"HIVE_CA_FILE", certs_.ca}});
  EXPECT_EQ(env.code, kExitOk) << env.err;
  EXPECT_EQ(env.out, table);
  // The flag wins over the environment.
  RunResult both = Run({"services", "--ca-file", certs_.ca}, {{"HIVE_CA_FILE", certs_.other_ca}});
  EXPECT_EQ(both.code, kExitOk) << both.err;
}

TEST_F(HivectlTlsTest, AnUnverifiedCertificateExitsThreeAndSaysWhy) {
  StartServer(/*require_client_cert=*/false);
  RunResult r = Run({"services", "--ca-file", certs_.other_ca});
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: cannot reach hived at " + addr_ +
                       ": the server's certificate could not be verified with the CA file " +
                       certs_.other_ca +
                       ": unable to get local issuer certificate (give hived's CA with --ca-file "
                       "or HIVE_CA_FILE)\n");
  RunResult system = Run({"services"});
  EXPECT_EQ(system.code, kExitUnreachable);
  EXPECT_NE(system.err.find("could not be verified with the system's trust store"),
            std::string::npos)
      << system.err;
}

TEST_F(HivectlTlsTest, PresentsTheClientCertificateAHivedRequires) {
  StartServer(/*require_client_cert=*/true);
  RunResult without = Run({"services", "--ca-file", certs_.ca});
  EXPECT_EQ(without.code, kExitUnreachable);
  EXPECT_NE(without.err.find("error: cannot reach hived at " + addr_), std::string::npos)
      << without.err;
  EXPECT_NE(without.err.find("certificate required (hived wants a client certificate: "
                             "--cert-file and --key-file)"),
            std::string::npos)
      << without.err;

  RunResult flags = Run({"services", "--ca-file", certs_.ca, "--cert-file", certs_.client_cert,
                         "--key-file", certs_.client_key});
  EXPECT_EQ(flags.code, kExitOk) << flags.err;
  RunResult env = Run({"services"}, {{"HIVE_CA_FILE", certs_.ca},
                                     {"HIVE_CERT_FILE", certs_.client_cert},
                                     {"HIVE_KEY_FILE", certs_.client_key}});
  EXPECT_EQ(env.code, kExitOk) << env.err;
}

TEST_F(HivectlTlsTest, MisusedTlsFilesAreUsageErrors) {
  StartServer(/*require_client_cert=*/false);
  RunResult http = Run({"services", "--addr", "http://127.0.0.1:7070", "--ca-file", certs_.ca});
  EXPECT_EQ(http.code, kExitUsage);
  EXPECT_EQ(http.err,
            "error: --ca-file (HIVE_CA_FILE) needs an https:// hived address, got "
            "'http://127.0.0.1:7070'\n");
  const std::string missing = dir_ / "missing.pem";
  RunResult no_file = Run({"services", "--ca-file", missing});
  EXPECT_EQ(no_file.code, kExitUsage);
  EXPECT_NE(no_file.err.find("error: cannot load the CA file '" + missing + "'"), std::string::npos)
      << no_file.err;
  RunResult half = Run({"services", "--ca-file", certs_.ca, "--cert-file", certs_.client_cert});
  EXPECT_EQ(half.code, kExitUsage);
  EXPECT_NE(half.err.find("both"), std::string::npos) << half.err;
}

TEST_F(HivectlTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({}).code, kExitUsage);
  EXPECT_EQ(Run({"frobnicate"}).code, kExitUsage);
  EXPECT_EQ(Run({"services", "--nope"}).code, kExitUsage);
  EXPECT_EQ(Run({"services", "-o", "yaml"}).code, kExitUsage);
  EXPECT_EQ(Run({"config", "push", "payments", "a=1"}).code, kExitUsage);  // no --profile
  EXPECT_EQ(Run({"config", "push", "payments", "--profile", "demo"}).code, kExitUsage);
  EXPECT_EQ(
      Run({"config", "push", "payments", "--profile", "demo", "a=1", "--if-version", "x"}).code,
      kExitUsage);
  EXPECT_EQ(Run({"logs", "--limit", "0"}).code, kExitUsage);
  EXPECT_EQ(Run({"services", "--timeout", "soon"}).code, kExitUsage);
  EXPECT_EQ(Run({"services", "--addr", "ftp://x"}).code, kExitUsage);
  EXPECT_TRUE(Requests().empty());
  RunResult help = Run({"--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_NE(help.out.find("Exit codes:"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("3  hived could not be reached"), std::string::npos);
}

TEST_F(HivectlTest, AddressAndTokenComeFromTheEnvironment) {
  env_.vars["HIVE_TOKEN"] = "env-token";
  EXPECT_EQ(Run({"services"}).code, kExitOk);
  EXPECT_EQ(Run({"services", "--token", "flag-token"}).code, kExitOk);
  auto reqs = Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].authorization, "Bearer env-token");
  EXPECT_EQ(reqs[1].authorization, "Bearer flag-token");

  // An address given without a scheme means http://.
  env_.vars["HIVE_ADDR"] = "127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(Run({"services"}).code, kExitOk);
  EXPECT_EQ(Requests().size(), 3u);
}

}  // namespace
}  // namespace hive::ctl
