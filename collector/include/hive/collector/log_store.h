// LogStore: where the collector keeps log events. Append makes a batch
// durable (or reports why not); Search finds events by trace id, service,
// instance, level, message text (substring, regex) and time, a page at a time.
//
// The interface keeps the collector's routes apart from the storage: the
// embedded store (segment_log_store.h: a write-ahead log plus compressed
// blocks with per-block bloom filters) today, a shared backend when hived
// scales out (PRODUCT.md). Every event gets a sequence number when stored
// (1, 2, ... in ingest order) that drives live tails. Implementations are thread-safe: every method
// may be called from any number of threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hive/collector/log_event.h"
#include "hive/core/notifier.h"
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
  std::string message_contains;  // ASCII case-insensitive substring; "" matches all
  // RE2 syntax, unanchored, case-sensitive ((?i) for not); "" matches all.
  // At most kMaxRegexBytes; a bad pattern makes Search InvalidArgument.
  std::string message_regex;
  std::optional<int64_t> since_ns;  // ts >= since
  std::optional<int64_t> until_ns;  // ts < until
  size_t limit = 100;
  // Newest first (by ts, then ingest order) or oldest first.
  bool newest_first = true;
  // LogPage::next of the previous page, with the same filter: continue after
  // it. Stable under concurrent ingest of newer events. InvalidArgument when
  // malformed or from the other order.
  std::string cursor;
  // Live tail: only events with a sequence number above this, in ingest
  // (sequence) order; newest_first and cursor are then ignored.
  std::optional<uint64_t> after_seq;
};

inline constexpr size_t kMaxRegexBytes = 512;

struct LogPage {
  std::vector<LogEvent> events;
  // Non-empty when the page is full (more may match): pass it as
  // LogFilter::cursor to get the next page.
  std::string next;
  // With after_seq: the next after_seq, so that a tail neither skips nor
  // repeats: the last event's when the page is full, else the highest
  // sequence number the search covered.
  uint64_t last_seq = 0;
};

// Sizes for metrics and benchmarks.
struct LogStoreStats {
  uint64_t events = 0;        // stored events (sealed and not yet sealed)
  uint64_t disk_bytes = 0;    // every file of the store
  uint64_t blocks = 0;        // sealed blocks
  uint64_t memory_bytes = 0;  // index memory: block metadata, bloom filters, open blocks
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
  virtual Result<LogPage> Search(const LogFilter& filter) = 0;

  // Search without the paging details.
  Result<std::vector<LogEvent>> Query(const LogFilter& filter) {
    Result<LogPage> page = Search(filter);
    if (!page.ok()) return page.status();
    return std::move(page->events);
  }

  // The highest visible sequence number (0 when empty). Unavailable once the
  // store is closed (ends live tails).
  virtual Result<uint64_t> LastSequence() = 0;
  // Calls `wake` (see hive/core/notifier.h) each time new events become
  // visible and when the store closes, until the Subscription ends.
  virtual Subscription SubscribeAppends(Notifier::Listener wake) = 0;

  // Applies the retention limits now (the store also does it periodically
  // on its own thread).
  virtual Status EnforceRetention() = 0;

  virtual LogStoreStats Stats() = 0;

  // OK while the store takes writes; once a disk failure has stopped it
  // (see the implementation), that failure, Unavailable. Not changed by
  // Close().
  virtual Status Health() = 0;

  // Finishes every queued Append (each gets its answer), then refuses new
  // ones with Unavailable. Queries keep working until destruction.
  // Idempotent; the destructor calls it.
  virtual void Close() = 0;
};

}  // namespace hive::collector
