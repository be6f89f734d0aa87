// The config store's HTTP routes beyond push/get/history: formats by
// Content-Type, secrets redaction per role, audit, delete, diff, dry runs,
// rollout reports and watch latency. Real SQLite on disk, real HTTP on port 0.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "hive/config_store/config_store_service.h"
#include "hive/core/http_client.h"
#include "temp_dir.h"
#include "test_support.h"

namespace hive::config_store {
// A namespace of its own: a unity build compiles it with same-named helpers.
namespace service_features_test {
namespace {

using hive::testing::TempDir;
using nlohmann::json;
using testing::ClientOf;
using testing::StartConfigStore;

constexpr std::string_view kAdmin = "admin-token";
constexpr std::string_view kOperator = "operator-token";
constexpr std::string_view kReader = "reader-token";
constexpr std::string_view kAgent = "agent-token";
constexpr std::string_view kKey =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kDoc[] = "/api/v1/config/payments/prod";

class ServiceFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ConfigStoreOptions options;
    options.data_dir = dir_.path();
    registry_ = std::make_shared<prometheus::Registry>();
    options.metrics = registry_;
    auto box = SecretBox::FromKeyText(kKey);
    ASSERT_TRUE(box.ok());
    options.secrets = std::make_shared<SecretBox>(*box);
    auto auth = std::make_shared<TokenAuthenticator>();
    ASSERT_TRUE(auth->Add("root", Role::kAdmin, kAdmin).ok());
    ASSERT_TRUE(auth->Add("ci-deployer", Role::kOperator, kOperator).ok());
    ASSERT_TRUE(auth->Add("dashboard", Role::kReader, kReader).ok());
    ASSERT_TRUE(auth->Add("payments-1", Role::kAgent, kAgent).ok());
    StartConfigStore(options, auth, &service_, &server_, AccessLog::kNone);
  }

  void TearDown() override {
    if (service_) service_->Stop();
    if (server_) server_->Stop();
  }

  std::unique_ptr<HttpClient> Client(std::string_view token) { return ClientOf(*server_, token); }

