// SegmentLogStore's parts, shared by the files that implement it (the
// contract is in hive/collector/segment_log_store.h):
//   segment_log_store.cpp  opening, metrics, health, closing, stats
//   segment_wal.cpp        the write-ahead log: appends, group commit,
//                          replay at open, cutting blocks
//   segment_parts.cpp      sealed blocks in part files: sealing, the
//                          catalog, retention
//   segment_query.cpp      searches: block skipping, the top-k of a page
// Internal to the collector; not a public header.
#pragma once

#include <re2/re2.h>
#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bloom.h"
#include "event_codec.h"
#include "hive/collector/segment_log_store.h"
#include "hive/core/env.h"
#include "hive/core/sqlite.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace hive::collector::segment {

constexpr char kMagic[8] = {'H', 'I', 'V', 'E', 'L', 'O', 'G', '1'};
constexpr size_t kFileHeaderBytes = sizeof kMagic;
constexpr size_t kRecordHeaderBytes = 8;  // u32 length + u32 crc
constexpr size_t kMaxPayloadBytes = 512u << 20;
constexpr uint64_t kMinSegmentBytes = 4u << 10;
constexpr uint64_t kMaxSegmentBytes = 1u << 30;  // event offsets are u32
constexpr size_t kMaxIovecs = 1024;
constexpr int kZstdLevel = 1;  // fast: the sealer must keep up with ingest
constexpr size_t kMaxServicesPerBlock = 64;
constexpr auto kSealRetryDelay = std::chrono::seconds(1);
// Cut blocks waiting for the sealer before the writer waits for it: bounds
// memory when compression falls behind ingest (backpressure, not growth).
constexpr size_t kMaxUnsealedBlocks = 8;

constexpr std::string_view kCatalogSchema = R"sql(
CREATE TABLE blocks(
  first_seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, part INTEGER NOT NULL,
  offset INTEGER NOT NULL, length INTEGER NOT NULL, raw_length INTEGER NOT NULL,
  crc INTEGER NOT NULL, min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL,
  max_level INTEGER NOT NULL, services TEXT, bloom BLOB NOT NULL, wal_seq INTEGER NOT NULL);
