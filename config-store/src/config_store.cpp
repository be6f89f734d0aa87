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
// Migration 2: tombstones (versions.deleted), sealed secrets (properties.secret,
// value = SecretBox hex), the key's fingerprint (to refuse a wrong key at
// start) and the audit log (key names joined by newlines, which keys cannot
// contain).
constexpr std::array<std::string_view, 2> kMigrations = {
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
    R"sql(
ALTER TABLE versions ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE properties ADD COLUMN secret INTEGER NOT NULL DEFAULT 0;
ALTER TABLE store_state ADD COLUMN secrets_key_check TEXT;
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at_ns INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  app TEXT NOT NULL,
  profile TEXT NOT NULL,
  version INTEGER NOT NULL,
  message TEXT NOT NULL,
  added TEXT NOT NULL,
  removed TEXT NOT NULL,
  changed TEXT NOT NULL
);
CREATE INDEX audit_by_doc ON audit (app, profile, id);
)sql",
};

// What the key fingerprint in store_state is computed over.
constexpr std::string_view kKeyCheckInput = "hive config store secrets key check v1";

struct ConfigStore::Head {
  int64_t row_id;
  int64_t version;
  std::string hash;
  bool deleted;
};

namespace {

std::string DocName(std::string_view app, std::string_view profile) {
  return std::string(app) + "/" + std::string(profile);
}

// The documents app/profile's effective configuration is layered from,
// lowest first.
std::array<std::string, 4> LayerNames(std::string_view app, std::string_view profile) {
  return {DocName(kSharedApplication, "default"), DocName(kSharedApplication, profile),
          DocName(app, "default"), DocName(app, profile)};
}


Status ValidateWrite(const WriteRequest& request) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(request.app, request.profile));
  if (request.message.size() > kMaxMessageBytes) {
    return Status::InvalidArgument("change message is " + std::to_string(request.message.size()) +
                                   " bytes; at most " + std::to_string(kMaxMessageBytes) +
                                   " are allowed");
  }
  return Status::Ok();
}

// The AAD of a sealed secret: it only opens where it was stored.
std::string SecretContext(std::string_view app, std::string_view profile, std::string_view key) {
  return DocName(app, profile) + "/" + std::string(key);
}

std::string JoinKeys(const Properties& keys) {
  std::string out;
  for (const auto& [key, value] : keys) {
    if (!out.empty()) out += '\n';
    out += key;
  }
  return out;
}

std::vector<std::string> SplitKeys(std::string_view joined) {
  std::vector<std::string> out;
  if (joined.empty()) return out;
  for (std::string_view key : Split(joined, '\n')) out.emplace_back(key);
  return out;
}

Result<AuditAction> ParseAuditAction(std::string_view name) {
  for (AuditAction a : {AuditAction::kPush, AuditAction::kRollback, AuditAction::kDelete}) {
    if (AuditActionName(a) == name) return a;
  }
  return Status::Internal("config store: unknown audit action '" + std::string(name) + "'");
}

// Runs a one-row, one-column integer query.
Result<int64_t> QueryInt(SqliteDb& db, std::string_view sql) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Internal("config store: no row from " + std::string(sql));
  return stmt->ColumnInt(0);
}

// Refuses a store whose secrets cannot be opened with `secrets`, and records
// the fingerprint of the first key used.
Status CheckSecretsKey(SqliteDb& db, const SecretBox* secrets, const std::string& path) {
  auto stmt = db.Prepare("SELECT secrets_key_check FROM store_state WHERE id = 1");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  const bool has_check = *row && !stmt->ColumnIsNull(0);
  const std::string check = has_check ? stmt->ColumnText(0) : std::string();
  if (secrets == nullptr) {
    auto has_secrets = QueryInt(db, "SELECT EXISTS (SELECT 1 FROM properties WHERE secret = 1)");
    if (!has_secrets.ok()) return has_secrets.status();
    if (*has_secrets != 0) {
      return Status::FailedPrecondition(
          "config store: " + path +
          " holds encrypted secrets but no secrets key was given (hived --secrets-key-file)");
    }
    return Status::Ok();
  }
  const std::string fingerprint = secrets->Digest(kKeyCheckInput);
  if (has_check) {
    if (check != fingerprint) {
      return Status::FailedPrecondition(
          "config store: the secrets key is not the one the secrets in " + path +
          " were encrypted with (wrong --secrets-key-file)");
    }
    return Status::Ok();
  }
  auto update = db.Prepare("UPDATE store_state SET secrets_key_check = ?1 WHERE id = 1");
  if (!update.ok()) return update.status();
  return update->Bind(1, fingerprint).Run();
}

}  // namespace

