#include "hive/registry/registry.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace hive::registry {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

Registration Reg(int port = 8081) {
  Registration r;
  r.address = "127.0.0.1";
  r.port = port;
  r.version = "1.4.2";
  r.tags = {"blue"};
  r.metadata = {{"zone", "a"}};
  return r;
}

// The value of a metric family (with an optional label), or -1 when absent.
double MetricValue(prometheus::Registry& metrics, const std::string& name,
                   const std::string& state = "") {
  for (const auto& family : metrics.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      bool match = state.empty();
      for (const auto& l : m.label) match |= l.name == "state" && l.value == state;
      if (!match) continue;
      if (family.type == prometheus::MetricType::Counter) return m.counter.value;
      return m.gauge.value;
    }
  }
  return -1;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegistryConfig config;
    config.clock = &clock_;
    config.metrics = metrics_;
    config.default_ttl = seconds(15);
    config.deregister_after = minutes(1);
    auto r = Registry::Create(config);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    registry_ = std::move(*r);
  }

  FakeClock clock_;
  std::shared_ptr<prometheus::Registry> metrics_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryTest, RegisterAndGet) {
  auto r = registry_->Register("orders", "orders-1", Reg());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->index, 1u);
  EXPECT_EQ(r->instance.service, "orders");
  EXPECT_EQ(r->instance.ttl, seconds(15));
  EXPECT_EQ(r->instance.health.status, HealthStatus::kPassing);
  EXPECT_EQ(r->instance.registered_at, clock_.Now());
  EXPECT_EQ(r->instance.lease_expires_at, clock_.Now() + seconds(15));

  auto got = registry_->GetService("orders", {});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->index, 1u);
  ASSERT_EQ(got->instances.size(), 1u);
  const Instance& inst = got->instances[0];
  EXPECT_EQ(inst.id, "orders-1");
  EXPECT_EQ(inst.address, "127.0.0.1");
  EXPECT_EQ(inst.port, 8081);
  EXPECT_EQ(inst.version, "1.4.2");
  EXPECT_EQ(inst.tags, std::vector<std::string>{"blue"});
  EXPECT_EQ(inst.metadata.at("zone"), "a");

  auto unknown = registry_->GetService("payments", {});
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->instances.empty());
  EXPECT_EQ(unknown->index, 0u);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_registrations_total"), 1);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_instances", "passing"), 1);
}

TEST_F(RegistryTest, ReplaceBumpsIndexOnlyWhenSomethingChanged) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  clock_.Advance(seconds(5));
  auto same = registry_->Register("orders", "orders-1", Reg());
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->index, 1u);
  EXPECT_EQ(same->instance.registered_at, clock_.Now() - seconds(5));
  EXPECT_EQ(same->instance.lease_expires_at, clock_.Now() + seconds(15));

  auto moved = registry_->Register("orders", "orders-1", Reg(9090));
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->index, 2u);
  EXPECT_EQ(moved->instance.port, 9090);
  EXPECT_EQ(moved->instance.registered_at, clock_.Now());
  auto got = registry_->GetService("orders", {});
  ASSERT_EQ(got->instances.size(), 1u);
  EXPECT_EQ(got->instances[0].port, 9090);
  EXPECT_EQ(registry_->index(), 2u);
}

TEST_F(RegistryTest, HeartbeatRenewsLeaseWithoutBumpingIndex) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(seconds(10));
    auto hb = registry_->Heartbeat("orders", "orders-1");
    ASSERT_TRUE(hb.ok());
    EXPECT_EQ(*hb, 1u);
    EXPECT_EQ(registry_->Reap().expired, 0);
  }
  auto got = registry_->GetService("orders", {.healthy_only = true});
  ASSERT_EQ(got->instances.size(), 1u);
  EXPECT_EQ(got->instances[0].last_seen, clock_.Now());
  EXPECT_EQ(got->instances[0].lease_expires_at, clock_.Now() + seconds(15));
  EXPECT_EQ(registry_->index(), 1u);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_heartbeats_total"), 5);
}

