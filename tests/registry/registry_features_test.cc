// Maintenance overrides, query filters, self-preservation and the event
// history of the Registry, driven by a FakeClock.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "hive/registry/registry.h"

namespace hive::registry {
// A namespace of its own: a unity build compiles it with same-named helpers.
namespace registry_features_test {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Registration Reg(std::string version = "1.0.0", std::vector<std::string> tags = {}) {
  Registration r;
  r.address = "127.0.0.1";
  r.port = 8081;
  r.version = std::move(version);
  r.tags = std::move(tags);
  r.ttl = seconds(3);  // agents heartbeat every second
  return r;
}

double Gauge(prometheus::Registry& metrics, const std::string& name) {
  for (const auto& family : metrics.Collect()) {
    if (family.name == name) return family.metric.at(0).gauge.value;
  }
  return -1;
}

class RegistryFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    RegistryConfig config;
    config.clock = &clock_;
    config.metrics = metrics_;
    config.default_ttl = seconds(3);
    config.deregister_after = minutes(1);
    config.self_preservation_threshold = threshold_;
    config.self_preservation_window = seconds(3);
    config.self_preservation_min_instances = 10;
    registry_.reset();
    metrics_ = std::make_shared<prometheus::Registry>();
    config.metrics = metrics_;
    auto r = Registry::Create(config);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    registry_ = std::move(*r);
  }

  // Registers `n` instances of "orders": orders-0 .. orders-<n-1>.
  void RegisterFleet(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(registry_->Register("orders", "orders-" + std::to_string(i), Reg()).ok());
    }
  }

  // One second passes; instances [0, alive) heartbeat once; the reaper runs.
  ReapResult Tick(int alive) {
    clock_.Advance(seconds(1));
    for (int i = 0; i < alive; ++i) {
      EXPECT_TRUE(registry_->Heartbeat("orders", "orders-" + std::to_string(i)).ok());
    }
    return registry_->Reap();
  }

  double threshold_ = 0.85;
  FakeClock clock_;
  std::shared_ptr<prometheus::Registry> metrics_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryFeaturesTest, MaintenanceLeavesHealthyResultsAndOutlivesReregistration) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-2", Reg()).ok());
  auto index = registry_->SetMaintenance("orders", "orders-1", true, "kernel upgrade");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 3u);
  // Setting the same override again is no change.
  EXPECT_EQ(*registry_->SetMaintenance("orders", "orders-1", true, "kernel upgrade"), 3u);

  auto healthy = registry_->GetService("orders", {.healthy_only = true});
  ASSERT_EQ(healthy->instances.size(), 1u);
  EXPECT_EQ(healthy->instances[0].id, "orders-2");
  auto all = registry_->GetService("orders", {});
  ASSERT_EQ(all->instances.size(), 2u);
  EXPECT_TRUE(all->instances[0].maintenance);
  EXPECT_EQ(all->instances[0].maintenance_reason, "kernel upgrade");
  EXPECT_EQ(all->instances[0].health.status, HealthStatus::kPassing);
  EXPECT_EQ(Gauge(*metrics_, "hive_registry_maintenance_instances"), 1);
  EXPECT_EQ(registry_->ListServices().services.at(0).maintenance, 1);

  // The agent's heartbeats and re-registration keep the operator's override.
  ASSERT_TRUE(registry_->Heartbeat("orders", "orders-1").ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg("1.0.1")).ok());
  EXPECT_TRUE(registry_->GetService("orders", {})->instances[0].maintenance);

  ASSERT_TRUE(registry_->SetMaintenance("orders", "orders-1", false, "ignored").ok());
  EXPECT_EQ(registry_->GetService("orders", {.healthy_only = true})->instances.size(), 2u);
  EXPECT_EQ(registry_->GetService("orders", {})->instances[0].maintenance_reason, "");
  EXPECT_EQ(Gauge(*metrics_, "hive_registry_maintenance_instances"), 0);
}

