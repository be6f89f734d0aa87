// Many concurrent blocking queries over real HTTP: one change wakes them all
// promptly, and a change to another service wakes none.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "hive/registry/registry_service.h"

namespace hive::registry {
// A namespace of its own: a unity build compiles it with same-named helpers.
namespace registry_watchers_test {
namespace {

constexpr int kWatchers = 300;

double Gauge(prometheus::Registry& metrics, const std::string& name) {
  for (const auto& family : metrics.Collect()) {
    if (family.name == name) return family.metric.at(0).gauge.value;
  }
  return -1;
}

TEST(RegistryWatchersTest, OneChangeWakesHundredsOfBlockedWatchersPromptly) {
  auto metrics = std::make_shared<prometheus::Registry>();
  RegistryOptions options;
  options.metrics = metrics;
  auto svc = RegistryService::Open(options);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  HttpServerOptions server_options;
  server_options.port = 0;
  server_options.worker_threads = kWatchers + 8;
  server_options.metrics = metrics;
  server_options.access_log = AccessLog::kNone;
  HttpServer server(server_options);
  (*svc)->Mount(server);
  ASSERT_TRUE(server.Start().ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());

  std::atomic<int> woken{0};
  std::atomic<int> saw_change{0};
  std::vector<std::thread> watchers;
  // Connect them one after another: cpp-httplib listens with a short accept
  // backlog, so a burst of hundreds of connects would see SYNs dropped.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kWatchers; ++i) {
    while (Gauge(*metrics, "hive_registry_blocked_watchers") < i &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    watchers.emplace_back([&] {
      auto client = HttpClient::Create({.base_url = base});
      ASSERT_TRUE(client.ok());
      auto r = (*client)->Get("/api/v1/services/orders?index=0&wait=60s");
      ++woken;
      if (r.ok() && r->status == 200 && r->HeaderValue("X-Hive-Index") == "2") ++saw_change;
    });
  }
  while (Gauge(*metrics, "hive_registry_blocked_watchers") < kWatchers &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  // On failure the watchers still get woken so the threads can be joined.
  EXPECT_EQ(Gauge(*metrics, "hive_registry_blocked_watchers"), kWatchers);

  // Another service's change leaves them all blocked.
  Registration reg;
  reg.address = "127.0.0.1";
  reg.port = 8081;
  ASSERT_TRUE((*svc)->registry().Register("payments", "payments-1", reg).ok());
  EXPECT_EQ(woken.load(), 0);

  const auto changed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE((*svc)->registry().Register("orders", "orders-1", reg).ok());
  for (auto& t : watchers) t.join();
  const auto elapsed = std::chrono::steady_clock::now() - changed_at;
  EXPECT_EQ(saw_change.load(), kWatchers);
  // Generous for a shared 2-core machine under sanitizers; the benchmark
  // measures the real latency.
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  EXPECT_EQ(Gauge(*metrics, "hive_registry_blocked_watchers"), 0);
  (*svc)->Stop();
  server.Stop();
}

}  // namespace
}  // namespace registry_watchers_test
}  // namespace hive::registry
