#include "hive/config_store/rollout.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <array>
#include <filesystem>

#include "hive/config_store/document.h"
#include "hive/core/text.h"

namespace hive::config_store {
namespace {

constexpr std::array<std::string_view, 1> kRolloutMigrations = {
    R"sql(
CREATE TABLE rollout (
  app TEXT NOT NULL,
  profile TEXT NOT NULL,
  instance TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  updated_at_ns INTEGER NOT NULL,
  PRIMARY KEY (app, profile, instance)
) WITHOUT ROWID;
)sql",
};

}  // namespace

std::string_view RolloutStatusName(RolloutStatus status) {
  return status == RolloutStatus::kApplied ? "applied" : "failed";
}

Result<RolloutStatus> ParseRolloutStatus(std::string_view name) {
  if (name == "applied") return RolloutStatus::kApplied;
  if (name == "failed") return RolloutStatus::kFailed;
  return Status::InvalidArgument("rollout status must be \"applied\" or \"failed\", not '" +
                                 std::string(name.substr(0, 64)) + "'");
}

Result<std::unique_ptr<RolloutTracker>> RolloutTracker::Open(
    const std::string& data_dir, Clock* clock, std::shared_ptr<prometheus::Registry> metrics) {
  std::error_code ec;
  if (data_dir.empty() || !std::filesystem::is_directory(data_dir, ec)) {
    return Status::FailedPrecondition("rollout tracker: data directory '" + data_dir +
                                      "' does not exist or is not a directory");
  }
  const std::string path = (std::filesystem::path(data_dir) / "rollout.db").string();
  auto db = SqliteDb::Open(path, SqliteOptions{.durability = Durability::kNormal});
  if (!db.ok()) return db.status().WithContext("rollout tracker: opening " + path);
  HIVE_RETURN_IF_ERROR(
      (*db)->Migrate(kRolloutMigrations).WithContext("rollout tracker: migrating " + path));
  if (!metrics) metrics = std::make_shared<prometheus::Registry>();
  prometheus::Counter* applied = nullptr;
  prometheus::Counter* failed = nullptr;
  try {
    auto& reports = prometheus::BuildCounter()
                        .Name("hive_config_rollout_reports_total")
                        .Help("Config rollout reports from agents by status")
                        .Register(*metrics);
    applied = &reports.Add({{"status", "applied"}});
    failed = &reports.Add({{"status", "failed"}});
  } catch (const std::exception& e) {
    return Status::Internal(std::string("rollout tracker: registering metrics: ") + e.what());
  }
  return std::unique_ptr<RolloutTracker>(
      new RolloutTracker(std::move(*db), clock, std::move(metrics), applied, failed));
}

RolloutTracker::~RolloutTracker() = default;

Status RolloutTracker::Report(std::string_view app, std::string_view profile,
                              const InstanceRollout& report) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  HIVE_RETURN_IF_ERROR(ValidateName(report.instance, "instance"));
  if (report.version < 0) return Status::InvalidArgument("version must not be negative");
  if (report.message.size() > kMaxRolloutMessageBytes) {
    return Status::InvalidArgument("rollout message is " + std::to_string(report.message.size()) +
                                   " bytes; at most " + std::to_string(kMaxRolloutMessageBytes) +
                                   " are allowed");
  }
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(
      "INSERT OR REPLACE INTO rollout (app, profile, instance, version, status, message, "
      "updated_at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!stmt.ok()) return stmt.status();
  HIVE_RETURN_IF_ERROR(stmt->Bind(1, app)
                           .Bind(2, profile)
                           .Bind(3, report.instance)
                           .Bind(4, report.version)
                           .Bind(5, RolloutStatusName(report.status))
                           .Bind(6, report.message)
                           .Bind(7, ToUnixNanos(clock_->Now()))
                           .Run());
  (report.status == RolloutStatus::kApplied ? applied_ : failed_)->Increment();
  return Status::Ok();
}

Result<std::vector<InstanceRollout>> RolloutTracker::Instances(std::string_view app,
                                                               std::string_view profile) {
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT instance, version, status, message, updated_at_ns FROM rollout "
      "WHERE app = ?1 AND profile = ?2 ORDER BY instance");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, app).Bind(2, profile);
  std::vector<InstanceRollout> out;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto status = ParseRolloutStatus(stmt->ColumnText(2));
    if (!status.ok()) return Status::Internal("rollout tracker: " + status.status().message());
    out.push_back(InstanceRollout{stmt->ColumnText(0), stmt->ColumnInt(1), *status,
                                  stmt->ColumnText(3), FromUnixNanos(stmt->ColumnInt(4))});
  }
  return out;
}

}  // namespace hive::config_store
