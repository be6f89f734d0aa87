// ConfigStore: versioned configuration documents per (application, profile),
// in the manner of Spring Cloud Config, kept in SQLite at <data_dir>/config.db.
//
// Every change of a document makes an immutable version (1, 2, 3, … per
// application/profile) recording author, message, time, a SHA-256 content hash
// and the flattened properties. Deleting a document writes a tombstone
// version (deleted, no properties): the history stays, the layer drops out of
// effective configurations, and a later push or rollback revives it. A
// store-wide change index grows by one with every new version and survives
// restarts; blocking readers watch it (ChangedSince, SubscribeChanges). The effective configuration
// of {app}/{profile} layers, lowest first, application/default < application/{profile} <
// {app}/default < {app}/{profile}.
//
// Every write (push, rollback, delete) appends an audit entry in the same
// transaction: who, when, which keys were added, removed or changed — key
// names only, never values. Secret values are sealed with the SecretBox
// (AES-256-GCM) before they reach SQLite and come back decrypted: callers
// redact them for roles that may not read them.
//
// Thread-safe: one SQLite connection guarded by a mutex; watchers are woken
// through Notifiers (hive/core/notifier.h) under a second mutex, never that
// one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hive/config_store/document.h"
#include "hive/config_store/properties.h"
#include "hive/config_store/secrets.h"
#include "hive/core/clock.h"
#include "hive/core/notifier.h"
#include "hive/core/sqlite.h"
#include "hive/core/status.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
}  // namespace prometheus

namespace hive::config_store {

// The application whose layers every effective configuration starts from.
inline constexpr std::string_view kSharedApplication = "application";

inline constexpr size_t kMaxMessageBytes = 1024;
inline constexpr size_t kMaxDocumentBytes = 1u << 20;

struct ConfigStoreOptions {
  // Must exist and be writable; config.db is created inside.
  std::string data_dir;
  // Stamps created_at. Not owned; must outlive the store.
  hive::Clock* clock = &hive::Clock::System();
  // Where the hive_config_* metrics go. Null: a private registry.
  std::shared_ptr<prometheus::Registry> metrics;
  // Seals secret values. Null: pushing a secret is FailedPrecondition, and so
  // is opening a store that already holds secrets. Opening with a key other
  // than the one the store's secrets were sealed with is FailedPrecondition.
  std::shared_ptr<const SecretBox> secrets;
};

// Who changes which document, and on what condition.
struct WriteRequest {
  std::string app;
  std::string profile;
  std::string author;
  std::string message;  // at most kMaxMessageBytes
  // Compare-and-set: the write happens only when the current version (0 when
  // none) equals this; otherwise Aborted.
  std::optional<int64_t> if_match;
  // Validate and compute the result, but write nothing.
  bool dry_run = false;
};

struct PushResult {
  int64_t version = 0;   // the document's current version after the call
  bool changed = false;  // false: identical to the current version, nothing written
  int64_t index = 0;     // the store's change index after the call
  // From the previous version's properties (none when it was never pushed or
  // is deleted) to the new ones. Secrets in clear.
  PropertyDiff diff;
};

struct VersionInfo {
  std::string app;
  std::string profile;
  int64_t version = 0;
  std::string author;
  std::string message;
  TimePoint created_at;
  std::string hash;  // ContentHash of the properties (secrets as keyed digests)
  size_t key_count = 0;
  bool deleted = false;  // a tombstone: the document was deleted at this version
};

struct VersionDocument {
  VersionInfo info;
  Properties properties;
};

// One layer that contributed to an effective configuration.
struct LayerSource {
  std::string app;
  std::string profile;
  int64_t version = 0;
};

struct EffectiveConfig {
  std::string app;
  std::string profile;
  int64_t version = 0;  // of {app}/{profile}; 0 when it was never pushed
  int64_t index = 0;    // the store's change index this answer reflects
  Properties properties;
  // Key → "app/profile" of the layer its effective value came from.
  std::map<std::string, std::string> property_sources;
  // Only the layers that exist, lowest first.
  std::vector<LayerSource> sources;
};

enum class AuditAction { kPush, kRollback, kDelete };
std::string_view AuditActionName(AuditAction action);

// One write, as the audit log keeps it. Never holds values.
struct AuditEntry {
  int64_t id = 0;  // grows with every entry
  TimePoint at;
  std::string actor;  // the token's name ("anonymous" without tokens)
  AuditAction action = AuditAction::kPush;
  std::string app;
  std::string profile;
  int64_t version = 0;  // the version the write made
  std::string message;
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;
};

struct AuditQuery {
  std::string app;      // empty: every application
  std::string profile;  // empty: every profile
  size_t limit = 100;   // newest first; at most kMaxAuditLimit
};
inline constexpr size_t kMaxAuditLimit = 1000;

class ConfigStore {
 public:
  // Creates or migrates <data_dir>/config.db. FailedPrecondition when the
  // directory is missing or not writable; Internal when prometheus-cpp refuses
  // the metric families (a clashing registration in options.metrics).
  static Result<std::unique_ptr<ConfigStore>> Open(const ConfigStoreOptions& options);
  ~ConfigStore();
  ConfigStore(const ConfigStore&) = delete;
  ConfigStore& operator=(const ConfigStore&) = delete;

  // Stores `properties` as the next version of request.app/profile unless they
  // equal the current version (changed=false). Errors: InvalidArgument (names,
  // keys, message), Aborted (if_match differs; the message names the current
  // version). A failed call changes nothing.
  Result<PushResult> Push(const WriteRequest& request, const Properties& properties);