TEST_F(RegistryFeaturesTest, MaintenanceOfUnknownInstanceAndLongReasonAreRefused) {
  EXPECT_TRUE(registry_->SetMaintenance("orders", "orders-1", true, "").status().IsNotFound());
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  EXPECT_TRUE(registry_->SetMaintenance("orders", "orders-1", true, std::string(2000, 'x'))
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(
      registry_->SetMaintenance("Orders", "orders-1", true, "").status().IsInvalidArgument());
}

TEST_F(RegistryFeaturesTest, FiltersByTagAndVersion) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg("1.0.0", {"blue", "eu"})).ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-2", Reg("1.1.0", {"green", "eu"})).ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-3", Reg("1.1.0", {"blue"})).ok());
  auto ids = [&](const InstanceFilter& f) {
    std::vector<std::string> out;
    auto got = registry_->GetService("orders", f);
    for (const Instance& i : got->instances) out.push_back(i.id);
    return out;
  };
  EXPECT_EQ(ids({.tag = "blue"}), (std::vector<std::string>{"orders-1", "orders-3"}));
  EXPECT_EQ(ids({.version = "1.1.0"}), (std::vector<std::string>{"orders-2", "orders-3"}));
  EXPECT_EQ(ids({.tag = "eu", .version = "1.1.0"}), (std::vector<std::string>{"orders-2"}));
  EXPECT_TRUE(ids({.tag = "red"}).empty());
  EXPECT_TRUE(
      registry_->GetService("orders", {.tag = std::string(300, 't')}).status().IsInvalidArgument());
}

TEST_F(RegistryFeaturesTest, SelfPreservationHoldsExpiryWhileRenewalsAreLowAndResumes) {
  RegisterFleet(20);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Tick(20).self_preservation);
  EXPECT_EQ(Gauge(*metrics_, "hive_registry_self_preservation"), 0);

  // Half the fleet goes silent at once (a partition, not 10 crashes).
  bool engaged = false;
  for (int i = 0; i < 6; ++i) {
    ReapResult r = Tick(10);
    EXPECT_EQ(r.expired, 0) << "tick " << i;
    engaged |= r.self_preservation;
  }
  EXPECT_TRUE(engaged);
  EXPECT_TRUE(registry_->self_preservation());
  EXPECT_TRUE(registry_->ListServices().self_preservation);
  EXPECT_EQ(Gauge(*metrics_, "hive_registry_self_preservation"), 1);
  EXPECT_EQ(registry_->GetService("orders", {.healthy_only = true})->instances.size(), 20u);
  EXPECT_GT(Gauge(*metrics_, "hive_registry_expected_renewals_per_second"),
            Gauge(*metrics_, "hive_registry_renewals_per_second"));

  // The partition heals: renewals recover and expiry resumes on its own.
  for (int i = 0; i < 5; ++i) Tick(20);
  EXPECT_FALSE(registry_->self_preservation());
  EXPECT_EQ(Gauge(*metrics_, "hive_registry_self_preservation"), 0);
}

TEST_F(RegistryFeaturesTest, OneDeadInstanceIsEvictedWithoutSelfPreservation) {
  RegisterFleet(20);
  for (int i = 0; i < 5; ++i) Tick(20);
  int expired = 0;
  for (int i = 0; i < 4; ++i) {
    ReapResult r = Tick(19);
    EXPECT_FALSE(r.self_preservation);
    expired += r.expired;
  }
  EXPECT_EQ(expired, 1);
  EXPECT_EQ(registry_->GetService("orders", {.healthy_only = true})->instances.size(), 19u);
}

TEST_F(RegistryFeaturesTest, SmallFleetsAndAFreshRegistryNeverSelfPreserve) {
  // Right after start there is no window of history yet.
  RegisterFleet(20);
  ReapResult first = Tick(0);
  EXPECT_FALSE(first.self_preservation);

  // Below min_instances, losing half is still evicted.
  Open();
  RegisterFleet(4);
  for (int i = 0; i < 5; ++i) Tick(4);
  int expired = 0;
  for (int i = 0; i < 4; ++i) {
    ReapResult r = Tick(2);
    EXPECT_FALSE(r.self_preservation);
    expired += r.expired;
  }
  EXPECT_EQ(expired, 2);
}

