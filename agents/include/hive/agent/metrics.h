// AgentMetrics: hive-agent's own counters, in a prometheus-cpp registry the
// agent owns (served on /metrics by a later version of the agent):
//   hive_agent_lines_read_total, hive_agent_lines_shipped_total,
//   hive_agent_lines_rejected_total, hive_agent_batches_dead_lettered_total,
//   hive_agent_ship_retries_total, hive_agent_heartbeats_total{result},
//   hive_agent_config_applied_total.
// Thread-safe: counters are atomics; every agent thread shares one instance.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

namespace prometheus {
class Counter;
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
};

}  // namespace hive::agent
