// Scoped tokens against a real hived: an agent token that names its services
// acts only for them, on every route that names a service or application,
// while fleet-wide reads stay open to it.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "hive_processes.h"

namespace hive::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr char kInstance[] = R"({"address":"127.0.0.1","port":8081})";

class ScopedTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTestDir();
    std::ofstream(dir_ + "/tokens.yaml")
        << "tokens:\n"
           "  - {name: payments-agent, role: agent, token: pay-token, services: [payments]}\n"
           "  - {name: orders-agent, role: agent, token: ord-token, services: [orders]}\n"
           "  - {name: ops, role: operator, token: op-token}\n"
           "  - {name: payments-ops, role: operator, token: pay-op-token, services: [payments]}\n"
           "  - {name: root, role: admin, token: admin-token}\n";
    std::ofstream(dir_ + "/secrets.key") << std::string(64, 'b') << "\n";
    std::filesystem::permissions(dir_ + "/secrets.key", std::filesystem::perms::owner_read |
                                                            std::filesystem::perms::owner_write);
    hived_ = std::make_unique<HivedProcess>(
        dir_, std::vector<std::string>{"--tokens-file", dir_ + "/tokens.yaml",
                                       "--secrets-key-file", dir_ + "/secrets.key"});
    ASSERT_FALSE(hived_->url().empty()) << hived_->process().Stderr();
    pay_ = ClientFor(hived_->url(), "pay-token");
    ord_ = ClientFor(hived_->url(), "ord-token");
    admin_ = ClientFor(hived_->url(), "admin-token");
  }

  void TearDown() override {
    pay_.reset();
    ord_.reset();
    admin_.reset();
    if (hived_) {
      EXPECT_EQ(hived_->process().Signal(SIGTERM, seconds(15)), 0);
    }
  }

  static void ExpectStatus(const Result<HttpClientResponse>& r, int status,
                           const std::string& what) {
    ASSERT_TRUE(r.ok()) << what;
    EXPECT_EQ(r->status, status) << what << ": " << r->body;
  }

  // The 403 a scoped token gets, naming what it may act for.
  static void ExpectOutOfScope(const Result<HttpClientResponse>& r, const std::string& what) {
    ExpectJsonError(r, 403, what);
    if (r.ok()) {
      EXPECT_NE(r->body.find("it is scoped to: payments"), std::string::npos) << r->body;
    }
  }

  // OTLP answers errors as a google.rpc.Status: PERMISSION_DENIED is 7.
  static void ExpectOtlpOutOfScope(const Result<HttpClientResponse>& r, const std::string& what) {
    ASSERT_TRUE(r.ok()) << what;
    EXPECT_EQ(r->status, 403) << what << ": " << r->body;
    json j = json::parse(r->body, nullptr, false);
    EXPECT_EQ(j.value("code", 0), 7) << what << ": " << r->body;
    EXPECT_NE(j.value("message", "").find("it is scoped to: payments"), std::string::npos)
        << r->body;
  }

  size_t LogCount(const std::string& service) {
    auto r = admin_->Get("/api/v1/logs?service=" + service + "&limit=1000");
    if (!r.ok() || r->status != 200) return 0;
    return json::parse(r->body)["events"].size();
  }

  std::string dir_;
  std::unique_ptr<HivedProcess> hived_;
  std::unique_ptr<HttpClient> pay_, ord_, admin_;
};