  HttpClientResponse Send(std::string_view token, std::string_view method, std::string_view path,
                          std::string_view body = {},
                          std::string_view content_type = "application/json") {
    auto r = Client(token)->Send(method, path, body, content_type);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  json GetJson(std::string_view token, std::string_view path) {
    auto r = Send(token, "GET", path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  static std::string ErrorMessage(const HttpClientResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j["error"].value("message", "") : "";
  }

  TempDir dir_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ConfigStoreService> service_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ServiceFeaturesTest, PushesYamlAndPropertiesByContentType) {
  auto yaml =
      Send(kOperator, "PUT", kDoc, "db:\n  pool:\n    size: 5\nrate: 0.5\n", "application/yaml");
  ASSERT_EQ(yaml.status, 200) << yaml.body;
  auto props = Send(kOperator, "PUT", kDoc, "db.pool.size=6\nrate=0.5\n", "text/x-java-properties");
  ASSERT_EQ(props.status, 200) << props.body;
  EXPECT_EQ(json::parse(props.body)["version"], 2);
  json effective = GetJson(kReader, kDoc);
  EXPECT_EQ(effective["properties"], (json{{"db.pool.size", "6"}, {"rate", "0.5"}}));
  auto x_yaml = Send(kOperator, "PUT", kDoc, "a: 1\n", "application/x-yaml");
  EXPECT_EQ(x_yaml.status, 200) << x_yaml.body;
  auto plain = Send(kOperator, "PUT", kDoc, "a=1\n", "text/plain");
  EXPECT_EQ(plain.status, 200) << plain.body;
}

TEST_F(ServiceFeaturesTest, BadDocumentsAreRejectedAndChangeNothing) {
  ASSERT_EQ(Send(kOperator, "PUT", kDoc, R"({"a":1})").status, 200);
  auto bad_yaml = Send(kOperator, "PUT", kDoc, "a: 1\nb: [2\n", "application/yaml");
  EXPECT_EQ(bad_yaml.status, 400);
  EXPECT_NE(ErrorMessage(bad_yaml).find("malformed YAML at line"), std::string::npos)
      << bad_yaml.body;
  auto bad_props = Send(kOperator, "PUT", kDoc, "ok=1\nb=\\uZZZZ\n", "text/x-java-properties");
  EXPECT_EQ(bad_props.status, 400);
  EXPECT_NE(ErrorMessage(bad_props).find("line 2, column"), std::string::npos) << bad_props.body;
  auto bad_key = Send(kOperator, "PUT", kDoc, "\"a b\": 1\n", "application/yaml");
  EXPECT_EQ(bad_key.status, 400);
  EXPECT_NE(ErrorMessage(bad_key).find("'a b'"), std::string::npos) << bad_key.body;
  auto bad_type = Send(kOperator, "PUT", kDoc, "<a/>", "application/xml");
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_NE(ErrorMessage(bad_type).find("Content-Type"), std::string::npos);
  auto huge = Send(kOperator, "PUT", kDoc, "k: " + std::string(kMaxDocumentBytes, 'x') + "\n",
                   "application/yaml");
  EXPECT_EQ(huge.status, 413);

  json history = GetJson(kReader, std::string(kDoc) + "/history");
  EXPECT_EQ(history["versions"].size(), 1u);
  EXPECT_EQ(GetJson(kReader, "/api/v1/audit")["entries"].size(), 1u);
  EXPECT_EQ(GetJson(kReader, kDoc)["properties"], (json{{"a", 1}}));
}

TEST_F(ServiceFeaturesTest, SecretsAreRedactedForReadersAndOperatorsOnly) {
  auto push = Send(kOperator, "PUT", kDoc, "db:\n  password: \"{secret}hunter2\"\n  user: app\n",
                   "application/yaml");
  ASSERT_EQ(push.status, 200) << push.body;
  EXPECT_EQ(push.body.find("hunter2"), std::string::npos) << "operators see the diff redacted";
  ASSERT_EQ(
      Send(kOperator, "PUT", kDoc, R"({"db":{"password":"{secret}s3cret","user":"app"}})").status,
      200);

  for (std::string_view token : {kReader, kOperator}) {
    json effective = GetJson(token, kDoc);
    EXPECT_EQ(effective["properties"]["db.password"], "<redacted>") << token;
    EXPECT_EQ(effective["secret_keys"], json::array({"db.password"}));
    EXPECT_EQ(GetJson(token, std::string(kDoc) + "/versions/1")["properties"]["db.password"],
              "<redacted>");
    json diff = GetJson(token, std::string(kDoc) + "/diff?from=1&to=2");
    EXPECT_EQ(diff["diff"]["changed"]["db.password"],
              (json{{"from", "<redacted>"}, {"to", "<redacted>"}}));
  }
  for (std::string_view token : {kAdmin, kAgent}) {
    EXPECT_EQ(GetJson(token, kDoc)["properties"]["db.password"], "s3cret") << token;
    EXPECT_EQ(GetJson(token, std::string(kDoc) + "/versions/1")["properties"]["db.password"],
              "hunter2");
    EXPECT_EQ(GetJson(token, std::string(kDoc) + "/diff")["diff"]["changed"]["db.password"],
              (json{{"from", "hunter2"}, {"to", "s3cret"}}));
  }
  // A redact or dry_run that is not a yes/no is refused before anything is done.
  EXPECT_EQ(Send(kAdmin, "GET", std::string(kDoc) + "?redact=maybe").status, 400);
  EXPECT_EQ(Send(kAdmin, "GET", std::string(kDoc) + "/diff?redact=maybe").status, 400);
  EXPECT_EQ(Send(kOperator, "PUT", std::string(kDoc) + "?dry_run=yes", R"({"x":1})").status, 400);
  EXPECT_EQ(GetJson(kReader, kDoc)["version"], 2);
  // ?redact=true hides them from a caller who could read them (the dashboard).
  EXPECT_EQ(GetJson(kAdmin, std::string(kDoc) + "?redact=true")["properties"]["db.password"],
            "<redacted>");
  EXPECT_EQ(
      GetJson(kAdmin, std::string(kDoc) + "/versions/1?redact=true")["properties"]["db.password"],
      "<redacted>");
  EXPECT_EQ(
      GetJson(kAdmin, std::string(kDoc) + "/diff?redact=true")["diff"]["changed"]["db.password"],
      (json{{"from", "<redacted>"}, {"to", "<redacted>"}}));
  const std::string history = Send(kAdmin, "GET", std::string(kDoc) + "/history").body;
  const std::string audit = Send(kAdmin, "GET", "/api/v1/audit").body;
  for (const std::string& body : {history, audit}) {
    EXPECT_EQ(body.find("hunter2"), std::string::npos) << body;
    EXPECT_EQ(body.find("s3cret"), std::string::npos) << body;
  }
  EXPECT_NE(audit.find("db.password"), std::string::npos);
}

TEST_F(ServiceFeaturesTest, AuditLogFiltersAndLimits) {
  ASSERT_EQ(Send(kOperator, "PUT", kDoc, R"({"a":1})").status, 200);
  ASSERT_EQ(Send(kOperator, "PUT", kDoc, R"({"a":2})").status, 200);
  ASSERT_EQ(Send(kAdmin, "PUT", "/api/v1/config/orders/prod", R"({"b":1})").status, 200);
  ASSERT_EQ(Send(kOperator, "POST", std::string(kDoc) + "/rollback").status, 200);
  ASSERT_EQ(Send(kOperator, "DELETE", kDoc).status, 200);

  json all = GetJson(kReader, "/api/v1/audit");
  ASSERT_EQ(all["entries"].size(), 5u);
  const json& newest = all["entries"][0];
  EXPECT_EQ(newest["action"], "delete");
  EXPECT_EQ(newest["actor"], "ci-deployer");
  EXPECT_EQ(newest["app"], "payments");
  EXPECT_EQ(newest["version"], 4);
  EXPECT_EQ(newest["removed"], json::array({"a"}));
  EXPECT_TRUE(newest.contains("at"));
  EXPECT_EQ(all["entries"][1]["action"], "rollback");
  EXPECT_EQ(all["entries"][2]["actor"], "root");

  EXPECT_EQ(GetJson(kReader, "/api/v1/audit?app=orders")["entries"].size(), 1u);
  EXPECT_EQ(GetJson(kReader, "/api/v1/audit?app=payments&profile=prod&limit=2")["entries"].size(),
            2u);
  EXPECT_EQ(GetJson(kReader, "/api/v1/audit?profile=dev")["entries"].size(), 0u);
  EXPECT_EQ(Send(kReader, "GET", "/api/v1/audit?limit=0").status, 400);
  EXPECT_EQ(Send(kReader, "GET", "/api/v1/audit?app=Bad!").status, 400);
}

TEST_F(ServiceFeaturesTest, DeleteDiffAndDryRunRoutes) {
  ASSERT_EQ(Send(kOperator, "PUT", kDoc, R"({"a":1,"b":1})").status, 200);
  auto dry = Send(kOperator, "PUT", std::string(kDoc) + "?dry_run=true", R"({"a":2,"c":1})");
  ASSERT_EQ(dry.status, 200) << dry.body;
  json d = json::parse(dry.body);
  EXPECT_EQ(d["dry_run"], true);
  EXPECT_EQ(d["diff"], (json{{"added", {{"c", 1}}},
                             {"removed", {{"b", 1}}},
                             {"changed", {{"a", {{"from", 1}, {"to", 2}}}}}}));
  EXPECT_EQ(GetJson(kReader, kDoc)["version"], 1) << "a dry run pushes nothing";
  EXPECT_EQ(Send(kReader, "PUT", std::string(kDoc) + "?dry_run=true", "{}").status, 403);

  auto del = Send(kOperator, "DELETE", kDoc);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(json::parse(del.body)["version"], 2);
  json effective = GetJson(kReader, kDoc);
  EXPECT_EQ(effective["properties"], json::object());
  EXPECT_EQ(effective["version"], 2);
  EXPECT_EQ(GetJson(kReader, std::string(kDoc) + "/history")["versions"][0]["deleted"], true);
  EXPECT_EQ(Send(kOperator, "DELETE", kDoc).status, 404);
  EXPECT_EQ(Send(kReader, "DELETE", kDoc).status, 403);

  json diff = GetJson(kReader, std::string(kDoc) + "/diff");
  EXPECT_EQ(diff["from"], 1);
  EXPECT_EQ(diff["to"], 2);
  EXPECT_EQ(diff["diff"]["removed"].size(), 2u);
  EXPECT_EQ(Send(kReader, "GET", std::string(kDoc) + "/diff?from=1&to=7").status, 404);
  EXPECT_EQ(Send(kReader, "GET", std::string(kDoc) + "/diff?from=x").status, 400);
}

TEST_F(ServiceFeaturesTest, RolloutReportsFollowTheContract) {
  ASSERT_EQ(Send(kOperator, "PUT", kDoc, R"({"a":1})").status, 200);
  ASSERT_EQ(Send(kOperator, "PUT", kDoc, R"({"a":2})").status, 200);
  const std::string applied = std::string(kDoc) + "/applied/";
  auto ok = Send(kAgent, "PUT", applied + "payments-1", R"({"version":2,"status":"applied"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["status"], "applied");
  ASSERT_EQ(Send(kAgent, "PUT", applied + "payments-2",
                 R"({"version":1,"status":"failed","message":"on_change exited 1"})")
                .status,
            200);
  // A later report replaces the earlier one.
  ASSERT_EQ(Send(kAgent, "PUT", applied + "payments-2",
                 R"({"version":2,"status":"failed","message":"render: disk full"})")
                .status,
            200);

  json rollout = GetJson(kReader, std::string(kDoc) + "/rollout");
  EXPECT_EQ(rollout["app"], "payments");
  EXPECT_EQ(rollout["profile"], "prod");
  EXPECT_EQ(rollout["version"], 2);
  ASSERT_EQ(rollout["instances"].size(), 2u);
  const json& second = rollout["instances"][1];
  EXPECT_EQ(second["instance"], "payments-2");
  EXPECT_EQ(second["version"], 2);
  EXPECT_EQ(second["status"], "failed");
  EXPECT_EQ(second["message"], "render: disk full");
  EXPECT_TRUE(second["updated_at"].is_string());
  EXPECT_EQ(
      testing::MetricValue(*registry_, "hive_config_rollout_reports_total", "status", "applied"),
      1);
  EXPECT_EQ(
      testing::MetricValue(*registry_, "hive_config_rollout_reports_total", "status", "failed"), 2);

  EXPECT_EQ(
      Send(kReader, "PUT", applied + "payments-1", R"({"version":2,"status":"applied"})").status,
      403);
  EXPECT_EQ(
      Send(kAgent, "PUT", applied + "payments-1", R"({"version":9,"status":"applied"})").status,
      400);
  EXPECT_EQ(Send(kAgent, "PUT", applied + "payments-1", R"({"version":2,"status":"done"})").status,
            400);
  EXPECT_EQ(Send(kAgent, "PUT", applied + "payments-1", R"({"status":"applied"})").status, 400);
  EXPECT_EQ(Send(kAgent, "PUT", applied + "Bad_Name", R"({"version":1,"status":"applied"})").status,
            400);
  EXPECT_EQ(Send(kAgent, "PUT", applied + "payments-1", "{not json").status, 400);
  EXPECT_EQ(
      GetJson(kReader, "/api/v1/config/nobody/prod/rollout"),
      (json{{"app", "nobody"}, {"profile", "prod"}, {"version", 0}, {"instances", json::array()}}));
}

TEST_F(ServiceFeaturesTest, BlockedWatcherSeesAPushWithinASecond) {
  json first = GetJson(kAgent, kDoc);
  const std::string watch =
      std::string(kDoc) + "?index=" + std::to_string(first["index"].get<int64_t>()) + "&wait=30s";
  std::chrono::steady_clock::time_point pushed_at;
  std::thread pusher([&] {
    // Push once the watcher is blocked: poll the gauge with a deadline.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (testing::MetricValue(*registry_, "hive_config_blocked_watchers") < 1 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    pushed_at = std::chrono::steady_clock::now();
    EXPECT_EQ(Send(kOperator, "PUT", kDoc, R"({"a":1})").status, 200);
  });
  json changed = GetJson(kAgent, watch);
  const auto seen_at = std::chrono::steady_clock::now();
  pusher.join();
  EXPECT_EQ(changed["version"], 1);
  EXPECT_LT(seen_at - pushed_at, std::chrono::seconds(1));
}

}  // namespace
}  // namespace service_features_test
}  // namespace hive::config_store
