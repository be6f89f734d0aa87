// The registry on a real SQLite file: what survives a reopen, the grace
// period every lease gets after one, and that heartbeats do not write.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "hive/core/sqlite.h"
#include "hive/registry/registry.h"

namespace hive::registry {
// A namespace of its own: a unity build compiles it with same-named helpers.
namespace registry_persistence_test {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

Registration Reg() {
  Registration r;
  r.address = "10.0.0.7";
  r.port = 8081;
  r.version = "1.4.2";
  r.tags = {"blue", "eu"};
  r.metadata = {{"zone", "a"}, {"note", "quotes \" and \\ survive"}};
  r.ttl = seconds(15);
  return r;
}

class RegistryPersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("registry-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Open();
  }
  void TearDown() override {
    registry_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)opens the registry on the same file, as a restarted hived does.
  void Open() {
    registry_.reset();
    RegistryConfig config;
    config.clock = &clock_;
    config.metrics = std::make_shared<prometheus::Registry>();
    config.db_path = (dir_ / "registry.db").string();
    auto r = Registry::Create(config);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    registry_ = std::move(*r);
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryPersistenceTest, RegistrationsHealthAndOverridesSurviveAReopen) {
  const TimePoint registered = clock_.Now();
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  ASSERT_TRUE(registry_->Register("orders", "orders-2", Reg()).ok());
  ASSERT_TRUE(registry_->Register("payments", "payments-1", Reg()).ok());
  clock_.Advance(seconds(2));
  ASSERT_TRUE(
      registry_->Heartbeat("orders", "orders-1", Health{HealthStatus::kWarning, "slow db"}).ok());
  ASSERT_TRUE(registry_->SetMaintenance("orders", "orders-2", true, "disk swap").ok());
  ASSERT_TRUE(registry_->Deregister("payments", "payments-1").ok());
  const uint64_t index_before = registry_->index();

  clock_.Advance(minutes(10));  // hived was down for a while
  Open();
  EXPECT_GT(registry_->index(), index_before) << "the index never goes backwards";
  auto orders = registry_->GetService("orders", {});
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->instances.size(), 2u);
  const Instance& one = orders->instances[0];
  EXPECT_EQ(one.id, "orders-1");
  EXPECT_EQ(one.address, "10.0.0.7");
  EXPECT_EQ(one.port, 8081);
  EXPECT_EQ(one.version, "1.4.2");
  EXPECT_EQ(one.tags, (std::vector<std::string>{"blue", "eu"}));
  EXPECT_EQ(one.metadata, Reg().metadata);
  EXPECT_EQ(one.ttl, seconds(15));
  EXPECT_EQ(one.health, (Health{HealthStatus::kWarning, "slow db"}));
  EXPECT_EQ(one.registered_at, registered);
  const Instance& two = orders->instances[1];
  EXPECT_TRUE(two.maintenance);
  EXPECT_EQ(two.maintenance_reason, "disk swap");
  EXPECT_TRUE(registry_->GetService("payments", {})->instances.empty());
  EXPECT_EQ(registry_->ListServices().services.size(), 1u);
}

TEST_F(RegistryPersistenceTest, EveryLeaseGetsAGracePeriodAfterAReopen) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  clock_.Advance(minutes(5));  // far past the 15 s lease while hived was down
  Open();
  auto got = registry_->GetService("orders", {.healthy_only = true});
  ASSERT_EQ(got->instances.size(), 1u);
  EXPECT_EQ(got->instances[0].lease_expires_at, clock_.Now() + seconds(15));

  clock_.Advance(seconds(14));
  EXPECT_EQ(registry_->Reap().expired, 0);
  // A heartbeat within the grace period keeps it.
  ASSERT_TRUE(registry_->Heartbeat("orders", "orders-1").ok());
  clock_.Advance(seconds(14));
  EXPECT_EQ(registry_->Reap().expired, 0);
  // Without one it lapses one TTL later, as any lease does.
  clock_.Advance(seconds(1));
  EXPECT_EQ(registry_->Reap().expired, 1);
}

TEST_F(RegistryPersistenceTest, RemovalsByTheReaperArePersisted) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  clock_.Advance(seconds(15));
  ASSERT_EQ(registry_->Reap().expired, 1);
  clock_.Advance(minutes(1));
  ASSERT_EQ(registry_->Reap().removed, 1);
  const uint64_t index_before = registry_->index();
  Open();
  EXPECT_TRUE(registry_->GetService("orders", {})->instances.empty());
  EXPECT_GE(registry_->index(), index_before);
}

TEST_F(RegistryPersistenceTest, PlainHeartbeatsDoNotWrite) {
  const TimePoint registered = clock_.Now();
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(seconds(5));
    ASSERT_TRUE(registry_->Heartbeat("orders", "orders-1").ok());
  }
  Open();
  // last_seen on disk is that of the last persisted change.
  EXPECT_EQ(registry_->GetService("orders", {})->instances.at(0).last_seen, registered);
}

TEST_F(RegistryPersistenceTest, AnUnopenableDatabaseIsAnError) {
  registry_.reset();
  RegistryConfig config;
  config.clock = &clock_;
  config.db_path = (dir_ / "missing-dir" / "registry.db").string();
  EXPECT_FALSE(Registry::Create(config).ok());
}

TEST_F(RegistryPersistenceTest, AFailedWriteChangesNothing) {
  ASSERT_TRUE(registry_->Register("orders", "orders-1", Reg()).ok());
  // Another connection holds the write lock, as a stuck writer would.
  auto other = SqliteDb::Open((dir_ / "registry.db").string(), {.busy_timeout_ms = 10});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE").ok());
  const uint64_t index = registry_->index();
  auto r = registry_->Register("orders", "orders-2", Reg());
  EXPECT_TRUE(r.status().IsUnavailable()) << r.status().ToString();
  EXPECT_TRUE(registry_->Deregister("orders", "orders-1").status().IsUnavailable());
  EXPECT_EQ(registry_->index(), index);
  EXPECT_EQ(registry_->GetService("orders", {})->instances.size(), 1u);
  ASSERT_TRUE((*other)->Exec("ROLLBACK").ok());
  EXPECT_TRUE(registry_->Register("orders", "orders-2", Reg()).ok());
}

}  // namespace
}  // namespace registry_persistence_test
}  // namespace hive::registry
