#include "hive/config_store/config_store_service.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "hive/core/http_client.h"
#include "temp_dir.h"
#include "test_support.h"

namespace hive::config_store {
namespace {

using hive::testing::TempDir;
using nlohmann::json;
using testing::ClientOf;
using testing::MetricValue;
using testing::StartConfigStore;

constexpr std::string_view kOperatorToken = "operator-secret";
constexpr std::string_view kAgentToken = "agent-secret";

class ConfigStoreServiceTest : public ::testing::Test {
 protected:
  void Start(bool with_tokens = false) {
    ASSERT_FALSE(dir_.path().empty());
    registry_ = std::make_shared<prometheus::Registry>();
    ConfigStoreOptions options;
    options.data_dir = dir_.path();
    options.metrics = registry_;
    std::shared_ptr<TokenAuthenticator> auth;
    if (with_tokens) {
      auth = std::make_shared<TokenAuthenticator>();
      ASSERT_TRUE(auth->Add("ci-deployer", Role::kOperator, kOperatorToken).ok());
      ASSERT_TRUE(auth->Add("payments-1", Role::kAgent, kAgentToken).ok());
    }
    StartConfigStore(options, auth, &service_, &server_);
  }

  void TearDown() override {
    if (service_) service_->Stop();
    if (server_) server_->Stop();
  }

  std::unique_ptr<HttpClient> Client(std::string_view token = {}) {
    return ClientOf(*server_, token);
  }

