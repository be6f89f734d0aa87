#include "hive/agent/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace hive::agent {
namespace {

prometheus::Counter* Simple(prometheus::Registry& r, const std::string& name,
                            const std::string& help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge* SimpleGauge(prometheus::Registry& r, const std::string& name,
                               const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

uint64_t Get(const prometheus::Gauge* g) { return static_cast<uint64_t>(g->Value()); }
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
  config_apply_failures_ =
      Simple(r, "hive_agent_config_apply_failures_total",
             "Config versions that failed to render or whose on_change failed.");
  lines_dropped_ = Simple(r, "hive_agent_lines_dropped_total",
                          "Lines of the child's output dropped (oldest first) while the spool "
                          "or the output buffer was full.");
  lines_truncated_ = Simple(r, "hive_agent_lines_truncated_total",
                            "Over-long lines cut to max_line_bytes and flagged truncated.");
  lines_unparsed_ = Simple(r, "hive_agent_lines_unparsed_total",
                           "Lines their format could not parse (invalid UTF-8, JSON nested too "
                           "deep, over the pattern's match budget), shipped as their raw text "
                           "with attrs.parse_error.");
  lines_dead_lettered_ =
      Simple(r, "hive_agent_lines_dead_lettered_total", "Lines written to dead-letter.ndjson.");
  spool_bytes_ = SimpleGauge(r, "hive_agent_spool_bytes", "Bytes of batches in the spool.");
  spool_records_ = SimpleGauge(r, "hive_agent_spool_records", "Batches in the spool.");
  spool_corrupt_ = Simple(r, "hive_agent_spool_corrupt_records_total",
                          "Spool records skipped because their checksum or length was wrong.");
  ship_lag_ = SimpleGauge(r, "hive_agent_ship_lag_seconds",
                          "Age of the oldest batch not yet acknowledged by the collector.");
  child_restarts_ = Simple(r, "hive_agent_child_restarts_total",
                           "Restarts of the exec-mode child after it failed.");
  intake_lines_ = Simple(r, "hive_agent_intake_lines_total",
                         "Events received on the local intake endpoint and spooled.");
  auto& sc = prometheus::BuildCounter()
                 .Name("hive_agent_metrics_scrapes_total")
                 .Help("Scrapes of the service's metrics forwarded, by result (ok, error).")
                 .Register(r);
  scrapes_ok_ = &sc.Add({{"result", "ok"}});
  scrapes_failed_ = &sc.Add({{"result", "error"}});
}

void AgentMetrics::AddConfigApplyFailure() { config_apply_failures_->Increment(); }
void AgentMetrics::AddLinesDropped(uint64_t n) {
  lines_dropped_->Increment(static_cast<double>(n));
}
void AgentMetrics::AddLinesTruncated(uint64_t n) {
  lines_truncated_->Increment(static_cast<double>(n));
}
void AgentMetrics::AddLinesUnparsed(uint64_t n) {
  lines_unparsed_->Increment(static_cast<double>(n));
}
void AgentMetrics::AddLinesDeadLettered(uint64_t n) {
  lines_dead_lettered_->Increment(static_cast<double>(n));
}
void AgentMetrics::SetSpool(uint64_t bytes, uint64_t records) {
  spool_bytes_->Set(static_cast<double>(bytes));
  spool_records_->Set(static_cast<double>(records));
}
void AgentMetrics::AddSpoolCorrupt(uint64_t n) {
  spool_corrupt_->Increment(static_cast<double>(n));
}
void AgentMetrics::SetShipLagSeconds(double seconds) { ship_lag_->Set(seconds); }
void AgentMetrics::AddChildRestart() { child_restarts_->Increment(); }
void AgentMetrics::AddIntakeLines(uint64_t n) { intake_lines_->Increment(static_cast<double>(n)); }
void AgentMetrics::AddScrape(bool ok) { (ok ? scrapes_ok_ : scrapes_failed_)->Increment(); }

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
  v.config_apply_failures = Get(config_apply_failures_);
  v.lines_dropped = Get(lines_dropped_);
  v.lines_truncated = Get(lines_truncated_);
  v.lines_unparsed = Get(lines_unparsed_);
  v.lines_dead_lettered = Get(lines_dead_lettered_);
  v.spool_bytes = Get(spool_bytes_);
  v.spool_records = Get(spool_records_);
  v.spool_corrupt = Get(spool_corrupt_);
  v.child_restarts = Get(child_restarts_);
  v.intake_lines = Get(intake_lines_);
  v.scrapes_ok = Get(scrapes_ok_);
  v.scrapes_failed = Get(scrapes_failed_);
  return v;
}

}  // namespace hive::agent
