// RegistryStore: the registry's SQLite persistence (<data_dir>/registry.db).
// One row per instance with what it last reported, its maintenance override
// and its registration; plus the global change index. Lease times are not
// stored: a reopened registry grants fresh leases.
//
// Not thread-safe: the Registry calls it under its own mutex.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hive/core/sqlite.h"
#include "hive/core/status.h"
#include "hive/registry/instance.h"

namespace hive::registry {

// One row to write: an upsert, or a delete when `instance` is null.
struct StoreChange {
  std::string service;
  std::string id;
  const Instance* instance = nullptr;  // not owned; health = reported health
};

struct StoredState {
  std::vector<Instance> instances;  // health = reported health
  uint64_t index = 0;
};

class RegistryStore {
 public:
  // Opens or creates the database and migrates its schema. Unavailable when
  // the file cannot be opened; FailedPrecondition for a newer schema.
  static Result<std::unique_ptr<RegistryStore>> Open(const std::string& path);

  // Everything stored. Internal for a corrupt row.
  Result<StoredState> Load();

  // Applies `changes` and records `index`, in one transaction. Unavailable
  // when the write fails (nothing was applied).
  Status Write(const std::vector<StoreChange>& changes, uint64_t index);

 private:
  explicit RegistryStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace hive::registry