  HttpClientResponse Put(HttpClient& c, std::string_view path, std::string_view body,
                         const std::vector<Header>& headers = {}) {
    auto r = c.Send("PUT", path, body, "application/json", headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  HttpClientResponse Get(HttpClient& c, std::string_view path) {
    auto r = c.Get(path);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  HttpClientResponse Post(HttpClient& c, std::string_view path, std::string_view body = {}) {
    auto r = c.Send("POST", path, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  static std::string ErrorCode(const HttpClientResponse& r) {
    return json::parse(r.body)["error"]["code"];
  }
  static std::string ErrorMessage(const HttpClientResponse& r) {
    return json::parse(r.body)["error"]["message"];
  }

  bool WaitForBlockedWatchers(double n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (MetricValue(*registry_, "hive_config_blocked_watchers") != n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  TempDir dir_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ConfigStoreService> service_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ConfigStoreServiceTest, PushThenGetEffectiveProperties) {
  Start();
  auto c = Client();
  auto shared = Put(*c, "/api/v1/config/application/default", R"({"log":{"level":"info"}})");
  EXPECT_EQ(shared.status, 200) << shared.body;
  auto push = Put(*c, "/api/v1/config/payments/demo",
                  R"({"failure_rate":0.3,"db":{"pool":{"size":5}},"hosts":["a","b"]})",
                  {{"X-Hive-Message", "turn up failures"}});
  ASSERT_EQ(push.status, 200) << push.body;
  json pushed = json::parse(push.body);
  EXPECT_EQ(pushed["diff"]["added"].size(), 4u) << push.body;
  pushed.erase("diff");
  EXPECT_EQ(pushed, (json{{"app", "payments"},
                          {"profile", "demo"},
                          {"version", 1},
                          {"changed", true},
                          {"index", 2}}));
  EXPECT_EQ(push.HeaderValue("X-Hive-Index"), "2");

  auto get = Get(*c, "/api/v1/config/payments/demo");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.HeaderValue("X-Hive-Index"), "2");
  auto j = json::parse(get.body);
  EXPECT_EQ(j["app"], "payments");
  EXPECT_EQ(j["profile"], "demo");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["index"], 2);
  EXPECT_EQ(j["properties"], (json{{"failure_rate", 0.3},
                                   {"db.pool.size", 5},
                                   {"hosts[0]", "a"},
                                   {"hosts[1]", "b"},
                                   {"log.level", "info"}}));
  EXPECT_EQ(j["property_sources"]["log.level"], "application/default");
  EXPECT_EQ(j["property_sources"]["failure_rate"], "payments/demo");
  EXPECT_EQ(j["sources"], json::parse(R"([{"app":"application","profile":"default","version":1},
                                          {"app":"payments","profile":"demo","version":1}])"));

  auto same = Put(*c, "/api/v1/config/payments/demo",
                  R"({"hosts":["a","b"],"db.pool.size":5,"failure_rate":0.3})");
  ASSERT_EQ(same.status, 200);
  EXPECT_EQ(json::parse(same.body)["changed"], false);
  EXPECT_EQ(json::parse(same.body)["version"], 1);

  auto unknown = Get(*c, "/api/v1/config/nobody/prod");
  ASSERT_EQ(unknown.status, 200);
  auto u = json::parse(unknown.body);
  EXPECT_EQ(u["version"], 0);
  EXPECT_EQ(u["properties"], (json{{"log.level", "info"}}));
}

TEST_F(ConfigStoreServiceTest, IfMatchConflictsAnswer409) {
  Start();
  auto c = Client();
  EXPECT_EQ(Put(*c, "/api/v1/config/payments/prod", R"({"a":1})", {{"If-Match", "0"}}).status, 200);
  auto conflict = Put(*c, "/api/v1/config/payments/prod", R"({"a":2})", {{"If-Match", "0"}});
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(ErrorCode(conflict), "aborted");
  EXPECT_NE(ErrorMessage(conflict).find("version 1"), std::string::npos) << conflict.body;
  auto bad = Put(*c, "/api/v1/config/payments/prod", R"({"a":2})", {{"If-Match", "one"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorCode(bad), "invalid_argument");
  auto ok = Put(*c, "/api/v1/config/payments/prod", R"({"a":2})", {{"If-Match", "\"1\""}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["version"], 2);
}

TEST_F(ConfigStoreServiceTest, BadInputGetsClearErrorsAndChangesNothing) {
  Start();
  auto c = Client();
  ASSERT_EQ(Put(*c, "/api/v1/config/payments/prod", R"({"a":1})").status, 200);

  auto bad_key = Put(*c, "/api/v1/config/payments/prod", R"({"db":{"pool size":5}})");
  EXPECT_EQ(bad_key.status, 400);
  EXPECT_NE(ErrorMessage(bad_key).find("'db.pool size'"), std::string::npos) << bad_key.body;

  auto not_object = Put(*c, "/api/v1/config/payments/prod", R"(["a"])");
  EXPECT_EQ(not_object.status, 400);
  EXPECT_NE(ErrorMessage(not_object).find("JSON object"), std::string::npos);

  auto malformed = Put(*c, "/api/v1/config/payments/prod", R"({"a":)");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(ErrorMessage(malformed).find("at line 1, column 6"), std::string::npos)
      << malformed.body;

  std::string huge = R"({"k":")" + std::string(kMaxDocumentBytes, 'x') + R"("})";
  auto too_large = Put(*c, "/api/v1/config/payments/prod", huge);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(ErrorCode(too_large), "too_large");

  auto long_message = Put(*c, "/api/v1/config/payments/prod", R"({"a":3})",
                          {{"X-Hive-Message", std::string(1025, 'm')}});
  EXPECT_EQ(long_message.status, 400);

  EXPECT_EQ(Put(*Client(), "/api/v1/config/Payments/prod", "{}").status, 400);
  EXPECT_EQ(Get(*Client(), "/api/v1/config/payments/-prod").status, 400);
  auto bad_index = Get(*Client(), "/api/v1/config/payments/prod?index=x");
  EXPECT_EQ(bad_index.status, 400);
  EXPECT_EQ(bad_index.HeaderValue("X-Hive-Index"), "1");
  EXPECT_EQ(Get(*Client(), "/api/v1/config/payments/prod?index=1&wait=soon").status, 400);

  auto history = Get(*Client(), "/api/v1/config/payments/prod/history");
  EXPECT_EQ(json::parse(history.body)["versions"].size(), 1u);
  EXPECT_EQ(json::parse(Get(*Client(), "/api/v1/config/payments/prod").body)["index"], 1);
  EXPECT_EQ(MetricValue(*registry_, "hive_config_pushes_total", "result", "rejected"), 5);
}

TEST_F(ConfigStoreServiceTest, HistoryVersionsAndRollback) {
  Start();
  auto c = Client();
  ASSERT_EQ(Put(*c, "/api/v1/config/payments/demo", R"({"failure_rate":0})",
                {{"X-Hive-Message", "baseline"}})
                .status,
            200);
  ASSERT_EQ(Put(*c, "/api/v1/config/payments/demo", R"({"failure_rate":0.3,"x":true})").status,
            200);

  auto history = json::parse(Get(*c, "/api/v1/config/payments/demo/history").body);
  ASSERT_EQ(history["versions"].size(), 2u);
  const auto& newest = history["versions"][0];
  EXPECT_EQ(newest["version"], 2);
  EXPECT_EQ(newest["author"], "anonymous");
  EXPECT_EQ(newest["message"], "");
  EXPECT_EQ(newest["keys"], 2);
  EXPECT_EQ(newest["hash"].get<std::string>().size(), 64u);
  EXPECT_TRUE(newest["created_at"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(history["versions"][1]["message"], "baseline");

  auto v1 = Get(*c, "/api/v1/config/payments/demo/versions/1");
  ASSERT_EQ(v1.status, 200);
  auto v1j = json::parse(v1.body);
  EXPECT_EQ(v1j["properties"], (json{{"failure_rate", 0}}));
  EXPECT_EQ(v1j["message"], "baseline");
  EXPECT_EQ(v1j["author"], "anonymous");
  EXPECT_EQ(Get(*c, "/api/v1/config/payments/demo/versions/9").status, 404);
  EXPECT_EQ(Get(*c, "/api/v1/config/payments/demo/versions/latest").status, 400);

  auto back = Post(*c, "/api/v1/config/payments/demo/rollback");
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(json::parse(back.body)["version"], 3);
  EXPECT_EQ(json::parse(back.body)["changed"], true);
  auto eff = json::parse(Get(*c, "/api/v1/config/payments/demo").body);
  EXPECT_EQ(eff["properties"], (json{{"failure_rate", 0}}));
  EXPECT_EQ(eff["version"], 3);
  EXPECT_EQ(json::parse(Get(*c, "/api/v1/config/payments/demo/versions/3").body)["message"],
            "rollback to v1");

  auto to2 = Post(*c, "/api/v1/config/payments/demo/rollback", R"({"to": 2})");
  ASSERT_EQ(to2.status, 200) << to2.body;
  EXPECT_EQ(json::parse(to2.body)["version"], 4);
  EXPECT_EQ(json::parse(Get(*c, "/api/v1/config/payments/demo/versions/4").body)["message"],
            "rollback to v2");

  EXPECT_EQ(Post(*c, "/api/v1/config/payments/demo/rollback", R"({"to": 99})").status, 404);
  EXPECT_EQ(Post(*c, "/api/v1/config/payments/demo/rollback", R"({"to": "x"})").status, 400);
  EXPECT_EQ(Post(*c, "/api/v1/config/payments/demo/rollback", R"({"from": 1})").status, 400);
  EXPECT_EQ(Post(*c, "/api/v1/config/payments/demo/rollback", R"({"to":)").status, 400);
  auto nothing = Post(*c, "/api/v1/config/orders/demo/rollback");
  EXPECT_EQ(nothing.status, 400);
  EXPECT_EQ(ErrorCode(nothing), "failed_precondition");
}

TEST_F(ConfigStoreServiceTest, AuthorIsTheTokenNameAndRolesApply) {
  Start(/*with_tokens=*/true);
  auto op = Client(kOperatorToken);
  auto push = Put(*op, "/api/v1/config/payments/prod", R"({"a":1})", {{"X-Hive-Message", "hi"}});
  ASSERT_EQ(push.status, 200) << push.body;
  auto history = json::parse(Get(*op, "/api/v1/config/payments/prod/history").body);
  EXPECT_EQ(history["versions"][0]["author"], "ci-deployer");
  EXPECT_EQ(history["versions"][0]["message"], "hi");

  auto agent = Client(kAgentToken);
  EXPECT_EQ(Get(*agent, "/api/v1/config/payments/prod").status, 200);
  // Each refused write on its own connection: core's HttpServer leaves the unread body of a
  // refused request on a kept-alive connection, which garbles the next request on it.
  EXPECT_EQ(Put(*Client(kAgentToken), "/api/v1/config/payments/prod", R"({"a":2})").status, 403);
  EXPECT_EQ(Post(*Client(kAgentToken), "/api/v1/config/payments/prod/rollback").status, 403);
  EXPECT_EQ(Get(*Client(), "/api/v1/config/payments/prod").status, 401);
}

TEST_F(ConfigStoreServiceTest, BlockingGetWakesOnPush) {
  Start();
  auto c = Client();
  ASSERT_EQ(Put(*c, "/api/v1/config/payments/prod", R"({"a":1})").status, 200);
  const std::string index = *Get(*c, "/api/v1/config/payments/prod").HeaderValue("X-Hive-Index");

  HttpClientResponse woke;
  std::thread watcher([&] {
    auto w = Client();
    woke = Get(*w, "/api/v1/config/payments/prod?index=" + index + "&wait=30s");
  });
  ASSERT_TRUE(WaitForBlockedWatchers(1));
  ASSERT_EQ(Put(*c, "/api/v1/config/payments/prod", R"({"a":2})").status, 200);
  watcher.join();
  ASSERT_EQ(woke.status, 200) << woke.body;
  EXPECT_EQ(woke.HeaderValue("X-Hive-Index"), std::to_string(std::stoll(index) + 1));
  auto j = json::parse(woke.body);
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["properties"]["a"], 2);
}

TEST_F(ConfigStoreServiceTest, BlockingGetTimesOutWithTheSameIndex) {
  Start();
  auto c = Client();
  const auto begin = std::chrono::steady_clock::now();
  auto r = Get(*c, "/api/v1/config/payments/prod?index=0&wait=200ms");
  EXPECT_GE(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(200));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.HeaderValue("X-Hive-Index"), "0");
  EXPECT_EQ(json::parse(r.body)["version"], 0);
}

TEST_F(ConfigStoreServiceTest, StopReleasesBlockedWatchers) {
  Start();
  HttpClientResponse woke;
  std::thread watcher([&] {
    auto w = Client();
    woke = Get(*w, "/api/v1/config/payments/prod?index=0&wait=5m");
  });
  ASSERT_TRUE(WaitForBlockedWatchers(1));
  const auto begin = std::chrono::steady_clock::now();
  service_->Stop();
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
  EXPECT_EQ(woke.status, 200);
  EXPECT_EQ(woke.HeaderValue("X-Hive-Index"), "0");
}

TEST_F(ConfigStoreServiceTest, SurvivesRestartOverHttp) {
  Start();
  ASSERT_EQ(Put(*Client(), "/api/v1/config/payments/prod", R"({"a":{"b":"c"}})").status, 200);
  service_->Stop();
  server_->Stop();
  server_.reset();
  service_.reset();
  Start();
  auto j = json::parse(Get(*Client(), "/api/v1/config/payments/prod").body);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["index"], 1);
  EXPECT_EQ(j["properties"], (json{{"a.b", "c"}}));
}

}  // namespace
}  // namespace hive::config_store
