#include "registry_store.h"

#include <array>
#include <nlohmann/json.hpp>
#include <string_view>

namespace hive::registry {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE instances (
  service TEXT NOT NULL,
  id TEXT NOT NULL,
  address TEXT NOT NULL,
  port INTEGER NOT NULL,
  version TEXT NOT NULL,
  tags TEXT NOT NULL,             -- JSON array of strings
  metadata TEXT NOT NULL,         -- JSON object of strings
  ttl_ns INTEGER NOT NULL,
  health_status TEXT NOT NULL,    -- as last reported
  health_output TEXT NOT NULL,
  registered_at_ns INTEGER NOT NULL,
  last_seen_ns INTEGER NOT NULL,  -- as of the last persisted change
  maintenance INTEGER NOT NULL,
  maintenance_reason TEXT NOT NULL,
  PRIMARY KEY (service, id)
) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql",
};

Status AsUnavailable(const Status& s) {
  return s.ok() ? s : Status::Unavailable("registry database: " + s.message());
}

}  // namespace

Result<std::unique_ptr<RegistryStore>> RegistryStore::Open(const std::string& path) {
  // A registration survives a crash of hived; NORMAL keeps writes cheap. The
  // registry writes under its table lock, so a locked file fails fast rather
  // than stalling every heartbeat.
  auto db = SqliteDb::Open(path, {.durability = Durability::kNormal, .busy_timeout_ms = 500});
  if (!db.ok()) return db.status();
  HIVE_RETURN_IF_ERROR((*db)->Migrate(kMigrations));
  return std::unique_ptr<RegistryStore>(new RegistryStore(std::move(*db)));
}

Result<StoredState> RegistryStore::Load() {
  StoredState state;
  auto meta = db_->Prepare("SELECT value FROM meta WHERE key = 'index'");
  if (!meta.ok()) return meta.status();
  auto has = meta->Step();
  if (!has.ok()) return has.status();
  if (*has) state.index = static_cast<uint64_t>(meta->ColumnInt(0));

  auto rows = db_->Prepare(
      "SELECT service, id, address, port, version, tags, metadata, ttl_ns, health_status, "
      "health_output, registered_at_ns, last_seen_ns, maintenance, maintenance_reason "
      "FROM instances ORDER BY service, id");
  if (!rows.ok()) return rows.status();
  while (true) {
    auto row = rows->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Instance inst;
    inst.service = rows->ColumnText(0);
    inst.id = rows->ColumnText(1);
    inst.address = rows->ColumnText(2);
    inst.port = static_cast<int>(rows->ColumnInt(3));
    inst.version = rows->ColumnText(4);
    const std::string where = "stored instance " + inst.service + "/" + inst.id;
    try {
      inst.tags = json::parse(rows->ColumnText(5)).get<std::vector<std::string>>();
      inst.metadata = json::parse(rows->ColumnText(6)).get<std::map<std::string, std::string>>();
    } catch (const json::exception& e) {
      return Status::Internal(where + ": bad tags or metadata: " + e.what());
    }
    inst.ttl = Duration(rows->ColumnInt(7));
    auto status = ParseHealthStatus(rows->ColumnText(8));
    if (!status.ok()) return Status::Internal(where + ": " + status.status().message());
    inst.health = {*status, rows->ColumnText(9)};
    inst.registered_at = FromUnixNanos(rows->ColumnInt(10));
    inst.last_seen = FromUnixNanos(rows->ColumnInt(11));
    inst.maintenance = rows->ColumnInt(12) != 0;
    inst.maintenance_reason = rows->ColumnText(13);
    state.instances.push_back(std::move(inst));
  }
  return state;
}

Status RegistryStore::Write(const std::vector<StoreChange>& changes, uint64_t index) {
  Transaction tx(*db_);
  HIVE_RETURN_IF_ERROR(AsUnavailable(tx.begin_status()));
  for (const StoreChange& c : changes) {
    if (c.instance == nullptr) {
      auto del = db_->Prepare("DELETE FROM instances WHERE service = ?1 AND id = ?2");
      if (!del.ok()) return AsUnavailable(del.status());
      del->Bind(1, c.service).Bind(2, c.id);
      HIVE_RETURN_IF_ERROR(AsUnavailable(del->Run()));
      continue;
    }
    const Instance& inst = *c.instance;
    auto put = db_->Prepare(
        "INSERT OR REPLACE INTO instances (service, id, address, port, version, tags, "
        "metadata, ttl_ns, health_status, health_output, registered_at_ns, last_seen_ns, "
        "maintenance, maintenance_reason) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    if (!put.ok()) return AsUnavailable(put.status());
    const std::string tags = json(inst.tags).dump(-1, ' ', false, json::error_handler_t::replace);
    const std::string metadata =
        json(inst.metadata).dump(-1, ' ', false, json::error_handler_t::replace);
    put->Bind(1, c.service)
        .Bind(2, c.id)
        .Bind(3, inst.address)
        .Bind(4, inst.port)
        .Bind(5, inst.version)
        .Bind(6, tags)
        .Bind(7, metadata)
        .Bind(8, static_cast<int64_t>(inst.ttl.count()))
        .Bind(9, HealthStatusName(inst.health.status))
        .Bind(10, inst.health.output)
        .Bind(11, ToUnixNanos(inst.registered_at))
        .Bind(12, ToUnixNanos(inst.last_seen))
        .Bind(13, inst.maintenance ? 1 : 0)
        .Bind(14, inst.maintenance_reason);
    HIVE_RETURN_IF_ERROR(AsUnavailable(put->Run()));
  }
  auto meta = db_->Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('index', ?1)");
  if (!meta.ok()) return AsUnavailable(meta.status());
  meta->Bind(1, static_cast<int64_t>(index));
  HIVE_RETURN_IF_ERROR(AsUnavailable(meta->Run()));
  return AsUnavailable(tx.Commit());
}

}  // namespace hive::registry