std::string_view AuditActionName(AuditAction action) {
  switch (action) {
    case AuditAction::kPush:
      return "push";
    case AuditAction::kRollback:
      return "rollback";
    case AuditAction::kDelete:
      return "delete";
  }
  return "unknown";
}

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

  HIVE_RETURN_IF_ERROR(CheckSecretsKey(**db, options.secrets.get(), path));

  std::map<std::string, int64_t, std::less<>> doc_index;
  auto docs_stmt =
      (*db)->Prepare("SELECT app, profile, MAX(change_index) FROM versions GROUP BY app, profile");
  if (!docs_stmt.ok()) return docs_stmt.status();
  while (true) {
    auto row = docs_stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    doc_index.emplace(DocName(docs_stmt->ColumnText(0), docs_stmt->ColumnText(1)),
                      docs_stmt->ColumnInt(2));
  }
  const int64_t documents = static_cast<int64_t>(doc_index.size());

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
    metrics.deletes = &prometheus::BuildCounter()
                           .Name("hive_config_deletes_total")
                           .Help("Config documents deleted (tombstone versions written)")
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
  return std::unique_ptr<ConfigStore>(
      new ConfigStore(std::move(*db), opts, metrics, index, std::move(doc_index)));
}

ConfigStore::ConfigStore(std::unique_ptr<SqliteDb> db, const ConfigStoreOptions& options,
                         Metrics metrics, int64_t index,
                         std::map<std::string, int64_t, std::less<>> doc_index)
    : registry_(options.metrics),
      metrics_(metrics),
      clock_(options.clock),
      secrets_(options.secrets),
      db_(std::move(db)),
      index_(index),
      doc_index_(std::move(doc_index)) {}

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
    if (valid.ok() && it->second.secret() && !secrets_) {
      valid = Status::FailedPrecondition(
          "'" + it->first +
          "' is a secret, but this hived has no secrets key to encrypt it with "
          "(start hived with --secrets-key-file)");
    }
  }
  if (!valid.ok()) {
    CountPushError(valid);
    return valid;
  }
  std::lock_guard lock(mu_);
  auto result = WriteLocked(request, properties, request.message, AuditAction::kPush);
  if (!result.ok()) {
    CountPushError(result.status());
  } else if (!request.dry_run) {
    (result->changed ? metrics_.created : metrics_.unchanged)->Increment();
  }
  return result;
}

Result<PushResult> ConfigStore::PushDocument(const WriteRequest& request, DocumentFormat format,
                                             std::string_view text) {
  if (text.size() > kMaxDocumentBytes) {
    metrics_.rejected->Increment();
    return Status::TooLarge("config document is " + std::to_string(text.size()) +
                            " bytes; at most " + std::to_string(kMaxDocumentBytes) +
                            " are allowed");
  }
  auto properties = ParseDocument(format, text);
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
  auto found = FindVersionLocked(request.app, request.profile, target);
  if (!found.ok()) return found.status();
  if (found->second) {
    return Status::FailedPrecondition(doc + " version " + std::to_string(target) +
                                      " is a deletion; use delete to delete it again");
  }
  auto properties = ReadPropertiesLocked(found->first, request.app, request.profile);
  if (!properties.ok()) return properties.status();

  const std::string message =
      request.message.empty() ? "rollback to v" + std::to_string(target) : request.message;
  auto result = WriteLocked(request, *properties, message, AuditAction::kRollback);
  if (result.ok() && result->changed && !request.dry_run) metrics_.rollbacks->Increment();
  return result;
}

Result<PushResult> ConfigStore::Delete(const WriteRequest& request) {
  HIVE_RETURN_IF_ERROR(ValidateWrite(request));
  std::lock_guard lock(mu_);
  auto head = ReadHeadLocked(request.app, request.profile);
  if (!head.ok()) return head.status();
  const std::string doc = DocName(request.app, request.profile);
  if (!*head) return Status::NotFound(doc + " has no versions; nothing to delete");
  if ((*head)->deleted) {
    return Status::NotFound(doc + " is already deleted (version " +
                            std::to_string((*head)->version) + ")");
  }
  const std::string message = request.message.empty() ? "delete" : request.message;
  auto result = WriteLocked(request, Properties(), message, AuditAction::kDelete);
  if (result.ok() && result->changed && !request.dry_run) metrics_.deletes->Increment();
  return result;
}

