#include "hive/config_store/config_store.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "temp_dir.h"
#include "test_support.h"

namespace hive::config_store {
namespace {

using hive::testing::TempDir;
using testing::MetricValue;

WriteRequest Write(std::string app, std::string profile, std::string author = "alice",
                   std::string message = "") {
  WriteRequest w;
  w.app = std::move(app);
  w.profile = std::move(profile);
  w.author = std::move(author);
  w.message = std::move(message);
  return w;
}

class ConfigStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Reopen();
  }

  void Reopen() {
    store_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    ConfigStoreOptions options;
    options.data_dir = dir_.path();
    options.clock = &clock_;
    options.metrics = registry_;
    auto store = ConfigStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  PushResult MustPush(const WriteRequest& w, std::string_view json) {
    auto r = store_->PushJson(w, json);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PushResult{};
  }

  double Metric(std::string_view name, std::string_view result = {}) {
    return MetricValue(*registry_, name, result.empty() ? "" : "result", result);
  }

  TempDir dir_;
  FakeClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ConfigStore> store_;
};

TEST_F(ConfigStoreTest, EveryChangeMakesTheNextVersionAndBumpsTheIndex) {
  EXPECT_EQ(store_->index(), 0);
  auto v1 = MustPush(Write("payments", "prod"), R"({"a":1})");
  EXPECT_EQ(v1.version, 1);
  EXPECT_TRUE(v1.changed);
  EXPECT_EQ(v1.index, 1);
  auto other = MustPush(Write("orders", "prod"), R"({"a":1})");
  EXPECT_EQ(other.version, 1);
  EXPECT_EQ(other.index, 2);
  auto v2 = MustPush(Write("payments", "prod"), R"({"a":2})");
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v2.index, 3);
  EXPECT_EQ(store_->index(), 3);
  EXPECT_EQ(Metric("hive_config_pushes_total", "created"), 3);
  EXPECT_EQ(Metric("hive_config_documents"), 2);
}

TEST_F(ConfigStoreTest, IdenticalContentMakesNoVersion) {
  MustPush(Write("payments", "prod"), R"({"db":{"size":5},"x":"y"})");
  auto again = MustPush(Write("payments", "prod"), R"({ "x": "y", "db.size": 5 })");
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.version, 1);
  EXPECT_EQ(again.index, 1);
  EXPECT_EQ(store_->History("payments", "prod")->size(), 1u);
  EXPECT_EQ(Metric("hive_config_pushes_total", "unchanged"), 1);
}

TEST_F(ConfigStoreTest, IfMatchIsCompareAndSet) {
  auto create = Write("payments", "prod");
  create.if_match = 0;
  EXPECT_EQ(MustPush(create, R"({"a":1})").version, 1);

  auto lost = store_->PushJson(create, R"({"a":2})");
  ASSERT_TRUE(lost.status().IsAborted());
  EXPECT_NE(lost.status().message().find("payments/prod is at version 1"), std::string::npos)
      << lost.status().message();
  EXPECT_EQ(Metric("hive_config_pushes_total", "conflict"), 1);

  auto update = Write("payments", "prod");
  update.if_match = 1;
  EXPECT_EQ(MustPush(update, R"({"a":2})").version, 2);
  EXPECT_EQ(store_->index(), 2);
}

TEST_F(ConfigStoreTest, RejectedPushChangesNothing) {
  MustPush(Write("payments", "prod"), R"({"a":1})");
  EXPECT_TRUE(
      store_->PushJson(Write("payments", "prod"), R"({"bad key":1})").status().IsInvalidArgument());
  EXPECT_TRUE(store_->PushJson(Write("payments", "prod"), "[1]").status().IsInvalidArgument());
  EXPECT_TRUE(store_->PushJson(Write("Payments", "prod"), "{}").status().IsInvalidArgument());
  EXPECT_TRUE(store_->PushJson(Write("payments", "prod", "alice", std::string(1025, 'm')), "{}")
                  .status()
                  .IsInvalidArgument());
  EXPECT_EQ(store_->PushJson(Write("payments", "prod"), std::string(kMaxDocumentBytes + 1, ' '))
                .status()
                .code(),
            StatusCode::kTooLarge);
  EXPECT_TRUE(store_->Push(Write("payments", "prod"), {{"a/b", Value::Int(1)}})
                  .status()
                  .IsInvalidArgument());
  EXPECT_EQ(store_->index(), 1);
  EXPECT_EQ(store_->History("payments", "prod")->size(), 1u);
  EXPECT_EQ(Metric("hive_config_pushes_total", "rejected"), 6);
}

