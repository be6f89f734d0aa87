// The config store's deletes, audit log, dry runs, diffs, secrets at rest
// and per-document wakeups, against SQLite on disk.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "hive/config_store/config_store.h"
#include "temp_dir.h"

namespace hive::config_store {
// A namespace of its own: a unity build compiles it with same-named helpers.
namespace store_features_test {
namespace {

using hive::testing::TempDir;

constexpr std::string_view kKey =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::string_view kOtherKey =
    "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

WriteRequest Write(std::string app, std::string profile, std::string author = "alice") {
  WriteRequest w;
  w.app = std::move(app);
  w.profile = std::move(profile);
  w.author = std::move(author);
  return w;
}

class StoreFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(Reopen(kKey).ok());
  }

  // Opens the store with `key` (empty: no secrets key).
  Status Reopen(std::string_view key) {
    store_.reset();
    ConfigStoreOptions options;
    options.data_dir = dir_.path();
    options.clock = &clock_;
    options.metrics = std::make_shared<prometheus::Registry>();
    if (!key.empty()) {
      auto box = SecretBox::FromKeyText(key);
      if (!box.ok()) return box.status();
      options.secrets = std::make_shared<SecretBox>(*box);
    }
    auto store = ConfigStore::Open(options);
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    return Status::Ok();
  }

  PushResult MustPush(const WriteRequest& w, DocumentFormat format, std::string_view text) {
    auto r = store_->PushDocument(w, format, text);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PushResult{};
  }