TEST_F(RegistryFeaturesTest, ZeroThresholdDisablesSelfPreservation) {
  threshold_ = 0;
  Open();
  RegisterFleet(20);
  for (int i = 0; i < 5; ++i) Tick(20);
  int expired = 0;
  for (int i = 0; i < 4; ++i) {
    ReapResult r = Tick(0);
    EXPECT_FALSE(r.self_preservation);
    expired += r.expired;
  }
  EXPECT_EQ(expired, 20);
}

TEST_F(RegistryFeaturesTest, BadSelfPreservationConfigIsRefused) {
  RegistryConfig config;
  config.clock = &clock_;
  config.self_preservation_threshold = 1.5;
  EXPECT_TRUE(Registry::Create(config).status().IsInvalidArgument());
  config.self_preservation_threshold = 0.85;
  config.self_preservation_window = milliseconds(10);
  EXPECT_TRUE(Registry::Create(config).status().IsInvalidArgument());
}

TEST_F(RegistryFeaturesTest, EventsReportEveryChangeInOrder) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  ASSERT_TRUE(
      registry_->Heartbeat("orders", "orders-1", Health{HealthStatus::kWarning, "slow"}).ok());
  ASSERT_TRUE(registry_->SetMaintenance("orders", "orders-1", true, "deploy").ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg("2.0.0")).ok());
  ASSERT_TRUE(registry_->Deregister("orders", "orders-1").ok());
  ASSERT_TRUE(registry_->Register("payments", "payments-1", Reg()).ok());
  clock_.Advance(seconds(3));
  ASSERT_EQ(registry_->Reap().expired, 1);
  clock_.Advance(minutes(1));
  ASSERT_EQ(registry_->Reap().removed, 1);

  EventBatch batch = registry_->EventsSince(0);
  EXPECT_FALSE(batch.reset);
  EXPECT_EQ(batch.index, 8u);
  std::vector<std::string> kinds;
  for (const ChangeEvent& e : batch.events) {
    kinds.push_back(e.service + "/" + std::string(ChangeKindName(e.kind)) + "@" +
                    std::to_string(e.index));
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"orders/registered@1", "orders/health@2",
                                             "orders/maintenance@3", "orders/updated@4",
                                             "orders/deregistered@5", "payments/registered@6",
                                             "payments/health@7", "payments/removed@8"}));
  ASSERT_TRUE(batch.events[1].instance.has_value());
  EXPECT_EQ(batch.events[1].instance->health.output, "slow");
  EXPECT_FALSE(batch.events[4].instance.has_value());

  // From a later index only what follows; an index ahead of ours resets.
  EXPECT_EQ(registry_->EventsSince(6).events.size(), 2u);
  EventBatch ahead = registry_->EventsSince(99);
  EXPECT_TRUE(ahead.reset);
  EXPECT_TRUE(ahead.events.empty());
}

TEST_F(RegistryFeaturesTest, EventSubscribersAreWokenByEachChange) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  EXPECT_TRUE(registry_->EventsSince(1).events.empty());
  std::atomic<int> wakes{0};
  Subscription sub = registry_->SubscribeEvents([&] { ++wakes; });
  ASSERT_TRUE(registry_->Heartbeat("orders", "orders-1").ok());
  EXPECT_EQ(wakes.load(), 0);  // a plain heartbeat is no change
  ASSERT_TRUE(registry_->Deregister("orders", "orders-1").ok());
  EXPECT_EQ(wakes.load(), 1);
  EventBatch got = registry_->EventsSince(1);
  ASSERT_EQ(got.events.size(), 1u);
  EXPECT_EQ(got.events[0].kind, ChangeKind::kDeregistered);
}

TEST_F(RegistryFeaturesTest, EventHistoryIsBoundedAndSaysWhenItDropped) {
  for (size_t i = 0; i < Registry::kMaxEventHistory + 10; ++i) {
    ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg("v" + std::to_string(i))).ok());
  }
  EventBatch old = registry_->EventsSince(1);
  EXPECT_TRUE(old.reset);
  EventBatch recent = registry_->EventsSince(registry_->index() - 5);
  EXPECT_FALSE(recent.reset);
  EXPECT_EQ(recent.events.size(), 5u);
}

}  // namespace
}  // namespace registry_features_test
}  // namespace hive::registry