TEST_F(RegistryTest, HeartbeatWithHealthChangeBumpsIndex) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  auto hb = registry_->Heartbeat("orders", "orders-1", Health{HealthStatus::kWarning, "slow"});
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(*hb, 2u);
  auto again = registry_->Heartbeat("orders", "orders-1", Health{HealthStatus::kWarning, "slow"});
  EXPECT_EQ(*again, 2u);
  auto got = registry_->GetService("orders", {});
  EXPECT_EQ(got->instances[0].health, (Health{HealthStatus::kWarning, "slow"}));
  // Warning instances still serve, so they stay in healthy results.
  EXPECT_EQ(registry_->GetService("orders", {.healthy_only = true})->instances.size(), 1u);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_instances", "warning"), 1);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_instances", "passing"), 0);

  ASSERT_TRUE(
      registry_->Heartbeat("orders", "orders-1", Health{HealthStatus::kCritical, "db down"}).ok());
  EXPECT_EQ(registry_->ServiceIndex("orders"), 3u);
  EXPECT_TRUE(registry_->GetService("orders", {.healthy_only = true})->instances.empty());
}

TEST_F(RegistryTest, HeartbeatOfUnknownInstanceIsNotFound) {
  EXPECT_TRUE(registry_->Heartbeat("orders", "orders-1").status().IsNotFound());
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  EXPECT_TRUE(registry_->Heartbeat("orders", "orders-2").status().IsNotFound());
  EXPECT_TRUE(registry_->Heartbeat("Orders", "orders-1").status().IsInvalidArgument());
}

TEST_F(RegistryTest, LeaseLapseTurnsCriticalAndLeavesHealthyResults) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-2", Reg()).ok());
  EXPECT_EQ(registry_->index(), 2u);
  clock_.Advance(seconds(10));
  ASSERT_TRUE(registry_->Heartbeat("orders", "orders-2").ok());
  clock_.Advance(seconds(5));

  ReapResult reaped = registry_->Reap();
  EXPECT_EQ(reaped.expired, 1);
  EXPECT_EQ(reaped.removed, 0);
  EXPECT_EQ(registry_->index(), 3u);
  EXPECT_EQ(registry_->ServiceIndex("orders"), 3u);

  auto all = registry_->GetService("orders", {});
  ASSERT_EQ(all->instances.size(), 2u);
  EXPECT_EQ(all->instances[0].health,
            (Health{HealthStatus::kCritical, std::string(kLeaseExpiredOutput)}));
  auto healthy = registry_->GetService("orders", {.healthy_only = true});
  ASSERT_EQ(healthy->instances.size(), 1u);
  EXPECT_EQ(healthy->instances[0].id, "orders-2");

  // A second pass finds nothing new.
  EXPECT_EQ(registry_->Reap().expired, 0);
  EXPECT_EQ(registry_->index(), 3u);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_expirations_total"), 1);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_instances", "critical"), 1);
}

TEST_F(RegistryTest, LapsedLeaseLeavesHealthyResultsBeforeTheReaperRuns) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  clock_.Advance(seconds(15));  // exactly the TTL; no Reap() yet
  EXPECT_TRUE(registry_->GetService("orders", {.healthy_only = true})->instances.empty());
  // The index and the health field change only with the reaper's pass.
  EXPECT_EQ(registry_->GetService("orders", {})->instances.size(), 1u);
  EXPECT_EQ(registry_->ServiceIndex("orders"), 1u);
  EXPECT_EQ(registry_->Reap().expired, 1);
  EXPECT_EQ(registry_->ServiceIndex("orders"), 2u);
}

TEST_F(RegistryTest, HeartbeatAfterLapseRestoresReportedHealth) {
  Registration reg = Reg();
  reg.health = Health{HealthStatus::kWarning, "degraded"};
  ASSERT_TRUE(registry_->Register("orders", "orders-1", reg).ok());
  clock_.Advance(seconds(20));
  EXPECT_EQ(registry_->Reap().expired, 1);
  uint64_t lapsed = registry_->index();

  auto hb = registry_->Heartbeat("orders", "orders-1");
  ASSERT_TRUE(hb.ok());
  EXPECT_GT(*hb, lapsed);
  auto got = registry_->GetService("orders", {.healthy_only = true});
  ASSERT_EQ(got->instances.size(), 1u);
  EXPECT_EQ(got->instances[0].health, (Health{HealthStatus::kWarning, "degraded"}));
}

