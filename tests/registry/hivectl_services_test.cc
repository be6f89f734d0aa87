// hivectl's registry commands against a real registry on 127.0.0.1:0:
// maintenance on/off, deregister and the --watch loop.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <sstream>
#include <thread>
#include <vector>

#include "hive/core/http.h"
#include "hive/ctl/hivectl.h"
#include "hive/registry/registry_service.h"

namespace hive::registry {
namespace {

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

class HivectlServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegistryOptions options;
    options.metrics = metrics_;
    auto svc = RegistryService::Open(options);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    service_ = std::move(*svc);
    HttpServerOptions server_options;
    server_options.port = 0;
    server_options.worker_threads = 8;
    server_options.metrics = metrics_;
    server_ = std::make_unique<HttpServer>(server_options);
    service_->Mount(*server_);
    ASSERT_TRUE(server_->Start().ok());
    Registration reg;
    reg.address = "127.0.0.1";
    reg.port = 8081;
    ASSERT_TRUE(service_->registry().Register("orders", "orders-1", reg).ok());
  }
  void TearDown() override {
    service_->Stop();
    server_->Stop();
  }

  RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), "hivectl");
    args.push_back("--addr");
    args.push_back("http://127.0.0.1:" + std::to_string(server_->port()));
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    ctl::CtlEnvironment env;
    RunResult r;
    r.code = ctl::RunHivectl(static_cast<int>(argv.size()), argv.data(), env, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  double BlockedWatchers() {
    for (const auto& family : metrics_->Collect()) {
      if (family.name == "hive_registry_blocked_watchers") return family.metric.at(0).gauge.value;
    }
    return -1;
  }

  // Answered GET /api/v1/services/{service} requests.
  double ServiceGets() {
    double n = 0;
    for (const auto& family : metrics_->Collect()) {
      if (family.name != "hive_http_requests_total") continue;
      for (const auto& m : family.metric) {
        bool route = false;
        bool get = false;
        for (const auto& l : m.label) {
          route |= l.name == "route" && l.value == "/api/v1/services/{service}";
          get |= l.name == "method" && l.value == "GET";
        }
        if (route && get) n += m.counter.value;
      }
    }
    return n;
  }

  std::shared_ptr<prometheus::Registry> metrics_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<RegistryService> service_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HivectlServicesTest, MaintenanceOnAndOff) {
  RunResult on = Run({"services", "maintenance", "on", "orders", "orders-1", "--reason", "disk"});
  ASSERT_EQ(on.code, 0) << on.err;
  EXPECT_NE(on.out.find("orders/orders-1 is in maintenance"), std::string::npos) << on.out;
  auto got = service_->registry().GetService("orders", {});
  ASSERT_EQ(got->instances.size(), 1u);
  EXPECT_TRUE(got->instances[0].maintenance);
  EXPECT_EQ(got->instances[0].maintenance_reason, "disk");

  RunResult off = Run({"services", "maintenance", "off", "orders", "orders-1"});
  ASSERT_EQ(off.code, 0) << off.err;
  EXPECT_FALSE(service_->registry().GetService("orders", {})->instances[0].maintenance);

  RunResult unknown = Run({"services", "maintenance", "on", "orders", "orders-9"});
  EXPECT_EQ(unknown.code, ctl::kExitServerError);
  EXPECT_NE(unknown.err.find("not registered"), std::string::npos) << unknown.err;
  EXPECT_EQ(Run({"services", "maintenance", "maybe", "orders", "orders-1"}).code, ctl::kExitUsage);
  EXPECT_EQ(Run({"services", "maintenance", "on", "Orders", "orders-1"}).code, ctl::kExitUsage);
}

TEST_F(HivectlServicesTest, Deregister) {
  RunResult r = Run({"services", "deregister", "orders", "orders-1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "deregistered orders/orders-1\n");
  EXPECT_TRUE(service_->registry().GetService("orders", {})->instances.empty());
  RunResult again = Run({"services", "deregister", "orders", "orders-1"});
  EXPECT_EQ(again.code, ctl::kExitServerError);
  EXPECT_EQ(Run({"services", "deregister", "orders"}).code, ctl::kExitUsage);
}

TEST_F(HivectlServicesTest, WatchReprintsOnEveryChange) {
  RunResult watched;
  std::thread watcher([&] { watched = Run({"services", "orders", "--watch", "--updates", "2"}); });
  auto await_blocked = [&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (BlockedWatchers() < 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_EQ(BlockedWatchers(), 1);
  };
  await_blocked();
  ASSERT_TRUE(service_->registry().SetMaintenance("orders", "orders-1", true, "deploy").ok());
  // Wait until the blocking query answered (the first GET plus that one),
  // then until the next one blocks.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ServiceGets() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(ServiceGets(), 2);
  await_blocked();
  ASSERT_TRUE(service_->registry().Deregister("orders", "orders-1").ok());
  watcher.join();

  ASSERT_EQ(watched.code, 0) << watched.err;
  EXPECT_NE(watched.out.find("# orders at index 1,"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("# orders at index 2,"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("on: deploy"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("# orders at index 3,"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("service orders has no instances"), std::string::npos) << watched.out;
  EXPECT_EQ(Run({"services", "--watch"}).code, ctl::kExitUsage);
}

}  // namespace
}  // namespace hive::registry
