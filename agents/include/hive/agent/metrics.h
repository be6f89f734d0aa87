// AgentMetrics: hive-agent's own counters, in a prometheus-cpp registry the
// agent owns (served on /metrics by a later version of the agent):
//   hive_agent_lines_read_total, hive_agent_lines_shipped_total,
//   hive_agent_lines_rejected_total, hive_agent_batches_dead_lettered_total,
//   hive_agent_ship_retries_total, hive_agent_heartbeats_total{result},
//   hive_agent_config_applied_total, hive_agent_config_apply_failures_total,
//   hive_agent_lines_dropped_total, hive_agent_lines_truncated_total,
//   hive_agent_lines_unparsed_total (shipped raw with attrs.parse_error),
//   hive_agent_lines_dead_lettered_total, hive_agent_spool_bytes,
//   hive_agent_spool_records, hive_agent_spool_corrupt_records_total,
//   hive_agent_ship_lag_seconds (age of the oldest unacknowledged batch),
//   hive_agent_child_restarts_total, hive_agent_intake_lines_total,
//   hive_agent_metrics_scrapes_total{result}.
// Thread-safe: counters are atomics; every agent thread shares one instance.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace hive::agent {

enum class HeartbeatResult { kOk, kNotFound, kError };

class AgentMetrics {
 public:
  AgentMetrics();
  AgentMetrics(const AgentMetrics&) = delete;
  AgentMetrics& operator=(const AgentMetrics&) = delete;

  void AddLinesRead(uint64_t n);
  void AddLinesShipped(uint64_t n);
  void AddLinesRejected(uint64_t n);
  void AddBatchDeadLettered();
  void AddShipRetry();
  void AddHeartbeat(HeartbeatResult result);
  void AddConfigApplied();
  void AddConfigApplyFailure();
  void AddLinesDropped(uint64_t n);
  void AddLinesTruncated(uint64_t n);
  void AddLinesUnparsed(uint64_t n);
  void AddLinesDeadLettered(uint64_t n);
  void SetSpool(uint64_t bytes, uint64_t records);
  void AddSpoolCorrupt(uint64_t n);
  void SetShipLagSeconds(double seconds);
  void AddChildRestart();
  void AddIntakeLines(uint64_t n);
  void AddScrape(bool ok);

  // Current values, for tests and status output.
  struct Values {
    uint64_t lines_read = 0;
    uint64_t lines_shipped = 0;
    uint64_t lines_rejected = 0;
    uint64_t batches_dead_lettered = 0;
    uint64_t ship_retries = 0;
    uint64_t heartbeats_ok = 0;
    uint64_t heartbeats_not_found = 0;
    uint64_t heartbeats_error = 0;
    uint64_t config_applied = 0;
    uint64_t config_apply_failures = 0;
    uint64_t lines_dropped = 0;
    uint64_t lines_truncated = 0;
    uint64_t lines_unparsed = 0;
    uint64_t lines_dead_lettered = 0;
    uint64_t spool_bytes = 0;
    uint64_t spool_records = 0;
    uint64_t spool_corrupt = 0;
    uint64_t child_restarts = 0;
    uint64_t intake_lines = 0;
    uint64_t scrapes_ok = 0;
    uint64_t scrapes_failed = 0;
  };
  Values Read() const;

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* lines_read_;
  prometheus::Counter* lines_shipped_;
  prometheus::Counter* lines_rejected_;
  prometheus::Counter* batches_dead_lettered_;
  prometheus::Counter* ship_retries_;
  prometheus::Counter* heartbeats_ok_;
  prometheus::Counter* heartbeats_not_found_;
  prometheus::Counter* heartbeats_error_;
  prometheus::Counter* config_applied_;
  prometheus::Counter* config_apply_failures_;
  prometheus::Counter* lines_dropped_;
  prometheus::Counter* lines_truncated_;
  prometheus::Counter* lines_unparsed_;
  prometheus::Counter* lines_dead_lettered_;
  prometheus::Gauge* spool_bytes_;
  prometheus::Gauge* spool_records_;
  prometheus::Counter* spool_corrupt_;
  prometheus::Gauge* ship_lag_;
  prometheus::Counter* child_restarts_;
  prometheus::Counter* intake_lines_;
  prometheus::Counter* scrapes_ok_;
  prometheus::Counter* scrapes_failed_;
};

}  // namespace hive::agent
