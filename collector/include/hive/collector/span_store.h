// SpanStore: the durable store of spans, a SQLite table keyed by
// (trace_id, span_id) with an index on start time.
//
// Spans are a small fraction of the log volume, so a synchronous=FULL commit
// per batch is enough: Append returns only after its batch is on disk.
// Retention by age is applied by Append, at most once a minute.
//
// Thread-safe: one connection guarded by a mutex.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "hive/collector/span.h"
#include "hive/core/clock.h"
#include "hive/core/sqlite.h"
#include "hive/core/status.h"

namespace hive::collector {

struct SpanStoreOptions {
  std::string path;  // the SQLite file; its directory must exist
  hive::Clock* clock = &hive::Clock::System();
  Duration retention = std::chrono::hours(24 * 7);
};

class SpanStore {
 public:
  // FailedPrecondition with the path when the file cannot be opened.
  static Result<std::unique_ptr<SpanStore>> Open(SpanStoreOptions options);

  // Makes the spans durable in one transaction and returns those that were
  // new; a span whose (trace_id, span_id) is stored already is skipped, so a
  // retried batch is stored once. Unavailable when the write failed (nothing
  // of the batch is stored).
  Result<std::vector<Span>> Append(const std::vector<Span>& spans);

  // The spans of one trace, oldest first, at most `limit`.
  Result<std::vector<Span>> ByTrace(std::string_view trace_id, size_t limit);

  // Calls `fn` for every stored span that started at or after `since_ns`,
  // oldest first (used to rebuild the dependency graph at start-up).
  Status ForEachSince(int64_t since_ns, const std::function<void(Span)>& fn);

  // Stored spans.
  Result<int64_t> Count();

 private:
  SpanStore(SpanStoreOptions options, std::unique_ptr<SqliteDb> db)
      : options_(std::move(options)), db_(std::move(db)) {}
  Status PruneLocked(TimePoint now);

  SpanStoreOptions options_;
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // GUARDED_BY(mu_)
  TimePoint last_prune_{};        // GUARDED_BY(mu_)
};

}  // namespace hive::collector