TEST_F(ConfigStoreTest, LayersLowestFirstWithSources) {
  MustPush(Write("application", "default"), R"({"a":"app-default","b":"app-default","c":0,"d":0})");
  MustPush(Write("application", "prod"), R"({"b":"app-prod"})");
  MustPush(Write("payments", "default"), R"({"c":{"x":true}})");
  MustPush(Write("payments", "prod"), R"({"d":null})");
  MustPush(Write("payments", "prod"), R"({"d":4})");
  MustPush(Write("payments", "dev"), R"({"a":"ignored"})");

  auto eff = store_->GetEffective("payments", "prod");
  ASSERT_TRUE(eff.ok()) << eff.status().ToString();
  EXPECT_EQ(eff->app, "payments");
  EXPECT_EQ(eff->profile, "prod");
  EXPECT_EQ(eff->version, 2);
  EXPECT_EQ(eff->index, 6);
  EXPECT_EQ(eff->properties, (Properties{{"a", Value::String("app-default")},
                                         {"b", Value::String("app-prod")},
                                         {"c", Value::Int(0)},
                                         {"c.x", Value::Bool(true)},
                                         {"d", Value::Int(4)}}));
  EXPECT_EQ(eff->property_sources, (std::map<std::string, std::string>{{"a", "application/default"},
                                                                       {"b", "application/prod"},
                                                                       {"c", "application/default"},
                                                                       {"c.x", "payments/default"},
                                                                       {"d", "payments/prod"}}));
  ASSERT_EQ(eff->sources.size(), 4u);
  EXPECT_EQ(eff->sources[0].app, "application");
  EXPECT_EQ(eff->sources[0].profile, "default");
  EXPECT_EQ(eff->sources[1].profile, "prod");
  EXPECT_EQ(eff->sources[2].app, "payments");
  EXPECT_EQ(eff->sources[2].profile, "default");
  EXPECT_EQ(eff->sources[3].profile, "prod");
  EXPECT_EQ(eff->sources[3].version, 2);

  // An app nobody pushed for still sees the shared layers.
  auto orders = store_->GetEffective("orders", "staging");
  ASSERT_TRUE(orders.ok());
  EXPECT_EQ(orders->version, 0);
  ASSERT_EQ(orders->sources.size(), 1u);
  EXPECT_EQ(orders->properties.at("b"), Value::String("app-default"));

  // application/default layers onto itself once.
  auto shared = store_->GetEffective("application", "default");
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->sources.size(), 1u);
  EXPECT_EQ(shared->version, 1);

  EXPECT_TRUE(store_->GetEffective("payments", "Prod").status().IsInvalidArgument());
}

TEST_F(ConfigStoreTest, UnknownAppHasNoPropertiesAndVersionZero) {
  auto eff = store_->GetEffective("nobody", "default");
  ASSERT_TRUE(eff.ok());
  EXPECT_EQ(eff->version, 0);
  EXPECT_EQ(eff->index, 0);
  EXPECT_TRUE(eff->properties.empty());
  EXPECT_TRUE(eff->sources.empty());
}

TEST_F(ConfigStoreTest, HistoryAndVersionsRecordWhoWhenWhat) {
  const TimePoint t1 = clock_.Now();
  MustPush(Write("payments", "prod", "alice", "first"), R"({"a":1,"b":[1,2]})");
  clock_.Advance(std::chrono::minutes(5));
  MustPush(Write("payments", "prod", "bob", "second"), R"({"a":2})");

  auto history = store_->History("payments", "prod");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].version, 2);
  EXPECT_EQ((*history)[0].author, "bob");
  EXPECT_EQ((*history)[0].message, "second");
  EXPECT_EQ((*history)[0].created_at, t1 + std::chrono::minutes(5));
  EXPECT_EQ((*history)[0].key_count, 1u);
  EXPECT_EQ((*history)[1].version, 1);
  EXPECT_EQ((*history)[1].author, "alice");
  EXPECT_EQ((*history)[1].key_count, 3u);

  auto v1 = store_->GetVersion("payments", "prod", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->info.message, "first");
  EXPECT_EQ(v1->info.created_at, t1);
  EXPECT_EQ(v1->info.hash, ContentHash(v1->properties));
  EXPECT_EQ(v1->properties.at("b[1]"), Value::Int(2));
  EXPECT_TRUE(store_->GetVersion("payments", "prod", 3).status().IsNotFound());
  EXPECT_TRUE(store_->History("nobody", "prod")->empty());
}

