// A thin RAII layer over SQLite: a connection opened in WAL mode with the
// durability asked for, prepared statements, immediate transactions and
// schema migrations by PRAGMA user_version.
//
// A SqliteDb is one connection and is NOT thread-safe: its owner serializes
// access (typically one writer thread or a mutex). A Statement belongs to the
// connection that prepared it and must not outlive it. sqlite3 types never
// leave sqlite.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "hive/core/status.h"

namespace hive {

class SqliteDb;

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  // Parameters are 1-based, as in SQLite. A bind error is kept and returned
  // by the next Step()/Run().
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);

  // true: a row is ready for Column*(); false: done.
  Result<bool> Step();
  // Steps until done; for statements that return no rows.
  Status Run();
  // Ready to bind and step again; keeps nothing from the last run.
  void Reset();

  int64_t ColumnInt(int col) const;
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  std::string ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;

 private:
  friend class SqliteDb;
  Statement(SqliteDb* db, void* stmt) : db_(db), stmt_(stmt) {}
  SqliteDb* db_;
  void* stmt_;  // sqlite3_stmt*
  Status bind_error_;
};

enum class Durability {
  kFull,    // synchronous=FULL: a commit survives power loss
  kNormal,  // synchronous=NORMAL: a commit survives a process crash
};

struct SqliteOptions {
  Durability durability = Durability::kFull;
  int busy_timeout_ms = 5000;
};

class SqliteDb {
 public:
  // Opens or creates `path` (its directory must exist), in WAL mode.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path,
                                                SqliteOptions options = {});
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);

  // Applies migrations[user_version..] in order, each in its own transaction,
  // bumping user_version after each. FailedPrecondition when the database is
  // newer than the migrations known to this binary.
  Status Migrate(std::span<const std::string_view> migrations);

  int64_t LastInsertRowId() const;
  int Changes() const;
  const std::string& path() const { return path_; }

 private:
  friend class Statement;
  SqliteDb(void* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Error(std::string_view what) const;
  void* db_;  // sqlite3*
  std::string path_;
};

// BEGIN IMMEDIATE on construction; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(SqliteDb& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // The status of BEGIN; check before doing work.
  const Status& begin_status() const { return begin_; }
  Status Commit();

 private:
  SqliteDb& db_;
  Status begin_;
  bool done_ = false;
};

}  // namespace hive