Result<std::pair<int64_t, bool>> ConfigStore::FindVersionLocked(std::string_view app,
                                                                std::string_view profile,
                                                                int64_t version) {
  auto stmt = db_->Prepare(
      "SELECT id, deleted FROM versions WHERE app = ?1 AND profile = ?2 AND version = ?3");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, app).Bind(2, profile).Bind(3, version);
  auto found = stmt->Step();
  if (!found.ok()) return found.status();
  if (!*found) {
    return Status::NotFound(DocName(app, profile) + " has no version " + std::to_string(version));
  }
  return std::make_pair(stmt->ColumnInt(0), stmt->ColumnInt(1) != 0);
}

Result<PushResult> ConfigStore::WriteLocked(const WriteRequest& request,
                                            const Properties& properties, std::string_view message,
                                            AuditAction action) {
  const std::string doc = DocName(request.app, request.profile);
  const bool is_delete = action == AuditAction::kDelete;
  Transaction tx(*db_);
  HIVE_RETURN_IF_ERROR(tx.begin_status());
  auto head = ReadHeadLocked(request.app, request.profile);
  if (!head.ok()) return head.status();
  const int64_t current = *head ? (*head)->version : 0;
  if (request.if_match && *request.if_match != current) {
    return Status::Aborted(doc + " is at version " + std::to_string(current) + ", not " +
                           std::to_string(*request.if_match) + " (If-Match)");
  }
  const bool live = *head && !(*head)->deleted;
  Properties previous;
  if (live) {
    auto read = ReadPropertiesLocked((*head)->row_id, request.app, request.profile);
    if (!read.ok()) return read.status();
    previous = std::move(*read);
  }
  // Secrets enter the hash as keyed digests: equal secrets hash equal, and
  // the hash (shown to every reader) reveals nothing about them.
  Properties hashed = properties;
  for (auto& [key, value] : hashed) {
    if (value.secret()) value = Value::Secret(secrets_->Digest(value.text()));
  }
  const std::string hash = ContentHash(hashed);
  PushResult result{current, false, index(), DiffProperties(previous, properties)};
  if (live && !is_delete && (*head)->hash == hash) return result;
  result.changed = true;
  result.version = current + 1;
  if (request.dry_run) return result;

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
        "created_at_ns, hash, key_count, deleted) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, request.app)
        .Bind(2, request.profile)
        .Bind(3, new_version)
        .Bind(4, new_index)
        .Bind(5, request.author)
        .Bind(6, message)
        .Bind(7, ToUnixNanos(now))
        .Bind(8, hash)
        .Bind(9, static_cast<int64_t>(properties.size()))
        .Bind(10, is_delete ? 1 : 0);
    HIVE_RETURN_IF_ERROR(stmt->Run());
  }
  const int64_t row_id = db_->LastInsertRowId();
  {
    auto stmt = db_->Prepare(
        "INSERT INTO properties (version_id, key, type, value, secret) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!stmt.ok()) return stmt.status();
    for (const auto& [key, value] : properties) {
      std::string stored = value.text();
      if (value.secret()) {
        auto sealed =
            secrets_->Seal(value.text(), SecretContext(request.app, request.profile, key));
        if (!sealed.ok()) return sealed.status();
        stored = std::move(*sealed);
      }
      stmt->Reset();
      stmt->Bind(1, row_id)
          .Bind(2, key)
          .Bind(3, static_cast<int64_t>(value.type()))
          .Bind(4, stored)
          .Bind(5, value.secret() ? 1 : 0);
      HIVE_RETURN_IF_ERROR(stmt->Run());
    }
  }
  HIVE_RETURN_IF_ERROR(AppendAuditLocked(request, action, new_version, message, result.diff, now));
  HIVE_RETURN_IF_ERROR(tx.Commit());

  {
    std::lock_guard watch_lock(watch_mu_);
    index_ = new_index;
    doc_index_.insert_or_assign(doc, new_index);
    if (auto it = doc_watchers_.find(doc); it != doc_watchers_.end()) it->second->Notify();
  }
  if (current == 0) metrics_.documents->Increment();
  log::Info("config written", {{"action", AuditActionName(action)},
                               {"app", request.app},
                               {"profile", request.profile},
                               {"version", new_version},
                               {"index", new_index},
                               {"author", request.author},
                               {"keys", properties.size()}});
  result.index = new_index;
  return result;
}

