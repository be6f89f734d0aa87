// LogStore: where the collector keeps log events. Append makes a batch
// durable (or reports why not); Query finds events by trace id, service,
// instance, level, message text and time.
//
// The interface exists because two implementations are planned: the v0
// segment store (segment_log_store.h) and a compressed-block store with
// per-block bloom filters. Implementations are thread-safe: Append and Query
// may be called from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hive/collector/log_event.h"
#include "hive/core/status.h"

namespace hive::collector {

struct LogBatch {
  // "" for none. A non-empty id already stored makes Append store nothing and
  // answer the counts of the first time (duplicate = true).
  std::string batch_id;
  std::vector<LogEvent> events;
  uint64_t rejected = 0;  // lines the caller rejected; kept for duplicate answers
};

struct AppendResult {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  bool duplicate = false;
};

struct LogFilter {
  std::string trace_id;  // exact (normalized) match; "" matches all
  std::string service;   // exact; "" matches all
  std::string instance;  // exact; "" matches all
  LogLevel min_level = LogLevel::kTrace;
  std::string message_contains;     // ASCII case-insensitive substring; "" matches all
  std::optional<int64_t> since_ns;  // ts >= since
  std::optional<int64_t> until_ns;  // ts < until
  size_t limit = 100;
  // Newest first (by ts, then ingest order) or oldest first.
  bool newest_first = true;
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  // Blocks until the batch is durable on disk (then OK), was a duplicate, or
  // failed: Unavailable when the store is closed or the disk write failed
  // (nothing of the batch is acknowledged; the caller may retry).
  // An empty batch (no events) is InvalidArgument.
  virtual Result<AppendResult> Append(LogBatch batch) = 0;

  // At most filter.limit events matching every set field, in the filter's
  // order. Only acknowledged (durable) events are visible.
  virtual Result<std::vector<LogEvent>> Query(const LogFilter& filter) = 0;

  // Finishes every queued Append (each gets its answer), then refuses new
  // ones with Unavailable. Queries keep working until destruction.
  // Idempotent; the destructor calls it.
  virtual void Close() = 0;
};

}  // namespace hive::collector
