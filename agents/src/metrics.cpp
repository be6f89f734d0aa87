#include "hive/agent/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

namespace hive::agent {
namespace {

prometheus::Counter* Simple(prometheus::Registry& r, const std::string& name,
                            const std::string& help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

uint64_t Get(const prometheus::Counter* c) { return static_cast<uint64_t>(c->Value()); }

}  // namespace

// The registry is fresh and the names are distinct, so registration cannot throw.
AgentMetrics::AgentMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  lines_read_ = Simple(r, "hive_agent_lines_read_total", "Log lines read from files.");
  lines_shipped_ = Simple(r, "hive_agent_lines_shipped_total", "Log lines the collector accepted.");
  lines_rejected_ = Simple(r, "hive_agent_lines_rejected_total",
                           "Log lines the collector rejected one by one (not retried).");
  batches_dead_lettered_ =
      Simple(r, "hive_agent_batches_dead_lettered_total",
             "Batches the collector refused as a whole, written to dead-letter.ndjson.");
  ship_retries_ = Simple(r, "hive_agent_ship_retries_total",
                         "Batch sends retried after a transport error, 5xx or 429.");
  auto& hb = prometheus::BuildCounter()
                 .Name("hive_agent_heartbeats_total")
                 .Help("Heartbeats sent, by result (ok, not_found, error).")
                 .Register(r);
  heartbeats_ok_ = &hb.Add({{"result", "ok"}});
  heartbeats_not_found_ = &hb.Add({{"result", "not_found"}});
  heartbeats_error_ = &hb.Add({{"result", "error"}});
  config_applied_ = Simple(r, "hive_agent_config_applied_total",
                           "Config versions rendered to the service's config file.");
}

void AgentMetrics::AddLinesRead(uint64_t n) { lines_read_->Increment(static_cast<double>(n)); }
void AgentMetrics::AddLinesShipped(uint64_t n) {
  lines_shipped_->Increment(static_cast<double>(n));
}
void AgentMetrics::AddLinesRejected(uint64_t n) {
  lines_rejected_->Increment(static_cast<double>(n));
}
void AgentMetrics::AddBatchDeadLettered() { batches_dead_lettered_->Increment(); }
void AgentMetrics::AddShipRetry() { ship_retries_->Increment(); }
void AgentMetrics::AddConfigApplied() { config_applied_->Increment(); }

void AgentMetrics::AddHeartbeat(HeartbeatResult result) {
  switch (result) {
    case HeartbeatResult::kOk:
      heartbeats_ok_->Increment();
      break;
    case HeartbeatResult::kNotFound:
      heartbeats_not_found_->Increment();
      break;
    case HeartbeatResult::kError:
      heartbeats_error_->Increment();
      break;
  }
}

AgentMetrics::Values AgentMetrics::Read() const {
  Values v;
  v.lines_read = Get(lines_read_);
  v.lines_shipped = Get(lines_shipped_);
  v.lines_rejected = Get(lines_rejected_);
  v.batches_dead_lettered = Get(batches_dead_lettered_);
  v.ship_retries = Get(ship_retries_);
  v.heartbeats_ok = Get(heartbeats_ok_);
  v.heartbeats_not_found = Get(heartbeats_not_found_);
  v.heartbeats_error = Get(heartbeats_error_);
  v.config_applied = Get(config_applied_);
  return v;
}

}  // namespace hive::agent
