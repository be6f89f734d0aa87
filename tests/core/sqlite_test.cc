#include "hive/core/sqlite.h"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>

namespace hive {
namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("sqlite_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path() const { return (dir_ / "test.db").string(); }
  std::filesystem::path dir_;
};

constexpr std::array<std::string_view, 2> kMigrations = {
    "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "ALTER TABLE kv ADD COLUMN n INTEGER NOT NULL DEFAULT 0",
};

TEST_F(SqliteTest, MigratesOnceAndPersists) {
  {
    auto db = SqliteDb::Open(Path());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Migrate(kMigrations).ok());
    auto ins = (*db)->Prepare("INSERT INTO kv (k, v, n) VALUES (?, ?, ?)");
    ASSERT_TRUE(ins.ok());
    ASSERT_TRUE(ins->Bind(1, "a").Bind(2, "alpha").Bind(3, 7).Run().ok());
  }
  auto db = SqliteDb::Open(Path());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate(kMigrations).ok());  // idempotent
  auto q = (*db)->Prepare("SELECT v, n FROM kv WHERE k = ?");
  ASSERT_TRUE(q.ok());
  q->Bind(1, "a");
  auto row = q->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(q->ColumnText(0), "alpha");
  EXPECT_EQ(q->ColumnInt(1), 7);
}

TEST_F(SqliteTest, RefusesANewerSchema) {
  auto db = SqliteDb::Open(Path());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate(kMigrations).ok());
  std::array<std::string_view, 1> older = {kMigrations[0]};
  EXPECT_EQ((*db)->Migrate(older).code(), StatusCode::kFailedPrecondition);
}

TEST_F(SqliteTest, TransactionRollsBackUnlessCommitted) {
  auto db = SqliteDb::Open(Path());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate(kMigrations).ok());
  {
    Transaction tx(**db);
    ASSERT_TRUE(tx.begin_status().ok());
    ASSERT_TRUE((*db)->Exec("INSERT INTO kv (k, v) VALUES ('x', 'lost')").ok());
  }
  {
    Transaction tx(**db);
    ASSERT_TRUE((*db)->Exec("INSERT INTO kv (k, v) VALUES ('y', 'kept')").ok());
    ASSERT_TRUE(tx.Commit().ok());
  }
  auto q = (*db)->Prepare("SELECT group_concat(k) FROM kv");
  ASSERT_TRUE(q.ok() && *q->Step());
  EXPECT_EQ(q->ColumnText(0), "y");
}

TEST_F(SqliteTest, ConstraintViolationIsAlreadyExists) {
  auto db = SqliteDb::Open(Path());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate(kMigrations).ok());
  ASSERT_TRUE((*db)->Exec("INSERT INTO kv (k, v) VALUES ('a', '1')").ok());
  EXPECT_EQ((*db)->Exec("INSERT INTO kv (k, v) VALUES ('a', '2')").code(),
            StatusCode::kAlreadyExists);
  EXPECT_FALSE((*db)->Prepare("SELEKT nonsense").ok());
}

}  // namespace
}  // namespace hive
