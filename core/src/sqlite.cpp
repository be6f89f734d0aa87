#include "hive/core/sqlite.h"

#include <sqlite3.h>

#include <utility>

namespace hive {
namespace {

sqlite3_stmt* S(void* p) { return static_cast<sqlite3_stmt*>(p); }
sqlite3* D(void* p) { return static_cast<sqlite3*>(p); }

}  // namespace

Statement::Statement(Statement&& o) noexcept
    : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)), bind_error_(std::move(o.bind_error_)) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (stmt_) sqlite3_finalize(S(stmt_));
    db_ = o.db_;
    stmt_ = std::exchange(o.stmt_, nullptr);
    bind_error_ = std::move(o.bind_error_);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(S(stmt_));
}

#define HIVE_SQLITE_BIND(call)                                                           \
  do {                                                                                   \
    if (int rc = (call); rc != SQLITE_OK && bind_error_.ok()) {                          \
      bind_error_ = Status::Internal(std::string("sqlite bind: ") + sqlite3_errstr(rc)); \
    }                                                                                    \
  } while (0)

Statement& Statement::Bind(int i, int64_t v) {
  HIVE_SQLITE_BIND(sqlite3_bind_int64(S(stmt_), i, v));
  return *this;
}
Statement& Statement::Bind(int i, double v) {
  HIVE_SQLITE_BIND(sqlite3_bind_double(S(stmt_), i, v));
  return *this;
}
Statement& Statement::Bind(int i, std::string_view v) {
  HIVE_SQLITE_BIND(
      sqlite3_bind_text64(S(stmt_), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}
Statement& Statement::BindBlob(int i, std::string_view v) {
  HIVE_SQLITE_BIND(sqlite3_bind_blob64(S(stmt_), i, v.data(), v.size(), SQLITE_TRANSIENT));
  return *this;
}
Statement& Statement::BindNull(int i) {
  HIVE_SQLITE_BIND(sqlite3_bind_null(S(stmt_), i));
  return *this;
}
#undef HIVE_SQLITE_BIND

Result<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  int rc = sqlite3_step(S(stmt_));
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = db_->Error("step");
  sqlite3_reset(S(stmt_));
  return s;
}

Status Statement::Run() {
  while (true) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
  }
}

void Statement::Reset() {
  sqlite3_reset(S(stmt_));
  sqlite3_clear_bindings(S(stmt_));
  bind_error_ = Status::Ok();
}

int64_t Statement::ColumnInt(int c) const { return sqlite3_column_int64(S(stmt_), c); }
double Statement::ColumnDouble(int c) const { return sqlite3_column_double(S(stmt_), c); }
std::string Statement::ColumnText(int c) const {
  const unsigned char* p = sqlite3_column_text(S(stmt_), c);
  int n = sqlite3_column_bytes(S(stmt_), c);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
std::string Statement::ColumnBlob(int c) const {
  const void* p = sqlite3_column_blob(S(stmt_), c);
  int n = sqlite3_column_bytes(S(stmt_), c);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
bool Statement::ColumnIsNull(int c) const {
  return sqlite3_column_type(S(stmt_), c) == SQLITE_NULL;
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, SqliteOptions options) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status::Unavailable("open " + path + ": " + msg);
  }
  std::unique_ptr<SqliteDb> out(new SqliteDb(db, path));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=";
  pragmas += options.durability == Durability::kFull ? "FULL;" : "NORMAL;";
  HIVE_RETURN_IF_ERROR(out->Exec(pragmas).WithContext("open " + path));
  return out;
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(D(db_)); }

Status SqliteDb::Error(std::string_view what) const {
  int rc = sqlite3_extended_errcode(D(db_));
  std::string msg = std::string(what) + " " + path_ + ": " + sqlite3_errmsg(D(db_));
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::Unavailable(msg);
  if (primary == SQLITE_FULL) return Status::ResourceExhausted(msg);
  if (primary == SQLITE_CONSTRAINT) return Status::AlreadyExists(msg);
  return Status::Internal(msg);
}

Status SqliteDb::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(D(db_), s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    Status st = Error("exec");
    sqlite3_free(err);
    return st;
  }
  return Status::Ok();
}

Result<Statement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(D(db_), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error("prepare '" + std::string(sql.substr(0, 60)) + "'");
  return Statement(this, stmt);
}

Status SqliteDb::Migrate(std::span<const std::string_view> migrations) {
  auto stmt = Prepare("PRAGMA user_version");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  const int64_t version = stmt->ColumnInt(0);
  if (version > static_cast<int64_t>(migrations.size())) {
    return Status::FailedPrecondition(path_ + " has schema version " + std::to_string(version) +
                                      ", newer than this binary knows (" +
                                      std::to_string(migrations.size()) + ")");
  }
  for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
    Transaction tx(*this);
    HIVE_RETURN_IF_ERROR(tx.begin_status());
    HIVE_RETURN_IF_ERROR(Exec(migrations[v]).WithContext("migration " + std::to_string(v + 1)));
    HIVE_RETURN_IF_ERROR(Exec("PRAGMA user_version=" + std::to_string(v + 1)));
    HIVE_RETURN_IF_ERROR(tx.Commit());
  }
  return Status::Ok();
}

int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(D(db_)); }
int SqliteDb::Changes() const { return sqlite3_changes(D(db_)); }

Transaction::Transaction(SqliteDb& db) : db_(db), begin_(db.Exec("BEGIN IMMEDIATE")) {}

Transaction::~Transaction() {
  if (!done_ && begin_.ok()) (void)db_.Exec("ROLLBACK");
}

Status Transaction::Commit() {
  if (!begin_.ok()) return begin_;
  Status s = db_.Exec("COMMIT");
  if (s.ok()) done_ = true;
  return s;
}

}  // namespace hive
