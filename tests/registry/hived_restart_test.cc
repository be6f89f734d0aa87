// hived as a real process: registrations acknowledged before a kill -9 are
// there after the restart, with fresh leases and an index that did not go
// backwards.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "hive/core/http_client.h"
#include "process.h"

namespace hive::registry {
namespace {

using nlohmann::json;

// Starts hived on port 0 over `data_dir`; returns its base URL ("" on failure).
std::string StartHived(std::unique_ptr<testing::ChildProcess>* process, const std::string& dir,
                       const std::string& name) {
  *process = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{std::string(HIVE_BINARY_DIR) + "/hived/hived", "--listen",
                               "127.0.0.1:0", "--data-dir", dir + "/data", "--roles", "registry",
                               "--http-threads", "16"},
      dir + "/" + name);
  auto line = (*process)->WaitForLine("\"msg\":\"listening\"", true, std::chrono::seconds(15));
  if (!line) return "";
  auto j = json::parse(*line, nullptr, false);
  return j.is_object() && j.contains("addr") ? "http://" + j["addr"].get<std::string>() : "";
}

std::unique_ptr<HttpClient> ClientFor(const std::string& url) {
  return std::move(HttpClient::Create({.base_url = url}).value());
}

TEST(HivedRestartTest, RegistrationsSurviveAKillAndGetFreshLeases) {
  const std::string dir = testing::MakeTestDir();
  std::unique_ptr<testing::ChildProcess> hived;
  std::string url = StartHived(&hived, dir, "hived-1");
  ASSERT_FALSE(url.empty()) << hived->Stderr();
  uint64_t index = 0;
  {
    auto c = ClientFor(url);
    for (const char* id : {"orders-1", "orders-2"}) {
      auto r = c->Send("PUT", std::string("/api/v1/services/orders/instances/") + id,
                       R"({"address":"10.0.0.7","port":8081,"version":"2.1","ttl":"10s"})");
      ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->body : r.status().ToString());
    }
    auto m = c->Send("PUT", "/api/v1/services/orders/instances/orders-2/maintenance",
                     R"({"enabled":true,"reason":"disk swap"})");
    ASSERT_TRUE(m.ok() && m->ok());
    index = std::stoull(m->HeaderValue("X-Hive-Index").value_or("0"));
  }
  // A crash, not a clean stop: nothing gets a chance to flush.
  ASSERT_TRUE(hived->Signal(SIGKILL, std::chrono::seconds(10)).has_value());

  url = StartHived(&hived, dir, "hived-2");
  ASSERT_FALSE(url.empty()) << hived->Stderr();
  auto c = ClientFor(url);
  auto r = c->Get("/api/v1/services/orders");
  ASSERT_TRUE(r.ok() && r->ok());
  EXPECT_GT(std::stoull(r->HeaderValue("X-Hive-Index").value_or("0")), index);
  json body = json::parse(r->body);
  ASSERT_EQ(body["instances"].size(), 2u) << r->body;
  EXPECT_EQ(body["instances"][0]["version"], "2.1");
  EXPECT_EQ(body["instances"][0]["health"]["status"], "passing");
  EXPECT_EQ(body["instances"][1]["maintenance"],
            json({{"enabled", true}, {"reason", "disk swap"}}));
  // The grace period: a full TTL from the restart, not from the last heartbeat.
  auto healthy = c->Get("/api/v1/services/orders?healthy=true");
  ASSERT_TRUE(healthy.ok());
  EXPECT_EQ(json::parse(healthy->body)["instances"].size(), 1u);
  c.reset();  // an idle keep-alive connection would hold up the shutdown
  EXPECT_EQ(hived->Signal(SIGTERM, std::chrono::seconds(10)), 0);
}

}  // namespace
}  // namespace hive::registry