TEST_F(ConfigStoreTest, RollbackMakesANewVersionWithOldContent) {
  MustPush(Write("payments", "demo"), R"({"failure_rate":0})");
  MustPush(Write("payments", "demo"), R"({"failure_rate":0.3})");

  auto back = store_->Rollback(Write("payments", "demo", "carol"), std::nullopt);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->version, 3);
  EXPECT_TRUE(back->changed);
  auto v3 = store_->GetVersion("payments", "demo", 3);
  EXPECT_EQ(v3->properties.at("failure_rate"), Value::Int(0));
  EXPECT_EQ(v3->info.message, "rollback to v1");
  EXPECT_EQ(v3->info.author, "carol");

  auto to2 = store_->Rollback(Write("payments", "demo", "carol", "again"), 2);
  ASSERT_TRUE(to2.ok());
  EXPECT_EQ(to2->version, 4);
  EXPECT_EQ(store_->GetVersion("payments", "demo", 4)->info.message, "again");
  EXPECT_EQ(store_->GetEffective("payments", "demo")->properties.at("failure_rate"),
            Value::Number("0.3"));

  // Content equal to the current version writes nothing.
  auto same = store_->Rollback(Write("payments", "demo"), 2);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->changed);
  EXPECT_EQ(same->version, 4);

  EXPECT_TRUE(store_->Rollback(Write("payments", "demo"), 9).status().IsNotFound());
  EXPECT_TRUE(store_->Rollback(Write("payments", "demo"), 0).status().IsInvalidArgument());
  auto stale = Write("payments", "demo");
  stale.if_match = 3;
  EXPECT_TRUE(store_->Rollback(stale, 1).status().IsAborted());
  EXPECT_EQ(Metric("hive_config_rollbacks_total"), 2);

  MustPush(Write("orders", "demo"), R"({"a":1})");
  EXPECT_EQ(store_->Rollback(Write("orders", "demo"), std::nullopt).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Rollback(Write("nobody", "demo"), std::nullopt).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->Rollback(Write("nobody", "demo"), 1).status().IsNotFound());
}

TEST_F(ConfigStoreTest, SurvivesReopenOfTheSameDataDir) {
  MustPush(Write("payments", "prod", "alice", "one"), R"({"a":1,"s":"x"})");
  MustPush(Write("orders", "prod"), R"({"b":true})");
  Reopen();
  EXPECT_EQ(store_->index(), 2);
  EXPECT_EQ(Metric("hive_config_documents"), 2);
  auto eff = store_->GetEffective("payments", "prod");
  ASSERT_TRUE(eff.ok());
  EXPECT_EQ(eff->version, 1);
  EXPECT_EQ(eff->properties, (Properties{{"a", Value::Int(1)}, {"s", Value::String("x")}}));
  EXPECT_EQ(store_->History("payments", "prod")->at(0).message, "one");
  // Identical content is still recognised after the restart.
  EXPECT_FALSE(MustPush(Write("payments", "prod"), R"({"s":"x","a":1})").changed);
  auto next = MustPush(Write("payments", "prod"), R"({"a":2})");
  EXPECT_EQ(next.version, 2);
  EXPECT_EQ(next.index, 3);
}

TEST_F(ConfigStoreTest, OpenNeedsAnExistingDirectory) {
  ConfigStoreOptions options;
  options.data_dir = dir_.path() + "/missing";
  auto r = ConfigStore::Open(options);
  ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("does not exist"), std::string::npos);
  options.data_dir = "";
  EXPECT_EQ(ConfigStore::Open(options).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ConfigStoreTest, SubscribersAreWokenByAPushAndCounted) {
  const int64_t start = store_->index();
  std::atomic<int> wakes{0};
  auto sub = store_->SubscribeChanges("payments", "prod", [&] { ++wakes; });
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(Metric("hive_config_blocked_watchers"), 1);
  EXPECT_FALSE(store_->ChangedSince("payments", "prod", start));
  MustPush(Write("payments", "prod"), R"({"a":1})");
  EXPECT_EQ(wakes.load(), 1);
  EXPECT_TRUE(store_->ChangedSince("payments", "prod", start));
  EXPECT_FALSE(store_->ChangedSince("payments", "prod", start + 1));
  sub->Reset();
  EXPECT_EQ(Metric("hive_config_blocked_watchers"), 0);
  MustPush(Write("payments", "prod"), R"({"a":2})");
  EXPECT_EQ(wakes.load(), 1);
}

TEST_F(ConfigStoreTest, AnIndexFromBeforeAResetHasSomethingNew) {
  MustPush(Write("payments", "prod"), R"({"a":1})");
  EXPECT_FALSE(store_->ChangedSince("payments", "prod", 1));
  EXPECT_TRUE(store_->ChangedSince("payments", "prod", 0));
  EXPECT_TRUE(store_->ChangedSince("payments", "prod", 7));
  EXPECT_TRUE(store_->SubscribeChanges("Bad App", "prod", [] {}).status().IsInvalidArgument());
}

TEST_F(ConfigStoreTest, StopWakesWatchers) {
  std::atomic<int> wakes{0};
  auto sub = store_->SubscribeChanges("payments", "prod", [&] { ++wakes; });
  ASSERT_TRUE(sub.ok());
  EXPECT_FALSE(store_->ChangedSince("payments", "prod", 0));
  store_->Stop();
  EXPECT_GE(wakes.load(), 1);  // once per layer it watches
  store_->Stop();
  EXPECT_TRUE(store_->ChangedSince("payments", "prod", 0));
}

}  // namespace
}  // namespace hive::config_store