TEST_F(RegistryTest, RemovedDeregisterAfterPastLeaseExpiry) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  clock_.Advance(seconds(15));
  EXPECT_EQ(registry_->Reap().expired, 1);
  clock_.Advance(seconds(59));
  EXPECT_EQ(registry_->Reap().removed, 0);
  EXPECT_EQ(registry_->GetService("orders", {})->instances.size(), 1u);
  uint64_t before = registry_->index();

  clock_.Advance(seconds(1));
  EXPECT_EQ(registry_->Reap().removed, 1);
  EXPECT_EQ(registry_->index(), before + 1);
  auto got = registry_->GetService("orders", {});
  EXPECT_TRUE(got->instances.empty());
  // The emptied service keeps its index so watchers see the removal.
  EXPECT_EQ(got->index, before + 1);
  EXPECT_TRUE(registry_->ListServices().services.empty());
  EXPECT_TRUE(registry_->Heartbeat("orders", "orders-1").status().IsNotFound());
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_removals_total"), 1);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_instances", "critical"), 0);
}

TEST_F(RegistryTest, LapseAndRemovalInOnePassWhenReaperWasLate) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  clock_.Advance(minutes(5));
  ReapResult reaped = registry_->Reap();
  EXPECT_EQ(reaped.expired, 1);
  EXPECT_EQ(reaped.removed, 1);
  EXPECT_TRUE(registry_->GetService("orders", {})->instances.empty());
}

TEST_F(RegistryTest, DeregisterRemovesAndBumps) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  auto d = registry_->Deregister("orders", "orders-1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, 2u);
  EXPECT_TRUE(registry_->Deregister("orders", "orders-1").status().IsNotFound());
  EXPECT_TRUE(registry_->GetService("orders", {})->instances.empty());
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_deregistrations_total"), 1);
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_instances", "passing"), 0);
}

TEST_F(RegistryTest, IndexesArePerServiceAndGlobal) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  ASSERT_TRUE(registry_->Register("payments", "payments-1", Reg()).ok());
  ASSERT_TRUE(registry_->Register("payments", "payments-2", Reg()).ok());
  EXPECT_EQ(registry_->ServiceIndex("orders"), 1u);
  EXPECT_EQ(registry_->ServiceIndex("payments"), 3u);
  EXPECT_EQ(registry_->ServiceIndex("inventory"), 0u);
  EXPECT_EQ(registry_->index(), 3u);
  EXPECT_EQ(registry_->ListServices().index, 3u);
}

TEST_F(RegistryTest, ListCountsByHealth) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-2", Reg()).ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-3", Reg()).ok());
  ASSERT_TRUE(registry_->Register("payments", "payments-1", Reg()).ok());
  ASSERT_TRUE(registry_->Heartbeat("orders", "orders-2", Health{HealthStatus::kWarning, ""}).ok());
  ASSERT_TRUE(
      registry_->Heartbeat("orders", "orders-3", Health{HealthStatus::kCritical, "down"}).ok());

  ServiceList list = registry_->ListServices();
  ASSERT_EQ(list.services.size(), 2u);
  const ServiceSummary& orders = list.services[0];
  EXPECT_EQ(orders.name, "orders");
  EXPECT_EQ(orders.instances, 3);
  EXPECT_EQ(orders.passing, 1);
  EXPECT_EQ(orders.warning, 1);
  EXPECT_EQ(orders.critical, 1);
  EXPECT_EQ(list.services[1].name, "payments");
  EXPECT_EQ(list.services[1].passing, 1);
}

TEST_F(RegistryTest, ValidationErrorsNameTheField) {
  auto expect_invalid = [&](std::string_view service, std::string_view id, const Registration& r,
                            std::string_view needle) {
    auto res = registry_->Register(service, id, r);
    ASSERT_TRUE(res.status().IsInvalidArgument()) << needle;
    EXPECT_NE(res.status().message().find(needle), std::string::npos) << res.status().message();
  };
  expect_invalid("Orders", "orders-1", Reg(), "service");
  expect_invalid("orders", "-bad", Reg(), "instance");
  Registration r = Reg();
  r.address = "";
  expect_invalid("orders", "orders-1", r, "address");
  r = Reg();
  r.address = std::string(256, 'a');
  expect_invalid("orders", "orders-1", r, "address");
  expect_invalid("orders", "orders-1", Reg(0), "port");
  expect_invalid("orders", "orders-1", Reg(65536), "port");
  r = Reg();
  r.tags.assign(65, "t");
  expect_invalid("orders", "orders-1", r, "tags");
  r = Reg();
  r.tags = {std::string(256, 't')};
  expect_invalid("orders", "orders-1", r, "tags[0]");
  r = Reg();
  for (int i = 0; i < 65; ++i) r.metadata["k" + std::to_string(i)] = "v";
  expect_invalid("orders", "orders-1", r, "metadata");
  r = Reg();
  r.ttl = std::chrono::milliseconds(500);
  expect_invalid("orders", "orders-1", r, "ttl");
  r.ttl = std::chrono::hours(2);
  expect_invalid("orders", "orders-1", r, "ttl");
  r = Reg();
  r.health = Health{HealthStatus::kPassing, std::string(kMaxHealthOutputLength + 1, 'x')};
  expect_invalid("orders", "orders-1", r, "health output");

  r = Reg();
  r.tags.assign(64, std::string(255, 't'));
  r.ttl = seconds(1);
  EXPECT_TRUE(registry_->Register("orders", "orders-1", r).ok());
  EXPECT_EQ(registry_->index(), 1u);
}