  // ParseDocument(format, text) and then Push. InvalidArgument for a document
  // that does not parse; TooLarge over kMaxDocumentBytes; FailedPrecondition
  // for a secret without a SecretBox.
  Result<PushResult> PushDocument(const WriteRequest& request, DocumentFormat format,
                                  std::string_view text);
  Result<PushResult> PushJson(const WriteRequest& request, std::string_view json) {
    return PushDocument(request, DocumentFormat::kJson, json);
  }

  // Writes a tombstone version: the document drops out of effective
  // configurations. NotFound when it has no versions or is already deleted;
  // Aborted as for Push.
  Result<PushResult> Delete(const WriteRequest& request);

  // Makes a new version whose content equals version `to` (default: the one
  // before the current). The message defaults to "rollback to v<N>". Errors:
  // FailedPrecondition when there is nothing to roll back to or `to` is a
  // deletion, NotFound for an unknown version, Aborted as for Push. Rolling back to content equal
  // to the current version writes nothing (changed=false).
  Result<PushResult> Rollback(const WriteRequest& request, std::optional<int64_t> to);

  // The layered configuration of app/profile; an unknown app has no
  // properties and version 0. InvalidArgument for bad names.
  Result<EffectiveConfig> GetEffective(std::string_view app, std::string_view profile);

  // Every version of app/profile, newest first; empty when unknown.
  Result<std::vector<VersionInfo>> History(std::string_view app, std::string_view profile);

  // One version with its properties. NotFound when it does not exist.
  Result<VersionDocument> GetVersion(std::string_view app, std::string_view profile,
                                     int64_t version);

  // What changed from version `from` to version `to` of app/profile; version
  // 0 is the empty document. NotFound for an unknown version.
  Result<PropertyDiff> Diff(std::string_view app, std::string_view profile, int64_t from,
                            int64_t to);

  // Audit entries, newest first. InvalidArgument for bad names.
  Result<std::vector<AuditEntry>> Audit(const AuditQuery& query);

  // The current version of app/profile (0 when never pushed); deleted tells
  // whether that version is a tombstone.
  Result<int64_t> CurrentVersion(std::string_view app, std::string_view profile,
                                 bool* deleted = nullptr);

  // The store's change index.
  int64_t index() const;

  // Whether a watcher of app/profile that saw index `after` has something
  // new: a change to one of the layers of its effective configuration past
  // `after`, an `after` above the store's index (the caller saw a store since
  // reset), or Stop(). A push to one application does not concern the
  // watchers of another.
  bool ChangedSince(std::string_view app, std::string_view profile, int64_t after) const;

  // Calls `wake` after each change to one of app/profile's layers
  // (application/default, application/{profile}, {app}/default,
  // {app}/{profile}) and on Stop(), until the Subscription ends;
  // hive_config_blocked_watchers counts the live subscriptions.
  // InvalidArgument for bad names.
  Result<Subscription> SubscribeChanges(std::string_view app, std::string_view profile,
                                        Notifier::Listener wake);

  // Wakes every watcher; ChangedSince() is true from then on. Idempotent.
  void Stop();

 private:
  struct Metrics {
    prometheus::Counter* created;
    prometheus::Counter* unchanged;
    prometheus::Counter* conflict;
    prometheus::Counter* rejected;
    prometheus::Counter* rollbacks;
    prometheus::Counter* deletes;
    prometheus::Gauge* documents;
    prometheus::Gauge* blocked_watchers;
  };
  struct Head;  // a document's current version, as read inside a transaction

  ConfigStore(std::unique_ptr<SqliteDb> db, const ConfigStoreOptions& options, Metrics metrics,
              int64_t index, std::map<std::string, int64_t, std::less<>> doc_index);

  // The write path shared by Push, Rollback and Delete. REQUIRES: mu_ held.
  Result<PushResult> WriteLocked(const WriteRequest& request, const Properties& properties,
                                 std::string_view message, AuditAction action);
  Result<std::optional<Head>> ReadHeadLocked(std::string_view app, std::string_view profile);
  Result<Properties> ReadPropertiesLocked(int64_t row_id, std::string_view app,
                                          std::string_view profile);
  // A version's row id and deleted flag; NotFound when absent.
  Result<std::pair<int64_t, bool>> FindVersionLocked(std::string_view app, std::string_view profile,
                                                     int64_t version);
  Status AppendAuditLocked(const WriteRequest& request, AuditAction action, int64_t version,
                           std::string_view message, const PropertyDiff& diff, TimePoint at);
  // The largest change index of app/profile's layers. REQUIRES: watch_mu_ held.
  int64_t RelevantIndexLocked(std::string_view app, std::string_view profile) const;
  void CountPushError(const Status& status);

  std::shared_ptr<prometheus::Registry> registry_;  // keeps metrics_ alive
  Metrics metrics_;
  Clock* clock_;
  std::shared_ptr<const SecretBox> secrets_;

  std::mutex mu_;  // guards db_
  std::unique_ptr<SqliteDb> db_;

  // Guards index_, doc_index_, doc_watchers_ and stopped_; taken after mu_.
  mutable std::mutex watch_mu_;
  int64_t index_;
  // "app/profile" → the change index of its latest version.
  std::map<std::string, int64_t, std::less<>> doc_index_;
  // "app/profile" → what wakes the watchers of configurations layered on it;
  // only documents someone watches have one.
  std::map<std::string, std::unique_ptr<Notifier>, std::less<>> doc_watchers_;
  bool stopped_ = false;
};

}  // namespace hive::config_store
