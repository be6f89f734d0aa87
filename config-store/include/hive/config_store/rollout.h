// RolloutTracker: which version of a config document each instance has
// applied, as its agent reports it (PUT .../applied/{instance}), so an
// operator can watch a push arrive everywhere.
//
// Kept in <data_dir>/rollout.db with synchronous=NORMAL: a report is cheap
// (hundreds arrive per push) and one lost in a power cut is only a status the
// agent reports again at its next change. The tracker knows nothing of the
// registry or of the documents; the service checks versions against the
// store and hivectl asks the registry which instances are healthy.
//
// Thread-safe: one SQLite connection guarded by a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/sqlite.h"
#include "hive/core/status.h"

namespace prometheus {
class Counter;
class Registry;
}  // namespace prometheus

namespace hive::config_store {

inline constexpr size_t kMaxRolloutMessageBytes = 1024;

enum class RolloutStatus { kApplied, kFailed };
std::string_view RolloutStatusName(RolloutStatus status);
// "applied" or "failed"; InvalidArgument otherwise.
Result<RolloutStatus> ParseRolloutStatus(std::string_view name);

// The last report of one instance.
struct InstanceRollout {
  std::string instance;
  int64_t version = 0;
  RolloutStatus status = RolloutStatus::kApplied;
  std::string message;
  TimePoint updated_at;
};

class RolloutTracker {
 public:
  // Creates or migrates <data_dir>/rollout.db and registers
  // hive_config_rollout_reports_total{status} in `metrics`; errors as
  // ConfigStore::Open. `clock` is not owned and must outlive the tracker.
  static Result<std::unique_ptr<RolloutTracker>> Open(
      const std::string& data_dir, Clock* clock, std::shared_ptr<prometheus::Registry> metrics);
  ~RolloutTracker();
  RolloutTracker(const RolloutTracker&) = delete;
  RolloutTracker& operator=(const RolloutTracker&) = delete;

  // Records the instance's latest report, replacing its previous one.
  // InvalidArgument for bad names, a negative version or a message over
  // kMaxRolloutMessageBytes.
  Status Report(std::string_view app, std::string_view profile, const InstanceRollout& report);

  // Every instance's last report for app/profile, by instance name.
  Result<std::vector<InstanceRollout>> Instances(std::string_view app, std::string_view profile);

 private:
  RolloutTracker(std::unique_ptr<SqliteDb> db, Clock* clock,
                 std::shared_ptr<prometheus::Registry> registry, prometheus::Counter* applied,
                 prometheus::Counter* failed)
      : clock_(clock),
        registry_(std::move(registry)),
        applied_(applied),
        failed_(failed),
        db_(std::move(db)) {}

  Clock* clock_;
  std::shared_ptr<prometheus::Registry> registry_;  // keeps the counters alive
  prometheus::Counter* applied_;
  prometheus::Counter* failed_;
  std::mutex mu_;  // guards db_
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace hive::config_store