TEST_F(ScopedTokensTest, RegistryWritesOnlyForItsServices) {
  ExpectStatus(ord_->Send("PUT", "/api/v1/services/orders/instances/o1", kInstance), 200,
               "orders registers its own");
  ExpectStatus(pay_->Send("PUT", "/api/v1/services/payments/instances/p1", kInstance), 200,
               "payments registers its own");

  ExpectOutOfScope(pay_->Send("PUT", "/api/v1/services/orders/instances/evil",
                              R"({"address":"10.6.6.6","port":443})"),
                   "register into another service");
  ExpectOutOfScope(pay_->Send("PUT", "/api/v1/services/orders/instances/o1",
                              R"({"address":"10.6.6.6","port":443})"),
                   "replace another service's instance");
  ExpectOutOfScope(pay_->Send("PUT", "/api/v1/services/orders/instances/o1/heartbeat", "{}"),
                   "heartbeat another service's instance");
  ExpectOutOfScope(pay_->Send("DELETE", "/api/v1/services/orders/instances/o1"),
                   "deregister another service's instance");
  ExpectJsonError(ClientFor(hived_->url(), "pay-op-token")
                      ->Send("PUT", "/api/v1/services/orders/instances/o1/maintenance",
                             R"({"enabled":true})"),
                  403, "a scoped operator's maintenance of another service");

  // Discovery is fleet-wide: payments finds orders, untouched.
  auto orders = pay_->Get("/api/v1/services/orders");
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->status, 200) << orders->body;
  json j = json::parse(orders->body);
  ASSERT_EQ(j["instances"].size(), 1u) << orders->body;
  EXPECT_EQ(j["instances"][0]["id"], "o1");
  EXPECT_EQ(j["instances"][0]["address"], "127.0.0.1");

  ExpectStatus(pay_->Send("PUT", "/api/v1/services/payments/instances/p1/heartbeat", "{}"), 200,
               "own heartbeat");
  ExpectStatus(pay_->Send("DELETE", "/api/v1/services/payments/instances/p1"), 200,
               "own deregistration");
  // Deregistering another service's instance is an operator's action.
  ExpectStatus(ClientFor(hived_->url(), "op-token")
                   ->Send("DELETE", "/api/v1/services/orders/instances/o1"),
               200, "an operator deregisters");
}

TEST_F(ScopedTokensTest, ConfigOnlyForItsApplicationsAndTheSharedOne) {
  for (const char* app : {"payments", "orders", "application"}) {
    ExpectStatus(admin_->Send("PUT", std::string("/api/v1/config/") + app + "/prod",
                              R"({"db.password":"{secret}hunter2","pool":4})"),
                 200, std::string("push ") + app);
  }
  auto own = pay_->Get("/api/v1/config/payments/prod");
  ASSERT_TRUE(own.ok());
  ASSERT_EQ(own->status, 200) << own->body;
  EXPECT_NE(own->body.find("hunter2"), std::string::npos) << "an agent reads its own secrets";
  ExpectStatus(pay_->Get("/api/v1/config/application/prod"), 200, "the shared defaults");

  for (const std::string path :
       {"/api/v1/config/orders/prod", "/api/v1/config/orders/prod?redact=true",
        "/api/v1/config/orders/prod/history", "/api/v1/config/orders/prod/versions/1",
        "/api/v1/config/orders/prod/diff", "/api/v1/config/orders/prod/rollout",
        "/api/v1/audit?app=orders"}) {
    ExpectOutOfScope(pay_->Get(path), "read " + path);
  }
  ExpectJsonError(pay_->Get("/api/v1/audit"), 403, "the audit of every application");
  ExpectStatus(pay_->Get("/api/v1/audit?app=payments"), 200, "its own audit");

  ExpectOutOfScope(pay_->Send("PUT", "/api/v1/config/orders/prod/applied/o1",
                              R"({"version":1,"status":"applied"})"),
                   "a rollout report for another application");
  auto pay_ops = ClientFor(hived_->url(), "pay-op-token");
  ExpectOutOfScope(pay_ops->Send("PUT", "/api/v1/config/orders/prod", R"({"pool":1})"),
                   "a scoped operator pushes another application");
  ExpectOutOfScope(pay_ops->Send("POST", "/api/v1/config/orders/prod/rollback", R"({"to":1})"),
                   "a scoped operator rolls another application back");
  ExpectOutOfScope(pay_ops->Send("DELETE", "/api/v1/config/orders/prod"),
                   "a scoped operator deletes another application");
  ExpectJsonError(pay_ops->Send("PUT", "/api/v1/config/application/prod", R"({"pool":1})"), 403,
                  "a scoped operator writes the shared defaults");
  ExpectStatus(pay_ops->Send("PUT", "/api/v1/config/payments/prod", R"({"pool":8})"), 200,
               "a scoped operator pushes its own");

  // Nothing of orders changed.
  auto history = json::parse(admin_->Get("/api/v1/config/orders/prod/history")->body);
  EXPECT_EQ(history["versions"].size(), 1u) << history.dump();
}