Status ConfigStore::AppendAuditLocked(const WriteRequest& request, AuditAction action,
                                      int64_t version, std::string_view message,
                                      const PropertyDiff& diff, TimePoint at) {
  std::string changed;
  for (const auto& [key, change] : diff.changed) {
    if (!changed.empty()) changed += '\n';
    changed += key;
  }
  auto stmt = db_->Prepare(
      "INSERT INTO audit (at_ns, actor, action, app, profile, version, message, added, removed, "
      "changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!stmt.ok()) return stmt.status();
  return stmt->Bind(1, ToUnixNanos(at))
      .Bind(2, request.author)
      .Bind(3, AuditActionName(action))
      .Bind(4, request.app)
      .Bind(5, request.profile)
      .Bind(6, version)
      .Bind(7, message)
      .Bind(8, JoinKeys(diff.added))
      .Bind(9, JoinKeys(diff.removed))
      .Bind(10, changed)
      .Run();
}

Result<std::optional<ConfigStore::Head>> ConfigStore::ReadHeadLocked(std::string_view app,
                                                                     std::string_view profile) {
  auto stmt = db_->Prepare(
      "SELECT id, version, hash, deleted FROM versions WHERE app = ?1 AND profile = ?2 "
      "ORDER BY version DESC LIMIT 1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, app).Bind(2, profile);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Head>();
  return std::optional<Head>(
      Head{stmt->ColumnInt(0), stmt->ColumnInt(1), stmt->ColumnText(2), stmt->ColumnInt(3) != 0});
}

Result<Properties> ConfigStore::ReadPropertiesLocked(int64_t row_id, std::string_view app,
                                                     std::string_view profile) {
  auto stmt = db_->Prepare("SELECT key, type, value, secret FROM properties WHERE version_id = ?1");
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
    std::string key = stmt->ColumnText(0);
    if (stmt->ColumnInt(3) != 0) {
      if (!secrets_) {
        return Status::FailedPrecondition("config store: no secrets key to decrypt '" + key +
                                          "' of " + DocName(app, profile));
      }
      auto clear = secrets_->Open(stmt->ColumnText(2), SecretContext(app, profile, key));
      if (!clear.ok()) {
        return clear.status().WithContext("config store: secret '" + key + "' of " +
                                          DocName(app, profile));
      }
      out.emplace(std::move(key), Value::Secret(std::move(*clear)));
      continue;
    }
    auto value = Value::FromStored(static_cast<ValueType>(type), stmt->ColumnText(2));
    if (!value.ok()) return Status::Internal("config store: " + value.status().message());
    out.emplace(std::move(key), std::move(*value));
  }
  return out;
}

Result<EffectiveConfig> ConfigStore::GetEffective(std::string_view app, std::string_view profile) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  EffectiveConfig out;
  out.app = std::string(app);
  out.profile = std::string(profile);

  // Lowest first; a pair repeats when app is "application" or profile is
  // "default", and then counts once.
  std::vector<std::pair<std::string_view, std::string_view>> layers;
  for (auto layer : {std::pair<std::string_view, std::string_view>{kSharedApplication, "default"},
                     {kSharedApplication, profile},
                     {app, "default"},
                     {app, profile}}) {
    if (std::find(layers.begin(), layers.end(), layer) == layers.end()) layers.push_back(layer);
  }

  std::lock_guard lock(mu_);
  for (const auto& [layer_app, layer_profile] : layers) {
    auto head = ReadHeadLocked(layer_app, layer_profile);
    if (!head.ok()) return head.status();
    if (!*head) continue;
    if (layer_app == app && layer_profile == profile) out.version = (*head)->version;
    if ((*head)->deleted) continue;
    auto properties = ReadPropertiesLocked((*head)->row_id, layer_app, layer_profile);
    if (!properties.ok()) return properties.status();
    const std::string source = DocName(layer_app, layer_profile);
    for (auto& [key, value] : *properties) {
      out.properties.insert_or_assign(key, std::move(value));
      out.property_sources.insert_or_assign(key, source);
    }
    out.sources.push_back(
        LayerSource{std::string(layer_app), std::string(layer_profile), (*head)->version});
  }
  out.index = index();
  return out;
}

Result<std::vector<VersionInfo>> ConfigStore::History(std::string_view app,
                                                      std::string_view profile) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT version, author, message, created_at_ns, hash, key_count, deleted FROM versions "
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
                              static_cast<size_t>(stmt->ColumnInt(5)), stmt->ColumnInt(6) != 0});
  }
  return out;
}

Result<VersionDocument> ConfigStore::GetVersion(std::string_view app, std::string_view profile,
                                                int64_t version) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT id, author, message, created_at_ns, hash, key_count, deleted FROM versions "
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
                         static_cast<size_t>(stmt->ColumnInt(5)),
                         stmt->ColumnInt(6) != 0};
  auto properties = ReadPropertiesLocked(stmt->ColumnInt(0), app, profile);
  if (!properties.ok()) return properties.status();
  out.properties = std::move(*properties);
  return out;
}