TEST_F(RegistryTest, CreateRejectsBadConfig) {
  RegistryConfig config;
  config.clock = nullptr;
  EXPECT_TRUE(Registry::Create(config).status().IsInvalidArgument());
  config.clock = &clock_;
  config.default_ttl = std::chrono::hours(2);
  EXPECT_TRUE(Registry::Create(config).status().IsInvalidArgument());
  config.default_ttl = seconds(15);
  config.deregister_after = -seconds(1);
  EXPECT_TRUE(Registry::Create(config).status().IsInvalidArgument());
}

TEST_F(RegistryTest, AWatcherBehindTheIndexHasSomethingNew) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  EXPECT_TRUE(registry_->ServiceChangedSince("orders", 0));
  EXPECT_FALSE(registry_->ServiceChangedSince("orders", 1));
  // An index from before a restart (ahead of ours) does not wait either.
  EXPECT_TRUE(registry_->ServiceChangedSince("orders", 99));
  EXPECT_FALSE(registry_->ServiceChangedSince("never-seen", 1));
}

TEST_F(RegistryTest, SubscriptionWakesOnChangeOfItsServiceOnly) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  std::atomic<int> wakes{0};
  auto sub = registry_->SubscribeService("orders", [&] { ++wakes; });
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_blocked_watchers"), 1);
  // Another service's change and a plain heartbeat leave it waiting.
  ASSERT_TRUE(registry_->Register("payments", "payments-1", Reg()).ok());
  ASSERT_TRUE(registry_->Heartbeat("orders", "orders-1").ok());
  EXPECT_EQ(wakes.load(), 0);
  EXPECT_FALSE(registry_->ServiceChangedSince("orders", 1));
  ASSERT_TRUE(registry_->Register("orders", "orders-2", Reg()).ok());
  EXPECT_EQ(wakes.load(), 1);
  EXPECT_TRUE(registry_->ServiceChangedSince("orders", 1));
  auto got = registry_->GetService("orders", {});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->index, 3u);
  EXPECT_EQ(got->instances.size(), 2u);
  sub->Reset();
  EXPECT_EQ(MetricValue(*metrics_, "hive_registry_blocked_watchers"), 0);
  ASSERT_TRUE(registry_->Deregister("orders", "orders-2").ok());
  EXPECT_EQ(wakes.load(), 1);
}

TEST_F(RegistryTest, SubscribeRefusesBadNames) {
  EXPECT_TRUE(registry_->SubscribeService("Bad Name", [] {}).status().IsInvalidArgument());
}

TEST_F(RegistryTest, CancelWatchesWakesEveryWatcher) {
  std::atomic<int> service_wakes{0};
  std::atomic<int> event_wakes{0};
  auto sub = registry_->SubscribeService("orders", [&] { ++service_wakes; });
  ASSERT_TRUE(sub.ok());
  Subscription events = registry_->SubscribeEvents([&] { ++event_wakes; });
  EXPECT_FALSE(registry_->ServiceChangedSince("orders", 0));
  registry_->CancelWatches();
  EXPECT_EQ(service_wakes.load(), 1);
  EXPECT_EQ(event_wakes.load(), 1);
  EXPECT_TRUE(registry_->watches_cancelled());
  // From now on nothing waits.
  EXPECT_TRUE(registry_->ServiceChangedSince("orders", 0));
}

}  // namespace
}  // namespace hive::registry