TEST_F(ScopedTokensTest, IngestOnlyOfItsServicesEvents) {
  const std::string own = R"({"service":"payments","level":"info","message":"ok"})" "\n";
  const std::string foreign = R"({"service":"orders","level":"error","message":"forged"})" "\n";
  ExpectStatus(pay_->Send("POST", "/api/v1/ingest/logs", own), 200, "own log line");
  ExpectOutOfScope(pay_->Send("POST", "/api/v1/ingest/logs", own + foreign),
                   "a batch with another service's line");
  // A line without a service is filed under the token's one service.
  ExpectStatus(pay_->Send("POST", "/api/v1/ingest/logs", R"({"message":"no service"})" "\n"),
               200, "a line without a service");
  EXPECT_EQ(LogCount("payments"), 2u);
  EXPECT_EQ(LogCount("orders"), 0u);

  ExpectOutOfScope(
      pay_->Send("POST", "/api/v1/ingest/spans",
                 R"({"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",)"
                 R"("service":"orders","kind":"server","duration_ms":5})"
                 "\n"),
      "another service's span");
  ExpectOutOfScope(pay_->Send("POST", "/api/v1/ingest/metrics?service=orders&instance=o1",
                              "http_requests_total 5\n"),
                   "another service's metrics");
  ExpectStatus(pay_->Send("POST", "/api/v1/ingest/metrics?service=payments&instance=p1",
                          "http_requests_total 5\n"),
               200, "own metrics");

  const std::string otlp_logs =
      R"({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":)"
      R"({"stringValue":"orders"}}]},"scopeLogs":[{"logRecords":[{"severityNumber":17,)"
      R"("body":{"stringValue":"forged over OTLP"}}]}]}]})";
  ExpectOtlpOutOfScope(pay_->Send("POST", "/v1/logs", otlp_logs), "OTLP logs of another service");
  const std::string otlp_traces =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":)"
      R"({"stringValue":"orders"}}]},"scopeSpans":[{"spans":[{"traceId":)"
      R"("4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"GET /",)"
      R"("kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":)"
      R"("1700000000005000000"}]}]}]})";
  ExpectOtlpOutOfScope(pay_->Send("POST", "/v1/traces", otlp_traces), "OTLP spans of another service");
  const std::string otlp_metrics =
      R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":)"
      R"({"stringValue":"orders"}}]},"scopeMetrics":[{"metrics":[{"name":"queue_depth",)"
      R"("gauge":{"dataPoints":[{"asDouble":3,"timeUnixNano":"1700000000000000000"}]}}]}]}]})";
  ExpectOtlpOutOfScope(pay_->Send("POST", "/v1/metrics", otlp_metrics),
                       "OTLP metrics of another service");
  EXPECT_EQ(LogCount("orders"), 0u);
  auto trace = admin_->Get("/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_TRUE(trace.ok());
  if (trace->status == 200) {
    EXPECT_TRUE(json::parse(trace->body)["spans"].empty()) << trace->body;
  }

  // An unscoped admin still ingests for anyone.
  ExpectStatus(admin_->Send("POST", "/api/v1/ingest/logs", foreign), 200, "admin ingest");
  EXPECT_EQ(LogCount("orders"), 1u);
}

}  // namespace
}  // namespace hive::testing
