#include "hive/config_store/config_store.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "hive/core/log.h"
#include "hive/core/text.h"

namespace hive::config_store {

// Each version keeps its own full copy of the flattened properties, so a
// version is readable on its own and never changes once written.
constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE store_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  change_index INTEGER NOT NULL
);
INSERT INTO store_state (id, change_index) VALUES (1, 0);
CREATE TABLE versions (
  id INTEGER PRIMARY KEY,
  app TEXT NOT NULL,
  profile TEXT NOT NULL,
  version INTEGER NOT NULL,
  change_index INTEGER NOT NULL,
  author TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL,
  hash TEXT NOT NULL,
  key_count INTEGER NOT NULL,
  UNIQUE (app, profile, version)
);
CREATE TABLE properties (
  version_id INTEGER NOT NULL REFERENCES versions (id),
  key TEXT NOT NULL,
  type INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (version_id, key)
) WITHOUT ROWID;
)sql",
};

struct ConfigStore::Head {
  int64_t row_id;
  int64_t version;
  std::string hash;
};

namespace {

std::string DocName(std::string_view app, std::string_view profile) {
  return std::string(app) + "/" + std::string(profile);
}

Status ValidateDocument(std::string_view app, std::string_view profile) {
  HIVE_RETURN_IF_ERROR(ValidateName(app, "application"));
  return ValidateName(profile, "profile");
}

Status ValidateWrite(const WriteRequest& request) {
  HIVE_RETURN_IF_ERROR(ValidateDocument(request.app, request.profile));
  if (request.message.size() > kMaxMessageBytes) {
    return Status::InvalidArgument("change message is " + std::to_string(request.message.size()) +
                                   " bytes; at most " + std::to_string(kMaxMessageBytes) +
                                   " are allowed");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ConfigStore>> ConfigStore::Open(const ConfigStoreOptions& options) {
  if (options.data_dir.empty()) {
    return Status::FailedPrecondition("config store: no data directory given");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(options.data_dir, ec)) {
    return Status::FailedPrecondition("config store: data directory '" + options.data_dir +
                                      "' does not exist or is not a directory");
  }
  if (::access(options.data_dir.c_str(), W_OK | X_OK) != 0) {
    return Status::FailedPrecondition("config store: data directory '" + options.data_dir +
                                      "' is not writable: " + std::strerror(errno));
  }
  const std::string path = (std::filesystem::path(options.data_dir) / "config.db").string();
  auto db = SqliteDb::Open(path, SqliteOptions{.durability = Durability::kFull});
  if (!db.ok()) return db.status().WithContext("config store: opening " + path);
  HIVE_RETURN_IF_ERROR((*db)->Migrate(kMigrations).WithContext("config store: migrating " + path));

  auto index_stmt = (*db)->Prepare("SELECT change_index FROM store_state WHERE id = 1");
  if (!index_stmt.ok()) return index_stmt.status();
  auto has_row = index_stmt->Step();
  if (!has_row.ok()) return has_row.status();
  if (!*has_row) return Status::Internal("config store: " + path + " has no store_state row");
  const int64_t index = index_stmt->ColumnInt(0);

  auto docs_stmt =
      (*db)->Prepare("SELECT COUNT(*) FROM (SELECT DISTINCT app, profile FROM versions)");
  if (!docs_stmt.ok()) return docs_stmt.status();
  auto docs_row = docs_stmt->Step();
  if (!docs_row.ok()) return docs_row.status();
  const int64_t documents = docs_stmt->ColumnInt(0);

  ConfigStoreOptions opts = options;
  if (!opts.metrics) opts.metrics = std::make_shared<prometheus::Registry>();
  Metrics metrics{};
  try {
    auto& pushes = prometheus::BuildCounter()
                       .Name("hive_config_pushes_total")
                       .Help("Config document pushes by result")
                       .Register(*opts.metrics);
    metrics.created = &pushes.Add({{"result", "created"}});
    metrics.unchanged = &pushes.Add({{"result", "unchanged"}});
    metrics.conflict = &pushes.Add({{"result", "conflict"}});
    metrics.rejected = &pushes.Add({{"result", "rejected"}});
    metrics.rollbacks = &prometheus::BuildCounter()
                             .Name("hive_config_rollbacks_total")
                             .Help("Config rollbacks that made a new version")
                             .Register(*opts.metrics)
                             .Add({});
    metrics.documents = &prometheus::BuildGauge()
                             .Name("hive_config_documents")
                             .Help("Config documents (application/profile pairs) with a version")
                             .Register(*opts.metrics)
                             .Add({});
    metrics.blocked_watchers = &prometheus::BuildGauge()
                                    .Name("hive_config_blocked_watchers")
                                    .Help("Blocking config reads waiting for a change")
                                    .Register(*opts.metrics)
                                    .Add({});
  } catch (const std::exception& e) {
    return Status::Internal(std::string("config store: registering metrics: ") + e.what());
  }
  metrics.documents->Set(static_cast<double>(documents));

  log::Info("config store opened", {{"path", path}, {"index", index}, {"documents", documents}});
  return std::unique_ptr<ConfigStore>(new ConfigStore(std::move(*db), opts, metrics, index));
}

ConfigStore::ConfigStore(std::unique_ptr<SqliteDb> db, const ConfigStoreOptions& options,
                         Metrics metrics, int64_t index)
    : registry_(options.metrics),
      metrics_(metrics),
      clock_(options.clock),
      db_(std::move(db)),
      index_(index) {}

ConfigStore::~ConfigStore() = default;

void ConfigStore::CountPushError(const Status& status) {
  if (status.IsAborted()) {
    metrics_.conflict->Increment();
  } else if (status.IsInvalidArgument() || status.code() == StatusCode::kTooLarge) {
    metrics_.rejected->Increment();
  }
}

Result<PushResult> ConfigStore::Push(const WriteRequest& request, const Properties& properties) {
  Status valid = ValidateWrite(request);
  for (auto it = properties.begin(); valid.ok() && it != properties.end(); ++it) {
    valid = ValidateKey(it->first);
  }
  if (!valid.ok()) {
    CountPushError(valid);
    return valid;
  }
  std::lock_guard lock(mu_);
  auto result = WriteLocked(request, properties, request.message, /*is_rollback=*/false);
  if (!result.ok()) {
    CountPushError(result.status());
  } else if (result->changed) {
    metrics_.created->Increment();
  } else {
    metrics_.unchanged->Increment();
  }
  return result;
}

Result<PushResult> ConfigStore::PushJson(const WriteRequest& request, std::string_view json) {
  if (json.size() > kMaxDocumentBytes) {
    metrics_.rejected->Increment();
    return Status::TooLarge("config document is " + std::to_string(json.size()) +
                            " bytes; at most " + std::to_string(kMaxDocumentBytes) +
                            " are allowed");
  }
  auto properties = ParseJsonDocument(json);
  if (!properties.ok()) {
    metrics_.rejected->Increment();
    return properties.status();
  }
  return Push(request, *properties);
}

Result<PushResult> ConfigStore::Rollback(const WriteRequest& request, std::optional<int64_t> to) {
  HIVE_RETURN_IF_ERROR(ValidateWrite(request));
  const std::string doc = DocName(request.app, request.profile);
  if (to && *to < 1) {
    return Status::InvalidArgument("rollback target must be a version >= 1, not " +
                                   std::to_string(*to));
  }
  std::lock_guard lock(mu_);
  auto head = ReadHeadLocked(request.app, request.profile);
  if (!head.ok()) return head.status();
  if (!*head && !to) {
    return Status::FailedPrecondition(doc + " has no versions; nothing to roll back to");
  }
  const int64_t target = to ? *to : (*head)->version - 1;
  if (target < 1) {
    return Status::FailedPrecondition(doc + " has only version 1; nothing to roll back to");
  }
  auto stmt =
      db_->Prepare("SELECT id FROM versions WHERE app = ?1 AND profile = ?2 AND version = ?3");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, request.app).Bind(2, request.profile).Bind(3, target);
  auto found = stmt->Step();
  if (!found.ok()) return found.status();
  if (!*found) return Status::NotFound(doc + " has no version " + std::to_string(target));
  auto properties = ReadPropertiesLocked(stmt->ColumnInt(0));
  if (!properties.ok()) return properties.status();

  const std::string message =
      request.message.empty() ? "rollback to v" + std::to_string(target) : request.message;
  auto result = WriteLocked(request, *properties, message, /*is_rollback=*/true);
  if (result.ok() && result->changed) metrics_.rollbacks->Increment();
  return result;
}

Result<PushResult> ConfigStore::WriteLocked(const WriteRequest& request,
                                            const Properties& properties, std::string_view message,
                                            bool is_rollback) {
  const std::string doc = DocName(request.app, request.profile);
  Transaction tx(*db_);
  HIVE_RETURN_IF_ERROR(tx.begin_status());
  auto head = ReadHeadLocked(request.app, request.profile);
  if (!head.ok()) return head.status();
  const int64_t current = *head ? (*head)->version : 0;
  if (request.if_match && *request.if_match != current) {
    return Status::Aborted(doc + " is at version " + std::to_string(current) + ", not " +
                           std::to_string(*request.if_match) + " (If-Match)");
  }
  const std::string hash = ContentHash(properties);
  if (*head && (*head)->hash == hash) return PushResult{current, false, index()};

  const int64_t new_index = index() + 1;
  const int64_t new_version = current + 1;
  const TimePoint now = clock_->Now();
  {
    auto stmt = db_->Prepare("UPDATE store_state SET change_index = ?1 WHERE id = 1");
    if (!stmt.ok()) return stmt.status();
    HIVE_RETURN_IF_ERROR(stmt->Bind(1, new_index).Run());
  }
  {
    auto stmt = db_->Prepare(
        "INSERT INTO versions (app, profile, version, change_index, author, message, "
        "created_at_ns, hash, key_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, request.app)
        .Bind(2, request.profile)
        .Bind(3, new_version)
        .Bind(4, new_index)
        .Bind(5, request.author)
        .Bind(6, message)
        .Bind(7, ToUnixNanos(now))
        .Bind(8, hash)
        .Bind(9, static_cast<int64_t>(properties.size()));
    HIVE_RETURN_IF_ERROR(stmt->Run());
  }
  const int64_t row_id = db_->LastInsertRowId();
  {
    auto stmt = db_->Prepare(
        "INSERT INTO properties (version_id, key, type, value) VALUES (?1, ?2, ?3, ?4)");
    if (!stmt.ok()) return stmt.status();
    for (const auto& [key, value] : properties) {
      stmt->Reset();
      stmt->Bind(1, row_id)
          .Bind(2, key)
          .Bind(3, static_cast<int64_t>(value.type()))
          .Bind(4, value.text());
      HIVE_RETURN_IF_ERROR(stmt->Run());
    }
  }
  HIVE_RETURN_IF_ERROR(tx.Commit());

  {
    std::lock_guard watch_lock(watch_mu_);
    index_ = new_index;
  }
  index_changed_.notify_all();
  if (current == 0) metrics_.documents->Increment();
  log::Info(is_rollback ? "config rolled back" : "config pushed", {{"app", request.app},
                                                                   {"profile", request.profile},
                                                                   {"version", new_version},
                                                                   {"index", new_index},
                                                                   {"author", request.author},
                                                                   {"keys", properties.size()}});
  return PushResult{new_version, true, new_index};
}

Result<std::optional<ConfigStore::Head>> ConfigStore::ReadHeadLocked(std::string_view app,
                                                                     std::string_view profile) {
  auto stmt = db_->Prepare(
      "SELECT id, version, hash FROM versions WHERE app = ?1 AND profile = ?2 "
      "ORDER BY version DESC LIMIT 1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, app).Bind(2, profile);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Head>();
  return std::optional<Head>(Head{stmt->ColumnInt(0), stmt->ColumnInt(1), stmt->ColumnText(2)});
}

Result<Properties> ConfigStore::ReadPropertiesLocked(int64_t row_id) {
  auto stmt = db_->Prepare("SELECT key, type, value FROM properties WHERE version_id = ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, row_id);
  Properties out;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const int64_t type = stmt->ColumnInt(1);
    if (type < 0 || type > static_cast<int64_t>(ValueType::kString)) {
      return Status::Internal("config store: property of unknown type " + std::to_string(type));
    }
    auto value = Value::FromStored(static_cast<ValueType>(type), stmt->ColumnText(2));
    if (!value.ok()) return Status::Internal("config store: " + value.status().message());
    out.emplace(stmt->ColumnText(0), std::move(*value));
  }
  return out;
}

Result<EffectiveConfig> ConfigStore::GetEffective(std::string_view app, std::string_view profile) {
  HIVE_RETURN_IF_ERROR(ValidateDocument(app, profile));
  EffectiveConfig out;
  out.app = std::string(app);
  out.profile = std::string(profile);

  // Lowest first; a pair repeats when app is "application" or profile is
  // "default", and then counts once.
  std::vector<std::pair<std::string_view, std::string_view>> layers;
  for (auto layer : {std::pair<std::string_view, std::string_view>{"application", "default"},
                     {"application", profile},
                     {app, "default"},
                     {app, profile}}) {
    if (std::find(layers.begin(), layers.end(), layer) == layers.end()) layers.push_back(layer);
  }

  std::lock_guard lock(mu_);
  for (const auto& [layer_app, layer_profile] : layers) {
    auto head = ReadHeadLocked(layer_app, layer_profile);
    if (!head.ok()) return head.status();
    if (!*head) continue;
    auto properties = ReadPropertiesLocked((*head)->row_id);
    if (!properties.ok()) return properties.status();
    const std::string source = DocName(layer_app, layer_profile);
    for (auto& [key, value] : *properties) {
      out.properties.insert_or_assign(key, std::move(value));
      out.property_sources.insert_or_assign(key, source);
    }
    out.sources.push_back(
        LayerSource{std::string(layer_app), std::string(layer_profile), (*head)->version});
    if (layer_app == app && layer_profile == profile) out.version = (*head)->version;
  }
  out.index = index();
  return out;
}

Result<std::vector<VersionInfo>> ConfigStore::History(std::string_view app,
                                                      std::string_view profile) {
  HIVE_RETURN_IF_ERROR(ValidateDocument(app, profile));
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT version, author, message, created_at_ns, hash, key_count FROM versions "
      "WHERE app = ?1 AND profile = ?2 ORDER BY version DESC");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, app).Bind(2, profile);
  std::vector<VersionInfo> out;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(VersionInfo{std::string(app), std::string(profile), stmt->ColumnInt(0),
                              stmt->ColumnText(1), stmt->ColumnText(2),
                              FromUnixNanos(stmt->ColumnInt(3)), stmt->ColumnText(4),
                              static_cast<size_t>(stmt->ColumnInt(5))});
  }
  return out;
}

Result<VersionDocument> ConfigStore::GetVersion(std::string_view app, std::string_view profile,
                                                int64_t version) {
  HIVE_RETURN_IF_ERROR(ValidateDocument(app, profile));
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT id, author, message, created_at_ns, hash, key_count FROM versions "
      "WHERE app = ?1 AND profile = ?2 AND version = ?3");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, app).Bind(2, profile).Bind(3, version);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) {
    return Status::NotFound(DocName(app, profile) + " has no version " + std::to_string(version));
  }
  VersionDocument out;
  out.info = VersionInfo{std::string(app),
                         std::string(profile),
                         version,
                         stmt->ColumnText(1),
                         stmt->ColumnText(2),
                         FromUnixNanos(stmt->ColumnInt(3)),
                         stmt->ColumnText(4),
                         static_cast<size_t>(stmt->ColumnInt(5))};
  auto properties = ReadPropertiesLocked(stmt->ColumnInt(0));
  if (!properties.ok()) return properties.status();
  out.properties = std::move(*properties);
  return out;
}

int64_t ConfigStore::index() const {
  std::lock_guard lock(watch_mu_);
  return index_;
}

int64_t ConfigStore::WaitForIndex(int64_t after, Duration max_wait) {
  std::unique_lock lock(watch_mu_);
  // An index from the future (a store that was reset) answers at once so the
  // caller resynchronises instead of waiting for changes that never come.
  if (index_ != after || stopped_ || max_wait <= Duration::zero()) return index_;
  metrics_.blocked_watchers->Increment();
  index_changed_.wait_for(lock, max_wait, [&] { return index_ > after || stopped_; });
  metrics_.blocked_watchers->Decrement();
  return index_;
}

void ConfigStore::Stop() {
  {
    std::lock_guard lock(watch_mu_);
    stopped_ = true;
  }
  index_changed_.notify_all();
}

}  // namespace hive::config_store
