#include "hive/collector/span_store.h"

#include <array>

namespace hive::collector {
namespace {

constexpr std::array<std::string_view, 1> kMigrations = {
    "CREATE TABLE spans ("
    "  trace_id TEXT NOT NULL,"
    "  span_id TEXT NOT NULL,"
    "  start_ns INTEGER NOT NULL,"
    "  line TEXT NOT NULL,"
    "  PRIMARY KEY (trace_id, span_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX spans_by_start ON spans (start_ns);"};

constexpr auto kPruneEvery = std::chrono::minutes(1);

Result<Span> DecodeLine(const std::string& line) {
  ParsedSpans parsed = ParseNdjsonSpans(line, TimePoint{});
  if (parsed.spans.size() != 1) return Status::Internal("a stored span does not parse: " + line);
  return std::move(parsed.spans.front());
}

}  // namespace

Result<std::unique_ptr<SpanStore>> SpanStore::Open(SpanStoreOptions options) {
  auto db = SqliteDb::Open(options.path);
  if (!db.ok()) {
    return Status::FailedPrecondition("cannot open span store " + options.path + ": " +
                                      db.status().message());
  }
  HIVE_RETURN_IF_ERROR((*db)->Migrate(kMigrations));
  return std::unique_ptr<SpanStore>(new SpanStore(std::move(options), std::move(*db)));
}

Result<std::vector<Span>> SpanStore::Append(const std::vector<Span>& spans) {
  std::vector<Span> added;
  std::lock_guard lock(mu_);
  {
    Transaction tx(*db_);
    if (!tx.begin_status().ok()) return Status::Unavailable(tx.begin_status().message());
    auto insert = db_->Prepare(
        "INSERT OR IGNORE INTO spans (trace_id, span_id, start_ns, line) VALUES (?, ?, ?, ?)");
    if (!insert.ok()) return Status::Unavailable(insert.status().message());
    std::string line;
    for (const Span& span : spans) {
      line.clear();
      AppendSpanLine(line, span);
      insert->Reset();
      insert->Bind(1, span.trace_id).Bind(2, span.span_id).Bind(3, span.start_ns).Bind(4, line);
      if (Status s = insert->Run(); !s.ok()) return Status::Unavailable(s.message());
      if (db_->Changes() == 1) added.push_back(span);
    }
    if (Status s = tx.Commit(); !s.ok()) return Status::Unavailable(s.message());
  }
  TimePoint now = options_.clock->Now();
  if (now - last_prune_ >= kPruneEvery) {
    last_prune_ = now;
    // A failed prune is retried a minute later; the batch itself is stored.
    (void)PruneLocked(now);
  }
  return added;
}

Status SpanStore::PruneLocked(TimePoint now) {
  auto del = db_->Prepare("DELETE FROM spans WHERE start_ns < ?");
  if (!del.ok()) return del.status();
  del->Bind(1, ToUnixNanos(now - options_.retention));
  return del->Run();
}

Result<std::vector<Span>> SpanStore::ByTrace(std::string_view trace_id, size_t limit) {
  std::lock_guard lock(mu_);
  auto q = db_->Prepare("SELECT line FROM spans WHERE trace_id = ? ORDER BY start_ns LIMIT ?");
  if (!q.ok()) return q.status();
  q->Bind(1, trace_id).Bind(2, static_cast<int64_t>(limit));
  std::vector<Span> out;
  while (true) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<Span> span = DecodeLine(q->ColumnText(0));
    if (!span.ok()) return span.status();
    out.push_back(std::move(*span));
  }
  return out;
}

Status SpanStore::ForEachSince(int64_t since_ns, const std::function<void(Span)>& fn) {
  std::lock_guard lock(mu_);
  auto q = db_->Prepare("SELECT line FROM spans WHERE start_ns >= ? ORDER BY start_ns");
  if (!q.ok()) return q.status();
  q->Bind(1, since_ns);
  while (true) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    Result<Span> span = DecodeLine(q->ColumnText(0));
    if (!span.ok()) return span.status();
    fn(std::move(*span));
  }
}

Result<int64_t> SpanStore::Count() {
  std::lock_guard lock(mu_);
  auto q = db_->Prepare("SELECT COUNT(*) FROM spans");
  if (!q.ok()) return q.status();
  Result<bool> row = q->Step();
  if (!row.ok()) return row.status();
  return q->ColumnInt(0);
}

}  // namespace hive::collector