CREATE INDEX blocks_by_part ON blocks(part);
CREATE TABLE batch_ids(id TEXT PRIMARY KEY, accepted INTEGER NOT NULL, rejected INTEGER NOT NULL);
CREATE TABLE state(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

// "segment-<16 digits>.log" and "blocks-<16 digits>.dat".
std::string SegmentName(uint64_t seq);
std::string PartName(uint64_t seq);
// The sequence number of "<prefix><16 digits><suffix>"; false for other names.
bool ParseSeqName(std::string_view name, std::string_view prefix, std::string_view suffix,
                  uint64_t* seq);

// Little-endian u32, as the WAL's record headers hold them.
void PutU32(char* p, uint32_t v);
uint32_t GetU32(const char* p);
// zlib's CRC-32, continued from `crc`.
uint32_t Crc32(uint32_t crc, std::string_view data);
// CRC-32 of the 4 length bytes followed by the payload, so a corrupted length
// is caught too.
uint32_t RecordCrc(const char* length_bytes, std::string_view payload);
// What bloom filters hold: `kind` ('t' trace id, 's' service, 'i' instance)
// and the value.
uint64_t KeyHash(char kind, std::string_view value);

struct DataFile {
  explicit DataFile(Env& e) : env(e) {}
  ~DataFile() {
    if (fd >= 0) env.Close(fd);
  }
  DataFile(const DataFile&) = delete;
  DataFile& operator=(const DataFile&) = delete;

  Env& env;
  uint64_t seq = 0;
  std::string path;
  int fd = -1;
  uint64_t size = 0;
};

// A sealed block; immutable once published.
struct SealedBlock {
  uint64_t first_seq = 0;
  uint64_t count = 0;
  std::shared_ptr<DataFile> part;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t raw_length = 0;
  uint32_t crc = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  LogLevel max_level = LogLevel::kTrace;
  bool services_known = false;  // false: more than kMaxServicesPerBlock
  std::vector<std::string> services;
  BloomFilter bloom;
  uint64_t wal_seq = 0;
};

// The open block (events of the active WAL segment) or a cut block waiting
// for the sealer. Only the writer changes the open block; a cut one is
// immutable.
struct MemBlock {
  uint64_t wal_seq = 0;
  uint64_t first_seq = 1;
  std::string data;  // the block's uncompressed form
  std::vector<codec::EventSpan> spans;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
  LogLevel max_level = LogLevel::kTrace;
  std::vector<std::pair<std::string, AppendResult>> batch_ids;
  uint64_t wal_bytes = 0;  // size of its WAL segment

  uint64_t count() const { return spans.size(); }
};

// What a block is known to hold without reading it.
struct BlockSummary {
  uint64_t first_seq, count;
  int64_t min_ts, max_ts;
  LogLevel max_level;
  const BloomFilter* bloom;                  // null: no filter
  const std::vector<std::string>* services;  // null: unknown
};

struct BatchMeta {
  std::string batch_id;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
  LogLevel max_level = LogLevel::kTrace;

  void Add(int64_t ts, LogLevel level) {
    min_ts = std::min(min_ts, ts);
    max_ts = std::max(max_ts, ts);
    max_level = std::max(max_level, level);
  }
};

// A batch waiting for the writer.
struct Pending {
  BatchMeta meta;
  std::string payload;
  uint32_t events_offset = 0;
  std::vector<codec::EventSpan> spans;  // within payload
  char header[kRecordHeaderBytes];
  Pending* duplicate_of = nullptr;
  // Set by the writer; read by the caller once `done`.
  bool done = false;
  Status status;
  AppendResult result;

  uint64_t events_bytes() const { return payload.size() - events_offset; }
};

// Appends a batch's events (payload from events_offset) to `block`.
void AddToBlock(MemBlock& block, std::string_view payload, uint32_t events_offset,
                const std::vector<codec::EventSpan>& spans, const BatchMeta& meta);

// Query position: (ts, seq) totally orders events.
struct Position {
  int64_t ts = 0;
  uint64_t seq = 0;
  friend bool operator<(const Position& a, const Position& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq;
  }
};

// A filter prepared for one Search.
struct PreparedQuery {
  const LogFilter* f;
  std::unique_ptr<RE2> regex;
  std::optional<Position> cursor;
  uint64_t trace_hash = 0, service_hash = 0, instance_hash = 0;

  // Whether a block may hold a match, from what it is known to hold.
  bool BlockMayMatch(const BlockSummary& b) const;
  bool EventMatches(const codec::EventView& v, uint64_t seq) const;
};

struct Candidate {
  Position pos;
  LogEvent event;
};

// The best `limit` matches of a search, in the filter's order.
class TopK {
 public:
  explicit TopK(const PreparedQuery& q) : q_(q), newest_(q.f->newest_first) {}

  // Whether a block can still add to the answer. Blocks are visited in
  // answer order of ingest, so a tie in ts with a held event loses.
  bool Wants(const BlockSummary& b) const;
  // Offers every event of a block (its uncompressed form).
  Status Scan(std::string_view data, const std::vector<codec::EventSpan>& spans,
              uint64_t first_seq);
  // `visible_last`: the highest sequence number the search covered.
  LogPage Finish(uint64_t visible_last);

 private:
  // `a` comes before `b` in the answer.
  bool Better(const Position& a, const Position& b) const { return newest_ ? b < a : a < b; }
  bool full() const { return heap_.size() >= limit(); }
  size_t limit() const { return q_.f->limit; }

  const PreparedQuery& q_;
  const bool newest_;
  std::vector<Candidate> heap_;
};

BlockSummary Summary(const MemBlock& b);
BlockSummary Summary(const SealedBlock& b);

class SegmentLogStore final : public LogStore {
 public:
  explicit SegmentLogStore(SegmentLogStoreOptions options)
      : options_(std::move(options)),
        env_(options_.env != nullptr ? *options_.env : Env::Default()) {}
  ~SegmentLogStore() override { Close(); }

  Status Open();
  Result<AppendResult> Append(LogBatch batch) override;
  Result<LogPage> Search(const LogFilter& filter) override;
  Result<uint64_t> LastSequence() override;
  Subscription SubscribeAppends(Notifier::Listener wake) override;
  Status EnforceRetention() override;
  LogStoreStats Stats() override;
  Status Health() override;
  void Close() override;

 private:
  Status RegisterMetrics();
  Status OpenCatalog();
  Status OpenParts(const std::vector<uint64_t>& part_seqs);
  Status OpenPart(uint64_t seq, std::vector<std::shared_ptr<SealedBlock>>& blocks);
  Status LoadBatchIds();
  Status ReplayWal(const std::vector<uint64_t>& wal_seqs);
  Status ScanSegment(DataFile& seg, bool last, MemBlock& block);
  Result<std::shared_ptr<DataFile>> CreateSegment(uint64_t seq);
  void RememberBatchId(const std::string& id, AppendResult counts);
  void UpdateGauges();

  void WriterLoop();
  void WriteGroup(const std::vector<Pending*>& group);
  void CommitRun(const std::vector<Pending*>& run);
  void CutBlock();
  void Fail(Status status);
  Status FailedStatus();

  void SealerLoop();
  Status Seal(const MemBlock& block);
  Status WriteToPart(SealedBlock& sealed, std::string_view compressed);
  Status Catalogue(const SealedBlock& sealed, const MemBlock& block);
  void RetentionLoop();

  Status ScanSealed(const SealedBlock& block, TopK& out);

  const SegmentLogStoreOptions options_;
  Env& env_;
  int lock_fd_ = -1;

  // The catalog and the part files: Open, then the sealer and retention,
  // each holding storage_mu_.
  std::mutex storage_mu_;
  std::unique_ptr<SqliteDb> catalog_;
  std::map<uint64_t, std::shared_ptr<DataFile>> parts_;  // by seq
  std::shared_ptr<DataFile> active_part_;                // null: create on the next seal

  // What queries read; extended by the writer (open block) and the sealer.
  std::shared_mutex index_mu_;
  std::vector<std::shared_ptr<const SealedBlock>> blocks_;  // GUARDED_BY(index_mu_), seq order
  std::deque<std::shared_ptr<const MemBlock>> sealing_;     // GUARDED_BY(index_mu_), cut blocks
  std::shared_ptr<MemBlock> open_;                          // GUARDED_BY(index_mu_) for readers

  // Writer thread only (after Open).
  std::shared_ptr<DataFile> wal_;
  uint64_t next_seq_ = 1;
  std::unordered_map<std::string, AppendResult> batch_ids_;
  std::deque<std::string> batch_id_order_;

  std::atomic<uint64_t> last_seq_{0};
  std::atomic<uint64_t> wal_bytes_{0};
  std::atomic<uint64_t> part_bytes_{0};
  std::mutex seq_mu_;
  Notifier appended_;  // a new event became visible, or closing

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;   // wakes the writer
  std::condition_variable done_cv_;    // wakes appenders
  std::condition_variable sealer_cv_;  // wakes the sealer and the retention thread
  std::condition_variable sealed_cv_;  // a block was sealed; wakes a waiting writer
  std::atomic<size_t> unsealed_{0};    // cut blocks not yet sealed
  std::deque<Pending*> queue_;         // GUARDED_BY(queue_mu_)
  bool closing_ = false;               // GUARDED_BY(queue_mu_)
  bool stop_background_ = false;       // GUARDED_BY(queue_mu_)
  bool cut_pending_ = false;           // GUARDED_BY(queue_mu_): the sealer has work
  Status failed_;                      // GUARDED_BY(queue_mu_); non-OK after an fsync failure
  std::atomic<bool> closed_{false};

  std::mutex close_mu_;
  std::thread writer_, sealer_, retention_;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* fsync_seconds_ = nullptr;
  prometheus::Histogram* seal_seconds_ = nullptr;
  prometheus::Gauge* store_bytes_gauge_ = nullptr;
  prometheus::Gauge* segments_gauge_ = nullptr;
  prometheus::Gauge* blocks_gauge_ = nullptr;
  prometheus::Gauge* queue_gauge_ = nullptr;
  prometheus::Counter* retention_dropped_ = nullptr;
  prometheus::Counter* seal_errors_ = nullptr;
  prometheus::Gauge* failed_gauge_ = nullptr;
};

}  // namespace hive::collector::segment