Result<PropertyDiff> ConfigStore::Diff(std::string_view app, std::string_view profile, int64_t from,
                                       int64_t to) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  std::lock_guard lock(mu_);
  auto read = [&](int64_t version) -> Result<Properties> {
    if (version == 0) return Properties();
    auto found = FindVersionLocked(app, profile, version);
    if (!found.ok()) return found.status();
    return ReadPropertiesLocked(found->first, app, profile);
  };
  auto before = read(from);
  if (!before.ok()) return before.status();
  auto after = read(to);
  if (!after.ok()) return after.status();
  return DiffProperties(*before, *after);
}

Result<std::vector<AuditEntry>> ConfigStore::Audit(const AuditQuery& query) {
  if (!query.app.empty()) HIVE_RETURN_IF_ERROR(ValidateName(query.app, "application"));
  if (!query.profile.empty()) HIVE_RETURN_IF_ERROR(ValidateName(query.profile, "profile"));
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT id, at_ns, actor, action, app, profile, version, message, added, removed, changed "
      "FROM audit WHERE (?1 = '' OR app = ?1) AND (?2 = '' OR profile = ?2) "
      "ORDER BY id DESC LIMIT ?3");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, query.app)
      .Bind(2, query.profile)
      .Bind(3, static_cast<int64_t>(std::min(query.limit, kMaxAuditLimit)));
  std::vector<AuditEntry> out;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto action = ParseAuditAction(stmt->ColumnText(3));
    if (!action.ok()) return action.status();
    out.push_back(AuditEntry{stmt->ColumnInt(0), FromUnixNanos(stmt->ColumnInt(1)),
                             stmt->ColumnText(2), *action, stmt->ColumnText(4), stmt->ColumnText(5),
                             stmt->ColumnInt(6), stmt->ColumnText(7),
                             SplitKeys(stmt->ColumnText(8)), SplitKeys(stmt->ColumnText(9)),
                             SplitKeys(stmt->ColumnText(10))});
  }
  return out;
}

Result<int64_t> ConfigStore::CurrentVersion(std::string_view app, std::string_view profile,
                                            bool* deleted) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  std::lock_guard lock(mu_);
  auto head = ReadHeadLocked(app, profile);
  if (!head.ok()) return head.status();
  if (deleted != nullptr) *deleted = *head && (*head)->deleted;
  return *head ? (*head)->version : 0;
}

int64_t ConfigStore::index() const {
  std::lock_guard lock(watch_mu_);
  return index_;
}

int64_t ConfigStore::RelevantIndexLocked(std::string_view app, std::string_view profile) const {
  int64_t relevant = 0;
  for (const std::string& doc : LayerNames(app, profile)) {
    if (auto it = doc_index_.find(doc); it != doc_index_.end()) {
      relevant = std::max(relevant, it->second);
    }
  }
  return relevant;
}

bool ConfigStore::ChangedSince(std::string_view app, std::string_view profile,
                               int64_t after) const {
  std::lock_guard lock(watch_mu_);
  return after > index_ || RelevantIndexLocked(app, profile) > after || stopped_;
}

Result<Subscription> ConfigStore::SubscribeChanges(std::string_view app, std::string_view profile,
                                                   Notifier::Listener wake) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  std::lock_guard lock(watch_mu_);
  std::vector<Subscription> parts;
  const std::array<std::string, 4> layers = LayerNames(app, profile);
  for (const std::string& doc : layers) {
    std::unique_ptr<Notifier>& n = doc_watchers_[doc];
    if (!n) n = std::make_unique<Notifier>();
    parts.push_back(n->Subscribe(wake));
  }
  metrics_.blocked_watchers->Increment();
  return Subscription(
      [this, layers, parts = std::make_shared<std::vector<Subscription>>(std::move(parts))] {
        std::lock_guard lock(watch_mu_);
        for (Subscription& s : *parts) s.Reset();
        // A notifier nobody listens to any more goes, so watching many
        // names does not grow the map for good.
        for (const std::string& doc : layers) {
          auto it = doc_watchers_.find(doc);
          if (it != doc_watchers_.end() && it->second->listeners() == 0) doc_watchers_.erase(it);
        }
        metrics_.blocked_watchers->Decrement();
      });
}

void ConfigStore::Stop() {
  std::lock_guard lock(watch_mu_);
  stopped_ = true;
  for (auto& [doc, notifier] : doc_watchers_) notifier->Notify();
}

}  // namespace hive::config_store