  // Every byte SQLite wrote: the database, its WAL and shared memory.
  std::string DatabaseBytes() {
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      all += s.str();
    }
    return all;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<ConfigStore> store_;
};

TEST_F(StoreFeaturesTest, YamlAndPropertiesPushesAreVersions) {
  EXPECT_EQ(MustPush(Write("payments", "prod"), DocumentFormat::kYaml, "db:\n  size: 5\n").version,
            1);
  auto same = MustPush(Write("payments", "prod"), DocumentFormat::kJson, R"({"db":{"size":5}})");
  EXPECT_FALSE(same.changed) << "the same properties in another format are unchanged";
  auto props = MustPush(Write("payments", "prod"), DocumentFormat::kProperties, "db.size=6\n");
  EXPECT_EQ(props.version, 2);
  EXPECT_EQ(props.diff.changed.at("db.size").second, Value::String("6"));
}

TEST_F(StoreFeaturesTest, RejectedPushesChangeNothing) {
  MustPush(Write("payments", "prod"), DocumentFormat::kJson, R"({"a":1})");
  const int64_t index = store_->index();
  EXPECT_TRUE(store_->PushDocument(Write("payments", "prod"), DocumentFormat::kYaml, "a: [1\n")
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(
      store_->PushDocument(Write("payments", "prod"), DocumentFormat::kProperties, "bad$key=1\n")
          .status()
          .IsInvalidArgument());
  EXPECT_EQ(store_
                ->PushDocument(Write("payments", "prod"), DocumentFormat::kProperties,
                               std::string(kMaxDocumentBytes + 1, '#'))
                .status()
                .code(),
            StatusCode::kTooLarge);
  EXPECT_EQ(store_->index(), index);
  EXPECT_EQ(store_->History("payments", "prod")->size(), 1u);
  EXPECT_EQ(store_->Audit({})->size(), 1u);
}

TEST_F(StoreFeaturesTest, DeleteWritesATombstoneThatAPushRevives) {
  MustPush(Write("application", "default"), DocumentFormat::kJson, R"({"shared":1,"x":"base"})");
  MustPush(Write("payments", "prod"), DocumentFormat::kJson, R"({"x":"mine"})");
  auto del = store_->Delete(Write("payments", "prod"));
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del->version, 2);
  EXPECT_EQ(del->diff.removed.size(), 1u);

  auto effective = store_->GetEffective("payments", "prod");
  ASSERT_TRUE(effective.ok());
  EXPECT_EQ(effective->properties.at("x"), Value::String("base"));
  EXPECT_EQ(effective->version, 2);
  EXPECT_EQ(effective->sources.size(), 1u) << "the deleted layer contributes nothing";

  auto history = store_->History("payments", "prod");
  ASSERT_EQ(history->size(), 2u);
  EXPECT_TRUE((*history)[0].deleted);
  EXPECT_FALSE((*history)[1].deleted);
  EXPECT_TRUE(store_->Delete(Write("payments", "prod")).status().IsNotFound());
  EXPECT_TRUE(store_->Delete(Write("nobody", "prod")).status().IsNotFound());
  EXPECT_EQ(store_->Rollback(Write("payments", "prod"), 2).status().code(),
            StatusCode::kFailedPrecondition);

  auto revived = store_->Rollback(Write("payments", "prod"), std::nullopt);
  ASSERT_TRUE(revived.ok()) << revived.status().ToString();
  EXPECT_EQ(revived->version, 3);
  EXPECT_EQ(store_->GetEffective("payments", "prod")->properties.at("x"), Value::String("mine"));
  // An empty document is not the same as a deleted one.
  MustPush(Write("empty", "prod"), DocumentFormat::kJson, "{}");
  EXPECT_TRUE(store_->Delete(Write("empty", "prod")).ok());
  EXPECT_TRUE(MustPush(Write("empty", "prod"), DocumentFormat::kJson, "{}").changed);
}

TEST_F(StoreFeaturesTest, AuditRecordsEveryWriteWithKeysButNoValues) {
  MustPush(Write("payments", "prod", "ci"), DocumentFormat::kJson,
           R"({"a":1,"b":2,"pw":"{secret}hunter2"})");
  clock_.Advance(std::chrono::seconds(5));
  WriteRequest second = Write("payments", "prod", "bob");
  second.message = "tune";
  MustPush(second, DocumentFormat::kJson, R"({"a":3,"c":4,"pw":"{secret}hunter3"})");
  ASSERT_TRUE(store_->Rollback(Write("payments", "prod", "carol"), 1).ok());
  ASSERT_TRUE(store_->Delete(Write("payments", "prod", "dave")).ok());
  MustPush(Write("orders", "prod"), DocumentFormat::kJson, R"({"z":1})");
  WriteRequest dry = Write("orders", "prod");
  dry.dry_run = true;
  ASSERT_TRUE(store_->PushDocument(dry, DocumentFormat::kJson, R"({"z":2})").ok());

  auto all = store_->Audit({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u) << "a dry run is not a write";
  auto entries = store_->Audit({"payments", "prod", 10});
  ASSERT_EQ(entries->size(), 4u);
  const AuditEntry& push2 = (*entries)[2];
  EXPECT_EQ(push2.actor, "bob");
  EXPECT_EQ(push2.action, AuditAction::kPush);
  EXPECT_EQ(push2.version, 2);
  EXPECT_EQ(push2.message, "tune");
  EXPECT_EQ(push2.added, std::vector<std::string>{"c"});
  EXPECT_EQ(push2.removed, std::vector<std::string>{"b"});
  EXPECT_EQ(push2.changed, (std::vector<std::string>{"a", "pw"}));
  EXPECT_EQ((*entries)[1].action, AuditAction::kRollback);
  EXPECT_EQ((*entries)[1].actor, "carol");
  EXPECT_EQ((*entries)[0].action, AuditAction::kDelete);
  EXPECT_EQ((*entries)[0].removed, (std::vector<std::string>{"a", "b", "pw"}));
  EXPECT_GT((*entries)[2].at, (*entries)[3].at);
  EXPECT_EQ(store_->Audit({"", "", 2})->size(), 2u);
  EXPECT_TRUE(store_->Audit({"Bad!", "", 2}).status().IsInvalidArgument());
}

TEST_F(StoreFeaturesTest, DryRunValidatesAndDiffsButWritesNothing) {
  MustPush(Write("payments", "prod"), DocumentFormat::kJson, R"({"a":1})");
  WriteRequest dry = Write("payments", "prod");
  dry.dry_run = true;
  auto r = store_->PushDocument(dry, DocumentFormat::kJson, R"({"a":2,"b":true})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->version, 2) << "the version the push would make";
  EXPECT_EQ(r->diff.added.size(), 1u);
  EXPECT_EQ(r->diff.changed.size(), 1u);
  EXPECT_EQ(*store_->CurrentVersion("payments", "prod"), 1);
  dry.if_match = 7;
  EXPECT_TRUE(store_->PushDocument(dry, DocumentFormat::kJson, "{}").status().IsAborted());
}

TEST_F(StoreFeaturesTest, DiffBetweenVersions) {
  MustPush(Write("payments", "prod"), DocumentFormat::kJson, R"({"a":1,"b":1})");
  MustPush(Write("payments", "prod"), DocumentFormat::kJson, R"({"a":2,"c":1})");
  auto d = store_->Diff("payments", "prod", 1, 2);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->added.size(), 1u);
  EXPECT_EQ(d->removed.size(), 1u);
  EXPECT_EQ(d->changed.size(), 1u);
  EXPECT_EQ(store_->Diff("payments", "prod", 0, 1)->added.size(), 2u);
  EXPECT_TRUE(store_->Diff("payments", "prod", 1, 9).status().IsNotFound());
}

TEST_F(StoreFeaturesTest, SecretsAreEncryptedAtRestAndReadBackInClear) {
  auto r = MustPush(Write("payments", "prod"), DocumentFormat::kYaml,
                    "db:\n  password: \"{secret}hunter2-very-secret\"\n  user: app\n");
  EXPECT_TRUE(r.changed);
  auto effective = store_->GetEffective("payments", "prod");
  ASSERT_TRUE(effective.ok()) << effective.status().ToString();
  EXPECT_EQ(effective->properties.at("db.password"), Value::Secret("hunter2-very-secret"));
  EXPECT_EQ(DatabaseBytes().find("hunter2-very-secret"), std::string::npos);
  EXPECT_NE(DatabaseBytes().find("db.password"), std::string::npos);

  // The same secret again is unchanged; a new one is a change.
  EXPECT_FALSE(MustPush(Write("payments", "prod"), DocumentFormat::kYaml,
                        "db:\n  password: \"{secret}hunter2-very-secret\"\n  user: app\n")
                   .changed);
  EXPECT_TRUE(MustPush(Write("payments", "prod"), DocumentFormat::kYaml,
                       "db:\n  password: \"{secret}other\"\n  user: app\n")
                  .changed);
  // A rollback re-seals the old secret.
  ASSERT_TRUE(store_->Rollback(Write("payments", "prod"), 1).ok());
  EXPECT_EQ(store_->GetEffective("payments", "prod")->properties.at("db.password").text(),
            "hunter2-very-secret");
}

TEST_F(StoreFeaturesTest, MissingOrWrongKeyIsAClearErrorAtOpen) {
  MustPush(Write("payments", "prod"), DocumentFormat::kJson, R"({"pw":"{secret}s"})");
  Status missing = Reopen("");
  EXPECT_EQ(missing.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.message().find("--secrets-key-file"), std::string::npos) << missing.message();
  Status wrong = Reopen(kOtherKey);
  EXPECT_EQ(wrong.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.message().find("not the one"), std::string::npos) << wrong.message();
  ASSERT_TRUE(Reopen(kKey).ok());
  EXPECT_EQ(store_->GetEffective("payments", "prod")->properties.at("pw").text(), "s");
}

TEST_F(StoreFeaturesTest, SecretWithoutAKeyIsRefused) {
  TempDir other;
  ConfigStoreOptions options;
  options.data_dir = other.path();
  auto store = ConfigStore::Open(options);
  ASSERT_TRUE(store.ok());
  auto r = (*store)->PushJson(Write("payments", "prod"), R"({"pw":"{secret}s","a":1})");
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("--secrets-key-file"), std::string::npos);
  EXPECT_EQ((*store)->index(), 0);
}

TEST_F(StoreFeaturesTest, WatchersWakeOnlyForTheirLayers) {
  const int64_t start = store_->index();
  std::atomic<int> wakes{0};
  auto sub = store_->SubscribeChanges("payments", "prod", [&] { ++wakes; });
  ASSERT_TRUE(sub.ok());
  // A change to another application does not concern it.
  MustPush(Write("orders", "prod"), DocumentFormat::kJson, R"({"a":1})");
  MustPush(Write("application", "staging"), DocumentFormat::kJson, R"({"a":1})");
  EXPECT_EQ(wakes.load(), 0);
  EXPECT_FALSE(store_->ChangedSince("payments", "prod", start));

  // A change to any of its layers does.
  MustPush(Write("application", "prod"), DocumentFormat::kJson, R"({"shared":1})");
  EXPECT_EQ(wakes.load(), 1);
  MustPush(Write("application", "default"), DocumentFormat::kJson, R"({"shared":1})");
  MustPush(Write("payments", "default"), DocumentFormat::kJson, R"({"own":1})");
  MustPush(Write("payments", "prod"), DocumentFormat::kJson, R"({"own":2})");
  EXPECT_EQ(wakes.load(), 4);
  EXPECT_TRUE(store_->ChangedSince("payments", "prod", start));
  EXPECT_FALSE(store_->ChangedSince("payments", "prod", store_->index()));
  // An index from the future has something new at once.
  EXPECT_TRUE(store_->ChangedSince("payments", "prod", 1000));
}

}  // namespace
}  // namespace store_features_test
}  // namespace hive::config_store
