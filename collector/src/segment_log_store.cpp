#include "hive/collector/segment_log_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "bloom.h"
#include "event_codec.h"
#include "hive/core/log.h"
#include "hive/core/sqlite.h"
#include "hive/core/text.h"
#include "user_regex.h"

namespace hive::collector {
namespace {

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

std::string ErrnoText(int err) { return std::strerror(err); }

std::string SeqName(std::string_view prefix, uint64_t seq, std::string_view suffix) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llu", static_cast<unsigned long long>(seq));
  return std::string(prefix) + buf + std::string(suffix);
}
std::string SegmentName(uint64_t seq) { return SeqName("segment-", seq, ".log"); }
std::string PartName(uint64_t seq) { return SeqName("blocks-", seq, ".dat"); }

// The sequence number of "<prefix><16 digits><suffix>"; false for other names.
bool ParseSeqName(std::string_view name, std::string_view prefix, std::string_view suffix,
                  uint64_t* seq) {
  if (name.size() != prefix.size() + 16 + suffix.size() ||
      name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix) {
    return false;
  }
  *seq = 0;
  for (char c : name.substr(prefix.size(), 16)) {
    if (c < '0' || c > '9') return false;
    *seq = *seq * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

uint32_t Crc32(uint32_t crc, std::string_view data) {
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// CRC-32 of the 4 length bytes followed by the payload, so a corrupted length
// is caught too.
uint32_t RecordCrc(const char* length_bytes, std::string_view payload) {
  return Crc32(Crc32(0, std::string_view(length_bytes, 4)), payload);
}

Status ReadAt(int fd, uint64_t offset, size_t length, std::string* out) {
  out->resize(length);
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable("read from the log store failed: " + ErrnoText(errno));
    if (n == 0) return Status::Internal("a log store file is shorter than its index says");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteAt(int fd, uint64_t offset, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("write failed: " + ErrnoText(n < 0 ? errno : EIO));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable("open " + dir + ": " + ErrnoText(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::Unavailable("fsync " + dir + ": " + ErrnoText(err));
  return Status::Ok();
}

bool ContainsIgnoreCase(std::string_view text, std::string_view needle) {
  auto lower = [](unsigned char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; };
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                        [&](char a, char b) { return lower(a) == lower(b); });
  return it != text.end();
}

uint64_t KeyHash(char kind, std::string_view value) {
  std::string key;
  key.reserve(value.size() + 2);
  key += kind;
  key += '\0';
  key += value;
  return StableHash64(key);
}

// A file the store reads and appends to; closed when the last reader is done.
struct DataFile {
  uint64_t seq = 0;
  std::string path;
  int fd = -1;
  uint64_t size = 0;

  ~DataFile() {
    if (fd >= 0) ::close(fd);
  }
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

void AddToBlock(MemBlock& block, std::string_view payload, uint32_t events_offset,
                const std::vector<codec::EventSpan>& spans, const BatchMeta& meta) {
  const auto shift = static_cast<int64_t>(block.data.size()) - events_offset;
  block.data.append(payload.substr(events_offset));
  for (const codec::EventSpan& s : spans) {
    block.spans.push_back({static_cast<uint32_t>(s.offset + shift), s.length});
  }
  block.min_ts = std::min(block.min_ts, meta.min_ts);
  block.max_ts = std::max(block.max_ts, meta.max_ts);
  block.max_level = std::max(block.max_level, meta.max_level);
  if (!meta.batch_id.empty()) {
    block.batch_ids.emplace_back(meta.batch_id, AppendResult{meta.accepted, meta.rejected, false});
  }
}

// Query position: (ts, seq) totally orders events.
struct Position {
  int64_t ts = 0;
  uint64_t seq = 0;
  friend bool operator<(const Position& a, const Position& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq;
  }
};

std::string EncodeCursor(bool newest_first, Position p) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%c%016llx%016llx", newest_first ? 'n' : 'o',
                static_cast<unsigned long long>(p.ts), static_cast<unsigned long long>(p.seq));
  return buf;
}

Result<Position> DecodeCursor(std::string_view text, bool newest_first) {
  auto bad = Status::InvalidArgument("'cursor' is not a cursor this query returned");
  if (text.size() != 33 || text[0] != (newest_first ? 'n' : 'o')) return bad;
  uint64_t parts[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    for (char c : text.substr(1 + 16 * k, 16)) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) return bad;
      parts[k] = parts[k] << 4 | static_cast<uint64_t>(d);
    }
  }
  return Position{static_cast<int64_t>(parts[0]), parts[1]};
}

// A filter prepared for one Search.
struct PreparedQuery {
  const LogFilter* f;
  std::unique_ptr<RE2> regex;
  std::optional<Position> cursor;
  uint64_t trace_hash = 0, service_hash = 0, instance_hash = 0;

  bool BlockMayMatch(const BlockSummary& b) const {
    if (b.count == 0) return false;
    if (b.max_level < f->min_level) return false;
    if (f->since_ns && b.max_ts < *f->since_ns) return false;
    if (f->until_ns && b.min_ts >= *f->until_ns) return false;
    if (f->after_seq) {
      if (b.first_seq + b.count - 1 <= *f->after_seq) return false;
    } else if (cursor) {
      if (f->newest_first ? b.min_ts > cursor->ts : b.max_ts < cursor->ts) return false;
    }
    if (b.services && !f->service.empty() &&
        std::find(b.services->begin(), b.services->end(), f->service) == b.services->end()) {
      return false;
    }
    if (b.bloom) {
      if (!f->trace_id.empty() && !b.bloom->MayContain(trace_hash)) return false;
      if (!f->service.empty() && !b.bloom->MayContain(service_hash)) return false;
      if (!f->instance.empty() && !b.bloom->MayContain(instance_hash)) return false;
    }
    return true;
  }

  bool EventMatches(const codec::EventView& v, uint64_t seq) const {
    if (v.level < f->min_level) return false;
    if (f->since_ns && v.ts_ns < *f->since_ns) return false;
    if (f->until_ns && v.ts_ns >= *f->until_ns) return false;
    if (!f->trace_id.empty() && v.trace_id != f->trace_id) return false;
    if (!f->service.empty() && v.service != f->service) return false;
    if (!f->instance.empty() && v.instance != f->instance) return false;
    if (f->after_seq) {
      if (seq <= *f->after_seq) return false;
    } else if (cursor) {
      Position p{v.ts_ns, seq};
      if (f->newest_first ? !(p < *cursor) : !(*cursor < p)) return false;
    }
    if (!f->message_contains.empty() && !ContainsIgnoreCase(v.message, f->message_contains))
      return false;
    if (regex && !RE2::PartialMatch(re2::StringPiece(v.message.data(), v.message.size()), *regex))
      return false;
    return true;
  }
};

struct Candidate {
  Position pos;
  LogEvent event;
};

// Gathers the best `limit` matches in the filter's order.
class Collector {
 public:
  explicit Collector(const PreparedQuery& q) : q_(q), newest_(q.f->newest_first) {}

  // `a` comes before `b` in the answer.
  bool Better(const Position& a, const Position& b) const { return newest_ ? b < a : a < b; }
  bool full() const { return heap_.size() >= limit(); }
  size_t limit() const { return q_.f->limit; }

  // Whether a block can still add to the answer. Blocks are visited in
  // answer order of ingest, so a tie in ts with a held event loses.
  bool Wants(const BlockSummary& b) const {
    if (!q_.BlockMayMatch(b)) return false;
    if (q_.f->after_seq) return !full();
    if (!full()) return true;
    const int64_t worst = heap_.front().pos.ts;
    return newest_ ? b.max_ts > worst : b.min_ts < worst;
  }

  Status Scan(std::string_view data, const std::vector<codec::EventSpan>& spans,
              uint64_t first_seq) {
    for (size_t i = 0; i < spans.size(); ++i) {
      if (q_.f->after_seq && full()) return Status::Ok();
      codec::EventView v;
      if (!codec::DecodeEventView(data.substr(spans[i].offset, spans[i].length), &v)) {
        return Status::Internal("undecodable event in the log store");
      }
      const uint64_t seq = first_seq + i;
      if (!q_.EventMatches(v, seq)) continue;
      Candidate c{{v.ts_ns, seq}, {}};
      if (q_.f->after_seq) {
        if (!codec::Materialize(v, &c.event)) return Status::Internal("undecodable attributes");
        heap_.push_back(std::move(c));  // in sequence order; no heap needed
        continue;
      }
      auto cmp = [this](const Candidate& a, const Candidate& b) { return Better(a.pos, b.pos); };
      if (full()) {
        if (!Better(c.pos, heap_.front().pos)) continue;
        std::pop_heap(heap_.begin(), heap_.end(), cmp);
        heap_.pop_back();
      }
      if (!codec::Materialize(v, &c.event)) return Status::Internal("undecodable attributes");
      heap_.push_back(std::move(c));
      std::push_heap(heap_.begin(), heap_.end(), cmp);
    }
    return Status::Ok();
  }

  // `visible_last`: the highest sequence number the search covered.
  LogPage Finish(uint64_t visible_last) {
    LogPage page;
    if (q_.f->after_seq) {
      page.last_seq = full() ? heap_.back().pos.seq : std::max(*q_.f->after_seq, visible_last);
    } else {
      std::sort(heap_.begin(), heap_.end(),
                [this](const Candidate& a, const Candidate& b) { return Better(a.pos, b.pos); });
      if (full() && !heap_.empty()) page.next = EncodeCursor(newest_, heap_.back().pos);
    }
    page.events.reserve(heap_.size());
    for (Candidate& c : heap_) page.events.push_back(std::move(c.event));
    return page;
  }

 private:
  const PreparedQuery& q_;
  const bool newest_;
  std::vector<Candidate> heap_;
};

BlockSummary Summary(const MemBlock& b) {
  return {b.first_seq, b.count(), b.min_ts, b.max_ts, b.max_level, nullptr, nullptr};
}
BlockSummary Summary(const SealedBlock& b) {
  return {b.first_seq,
          b.count,
          b.min_ts,
          b.max_ts,
          b.max_level,
          &b.bloom,
          b.services_known ? &b.services : nullptr};
}

class SegmentLogStore final : public LogStore {
 public:
  explicit SegmentLogStore(SegmentLogStoreOptions options) : options_(std::move(options)) {}
  ~SegmentLogStore() override { Close(); }

  Status Open();
  Result<AppendResult> Append(LogBatch batch) override;
  Result<LogPage> Search(const LogFilter& filter) override;
  Result<uint64_t> LastSequence() override;
  Subscription SubscribeAppends(Notifier::Listener wake) override;
  Status EnforceRetention() override;
  LogStoreStats Stats() override;
  void Close() override;

 private:
  Status RegisterMetrics();
  Status OpenCatalog();
  Status OpenParts(const std::vector<uint64_t>& part_seqs);
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
  void RetentionLoop();

  Status ScanSealed(const SealedBlock& block, Collector& out);

  const SegmentLogStoreOptions options_;
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
};

Status SegmentLogStore::RegisterMetrics() {
  registry_ = options_.metrics ? options_.metrics : std::make_shared<prometheus::Registry>();
  try {
    auto gauge = [&](const char* name, const char* help) {
      return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
    };
    auto counter = [&](const char* name, const char* help) {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
    };
    const prometheus::Histogram::BucketBoundaries buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,   0.25,   0.5,   1};
    fsync_seconds_ = &prometheus::BuildHistogram()
                          .Name("hive_collector_fsync_seconds")
                          .Help("Time of one group-commit fdatasync of the log store's WAL")
                          .Register(*registry_)
                          .Add({}, buckets);
    seal_seconds_ = &prometheus::BuildHistogram()
                         .Name("hive_collector_seal_seconds")
                         .Help("Time to compress, write and catalogue one log block")
                         .Register(*registry_)
                         .Add({}, buckets);
    store_bytes_gauge_ = gauge("hive_collector_store_bytes", "Bytes in the log store's files");
    segments_gauge_ = gauge("hive_collector_segments", "Write-ahead log segment files");
    blocks_gauge_ = gauge("hive_collector_blocks", "Sealed, compressed log blocks");
    queue_gauge_ =
        gauge("hive_collector_write_queue_batches", "Ingest batches waiting for the log writer");
    retention_dropped_ = counter("hive_collector_retention_dropped_bytes_total",
                                 "Bytes of log blocks dropped by retention");
    seal_errors_ = counter("hive_collector_seal_errors_total",
                           "Failed attempts to seal a log block (retried)");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("registering collector store metrics: ") + e.what());
  }
  return Status::Ok();
}

void SegmentLogStore::UpdateGauges() {
  size_t blocks, sealing;
  {
    std::shared_lock lock(index_mu_);
    blocks = blocks_.size();
    sealing = sealing_.size();
  }
  blocks_gauge_->Set(static_cast<double>(blocks));
  segments_gauge_->Set(static_cast<double>(sealing + 1));
  store_bytes_gauge_->Set(static_cast<double>(wal_bytes_.load() + part_bytes_.load()));
}

Status SegmentLogStore::Open() {
  if (options_.dir.empty()) return Status::InvalidArgument("log store directory is empty");
  if (options_.segment_bytes < kMinSegmentBytes || options_.segment_bytes > kMaxSegmentBytes) {
    return Status::InvalidArgument("segment_bytes must be between 4 KiB and 1 GiB");
  }
  if (options_.part_bytes < kMinSegmentBytes)
    return Status::InvalidArgument("part_bytes must be at least 4 KiB");
  if (options_.clock == nullptr) return Status::InvalidArgument("log store clock is null");
  if (options_.retention_interval.count() <= 0)
    return Status::InvalidArgument("retention_interval must be positive");
  HIVE_RETURN_IF_ERROR(RegisterMetrics());
  const std::string& dir = options_.dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::FailedPrecondition("cannot create log store directory '" + dir +
                                      "': " + ec.message());
  }
  const std::string lock_path = dir + "/LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return Status::FailedPrecondition("cannot write to log store directory '" + dir +
                                      "': " + ErrnoText(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::FailedPrecondition("log store directory '" + dir +
                                      "' is in use by another collector (" + ErrnoText(errno) +
                                      ")");
  }

  std::vector<uint64_t> wal_seqs, part_seqs;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return Status::FailedPrecondition("cannot list '" + dir + "': " + ErrnoText(errno));
  while (dirent* entry = ::readdir(d)) {
    uint64_t seq;
    if (ParseSeqName(entry->d_name, "segment-", ".log", &seq)) wal_seqs.push_back(seq);
    if (ParseSeqName(entry->d_name, "blocks-", ".dat", &seq)) part_seqs.push_back(seq);
  }
  ::closedir(d);
  std::sort(wal_seqs.begin(), wal_seqs.end());
  std::sort(part_seqs.begin(), part_seqs.end());

  HIVE_RETURN_IF_ERROR(OpenCatalog());
  HIVE_RETURN_IF_ERROR(OpenParts(part_seqs));
  HIVE_RETURN_IF_ERROR(ReplayWal(wal_seqs));
  UpdateGauges();
  log::Info("log store opened", {{"dir", dir},
                                 {"blocks", blocks_.size()},
                                 {"unsealed_blocks", sealing_.size() + 1},
                                 {"events", last_seq_.load()},
                                 {"bytes", wal_bytes_.load() + part_bytes_.load()}});
  writer_ = std::thread([this] { WriterLoop(); });
  sealer_ = std::thread([this] { SealerLoop(); });
  retention_ = std::thread([this] { RetentionLoop(); });
  return Status::Ok();
}

Status SegmentLogStore::OpenCatalog() {
  const std::string path = options_.dir + "/catalog.db";
  auto db = SqliteDb::Open(path, {Durability::kFull});
  if (!db.ok()) return Status::FailedPrecondition(db.status().message()).WithContext(path);
  catalog_ = std::move(*db);
  const std::string_view migrations[] = {kCatalogSchema};
  if (Status s = catalog_->Migrate(migrations); !s.ok()) {
    return Status::FailedPrecondition(s.message()).WithContext(path);
  }
  return Status::Ok();
}

Status SegmentLogStore::OpenParts(const std::vector<uint64_t>& part_seqs) {
  // What the catalog says, grouped by part.
  std::map<uint64_t, std::vector<std::shared_ptr<SealedBlock>>> by_part;
  auto rows = catalog_->Prepare(
      "SELECT first_seq, count, part, offset, length, raw_length, crc, min_ts, max_ts, "
      "max_level, services, bloom, wal_seq FROM blocks ORDER BY first_seq");
  if (!rows.ok()) return rows.status();
  while (true) {
    auto more = rows->Step();
    if (!more.ok()) return more.status();
    if (!*more) break;
    auto b = std::make_shared<SealedBlock>();
    b->first_seq = static_cast<uint64_t>(rows->ColumnInt(0));
    b->count = static_cast<uint64_t>(rows->ColumnInt(1));
    const auto part = static_cast<uint64_t>(rows->ColumnInt(2));
    b->offset = static_cast<uint64_t>(rows->ColumnInt(3));
    b->length = static_cast<uint32_t>(rows->ColumnInt(4));
    b->raw_length = static_cast<uint32_t>(rows->ColumnInt(5));
    b->crc = static_cast<uint32_t>(rows->ColumnInt(6));
    b->min_ts = rows->ColumnInt(7);
    b->max_ts = rows->ColumnInt(8);
    b->max_level = static_cast<LogLevel>(std::clamp<int64_t>(rows->ColumnInt(9), 0, 5));
    b->services_known = !rows->ColumnIsNull(10);
    if (b->services_known) {
      std::string services = rows->ColumnText(10);
      for (std::string_view s : Split(services, '\n')) {
        if (!s.empty()) b->services.emplace_back(s);
      }
    }
    if (!BloomFilter::Parse(rows->ColumnBlob(11), &b->bloom)) {
      return Status::FailedPrecondition("catalog block " + std::to_string(b->first_seq) +
                                        " has a malformed bloom filter");
    }
    b->wal_seq = static_cast<uint64_t>(rows->ColumnInt(12));
    by_part[part].push_back(std::move(b));
  }
  const std::set<uint64_t> on_disk(part_seqs.begin(), part_seqs.end());
  for (const auto& [seq, blocks] : by_part) {
    if (!on_disk.contains(seq)) {
      // Only an outside hand removes a catalogued part; forget its blocks.
      log::Error("a catalogued log part is missing; its blocks are forgotten",
                 {{"part", PartName(seq)}, {"blocks", blocks.size()}});
      auto del = catalog_->Prepare("DELETE FROM blocks WHERE part = ?");
      if (!del.ok()) return del.status();
      HIVE_RETURN_IF_ERROR(del->Bind(1, static_cast<int64_t>(seq)).Run());
    }
  }
  for (uint64_t seq : part_seqs) {
    const std::string path = options_.dir + "/" + PartName(seq);
    auto it = by_part.find(seq);
    if (it == by_part.end()) {
      // Created, or dropped by retention, just before a crash.
      log::Info("removing a log part without catalogued blocks", {{"path", path}});
      ::unlink(path.c_str());
      continue;
    }
    auto part = std::make_shared<DataFile>();
    part->seq = seq;
    part->path = path;
    part->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (part->fd < 0)
      return Status::FailedPrecondition("cannot open log part '" + path + "': " + ErrnoText(errno));
    struct stat st;
    if (::fstat(part->fd, &st) != 0)
      return Status::FailedPrecondition("stat '" + path + "': " + ErrnoText(errno));
    uint64_t end = 0;
    for (const auto& b : it->second) end = std::max(end, b->offset + b->length);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size < end) {
      return Status::FailedPrecondition(
          "log part '" + path + "' is shorter (" + std::to_string(size) +
          " bytes) than its catalogued blocks (" + std::to_string(end) + ")");
    }
    if (size > end) {
      // A block written but not catalogued: its WAL segment is replayed.
      log::Warn("truncating an uncatalogued block at the end of a log part",
                {{"path", path}, {"offset", end}, {"bytes_dropped", size - end}});
      if (::ftruncate(part->fd, static_cast<off_t>(end)) != 0 || ::fdatasync(part->fd) != 0)
        return Status::FailedPrecondition("cannot truncate '" + path + "': " + ErrnoText(errno));
    }
    part->size = end;
    part_bytes_ += end;
    for (auto& b : it->second) {
      b->part = part;
      blocks_.push_back(std::move(b));
    }
    parts_[seq] = part;
  }
  std::sort(blocks_.begin(), blocks_.end(),
            [](const auto& a, const auto& b) { return a->first_seq < b->first_seq; });
  if (!parts_.empty()) active_part_ = parts_.rbegin()->second;

  // The batch-id window.
  auto ids =
      catalog_->Prepare("SELECT id, accepted, rejected FROM batch_ids ORDER BY rowid DESC LIMIT ?");
  if (!ids.ok()) return ids.status();
  ids->Bind(1, static_cast<int64_t>(kBatchIdWindow));
  std::vector<std::pair<std::string, AppendResult>> newest_first;
  while (true) {
    auto more = ids->Step();
    if (!more.ok()) return more.status();
    if (!*more) break;
    newest_first.emplace_back(ids->ColumnText(0),
                              AppendResult{static_cast<uint64_t>(ids->ColumnInt(1)),
                                           static_cast<uint64_t>(ids->ColumnInt(2)), false});
  }
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it)
    RememberBatchId(it->first, it->second);
  return Status::Ok();
}

Status SegmentLogStore::ReplayWal(const std::vector<uint64_t>& wal_seqs) {
  uint64_t sealed_wal = 0;
  auto state = catalog_->Prepare("SELECT key, value FROM state");
  if (!state.ok()) return state.status();
  while (true) {
    auto more = state->Step();
    if (!more.ok()) return more.status();
    if (!*more) break;
    const std::string key = state->ColumnText(0);
    if (key == "sealed_wal_seq") sealed_wal = static_cast<uint64_t>(state->ColumnInt(1));
    if (key == "next_seq") next_seq_ = static_cast<uint64_t>(state->ColumnInt(1));
  }
  std::vector<uint64_t> live;
  for (uint64_t seq : wal_seqs) {
    const std::string path = options_.dir + "/" + SegmentName(seq);
    if (seq <= sealed_wal) {
      ::unlink(path.c_str());  // sealed; its deletion was cut short
    } else {
      live.push_back(seq);
    }
  }
  for (size_t i = 0; i < live.size(); ++i) {
    auto seg = std::make_shared<DataFile>();
    seg->seq = live[i];
    seg->path = options_.dir + "/" + SegmentName(live[i]);
    seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CLOEXEC);
    if (seg->fd < 0) {
      return Status::FailedPrecondition("cannot open log segment '" + seg->path +
                                        "': " + ErrnoText(errno));
    }
    auto block = std::make_shared<MemBlock>();
    block->wal_seq = live[i];
    block->first_seq = next_seq_;
    const bool last = i + 1 == live.size();
    HIVE_RETURN_IF_ERROR(ScanSegment(*seg, last, *block));
    block->wal_bytes = seg->size;
    wal_bytes_ += seg->size;
    next_seq_ += block->count();
    if (last) {
      wal_ = std::move(seg);
      open_ = std::move(block);
    } else {
      sealing_.push_back(std::move(block));
      ++unsealed_;
    }
  }
  if (!wal_) {
    uint64_t seq = std::max(sealed_wal, live.empty() ? 0 : live.back()) + 1;
    auto seg = CreateSegment(seq);
    if (!seg.ok()) return Status::FailedPrecondition(seg.status().message());
    wal_ = std::move(*seg);
    open_ = std::make_shared<MemBlock>();
    open_->wal_seq = seq;
    open_->first_seq = next_seq_;
    open_->wal_bytes = wal_->size;
    wal_bytes_ += wal_->size;
  }
  last_seq_ = next_seq_ - 1;
  cut_pending_ = !sealing_.empty();
  return Status::Ok();
}

Status SegmentLogStore::ScanSegment(DataFile& seg, bool last, MemBlock& block) {
  struct stat st;
  if (::fstat(seg.fd, &st) != 0) {
    return Status::FailedPrecondition("stat '" + seg.path + "': " + ErrnoText(errno));
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  std::string data;
  if (file_size > 0)
    HIVE_RETURN_IF_ERROR(ReadAt(seg.fd, 0, file_size, &data).WithContext(seg.path));

  if (file_size < kFileHeaderBytes) {
    // Only a crash right after creating the file leaves a short header.
    if (::ftruncate(seg.fd, 0) != 0 ||
        ::pwrite(seg.fd, kMagic, kFileHeaderBytes, 0) != kFileHeaderBytes ||
        ::fdatasync(seg.fd) != 0) {
      return Status::FailedPrecondition("cannot repair '" + seg.path + "': " + ErrnoText(errno));
    }
    seg.size = kFileHeaderBytes;
    return Status::Ok();
  }
  if (std::memcmp(data.data(), kMagic, kFileHeaderBytes) != 0) {
    return Status::FailedPrecondition("'" + seg.path + "' is not a hive log segment (bad magic)");
  }

  uint64_t pos = kFileHeaderBytes;
  std::string_view bad;
  std::vector<codec::EventSpan> spans;
  while (pos < file_size) {
    if (file_size - pos < kRecordHeaderBytes) {
      bad = "torn record header";
      break;
    }
    const char* hdr = data.data() + pos;
    uint32_t length = GetU32(hdr);
    if (length > file_size - pos - kRecordHeaderBytes) {
      bad = "torn record";
      break;
    }
    std::string_view payload(hdr + kRecordHeaderBytes, length);
    if (RecordCrc(hdr, payload) != GetU32(hdr + 4)) {
      bad = "CRC mismatch";
      break;
    }
    codec::BatchHeader header;
    if (!codec::DecodeBatch(payload, &header, &spans)) {
      bad = "undecodable record";
      break;
    }
    BatchMeta meta;
    meta.batch_id = std::string(header.batch_id);
    meta.accepted = header.accepted;
    meta.rejected = header.rejected;
    for (const codec::EventSpan& span : spans) {
      codec::EventView v;
      if (!codec::DecodeEventView(payload.substr(span.offset, span.length), &v)) {
        bad = "undecodable event";
        break;
      }
      meta.Add(v.ts_ns, v.level);
    }
    if (!bad.empty()) break;
    AddToBlock(block, payload, header.events_offset, spans, meta);
    if (!meta.batch_id.empty())
      RememberBatchId(meta.batch_id, {meta.accepted, meta.rejected, false});
    pos += kRecordHeaderBytes + length;
  }

  if (bad.empty()) {
    seg.size = file_size;
  } else if (last) {
    log::Warn(
        "truncating a torn or corrupt tail of the last log segment",
        {{"path", seg.path}, {"offset", pos}, {"bytes_dropped", file_size - pos}, {"reason", bad}});
    if (::ftruncate(seg.fd, static_cast<off_t>(pos)) != 0 || ::fdatasync(seg.fd) != 0) {
      return Status::FailedPrecondition("cannot truncate '" + seg.path + "': " + ErrnoText(errno));
    }
    seg.size = pos;
  } else {
    log::Error(
        "corrupt record in a sealed log segment; the rest of it is skipped",
        {{"path", seg.path}, {"offset", pos}, {"bytes_skipped", file_size - pos}, {"reason", bad}});
    seg.size = file_size;
  }
  return Status::Ok();
}

Result<std::shared_ptr<DataFile>> SegmentLogStore::CreateSegment(uint64_t seq) {
  auto seg = std::make_shared<DataFile>();
  seg->seq = seq;
  seg->path = options_.dir + "/" + SegmentName(seq);
  seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (seg->fd < 0) {
    return Status::Unavailable("cannot create log segment '" + seg->path +
                               "': " + ErrnoText(errno));
  }
  if (::pwrite(seg->fd, kMagic, kFileHeaderBytes, 0) != kFileHeaderBytes ||
      ::fdatasync(seg->fd) != 0) {
    Status s =
        Status::Unavailable("cannot write log segment '" + seg->path + "': " + ErrnoText(errno));
    ::unlink(seg->path.c_str());
    return s;
  }
  HIVE_RETURN_IF_ERROR(FsyncDir(options_.dir));
  seg->size = kFileHeaderBytes;
  return seg;
}

void SegmentLogStore::RememberBatchId(const std::string& id, AppendResult counts) {
  if (!batch_ids_.emplace(id, counts).second) return;
  batch_id_order_.push_back(id);
  if (batch_id_order_.size() > kBatchIdWindow) {
    batch_ids_.erase(batch_id_order_.front());
    batch_id_order_.pop_front();
  }
}

Result<AppendResult> SegmentLogStore::Append(LogBatch batch) {
  if (batch.events.empty()) return Status::InvalidArgument("a log batch needs at least one event");
  Pending p;
  codec::EncodedBatch enc = codec::EncodeBatch(batch);
  if (enc.payload.size() > kMaxPayloadBytes) {
    return Status::TooLarge("log batch encodes to " + std::to_string(enc.payload.size()) +
                            " bytes, over the record limit");
  }
  p.meta.batch_id = std::move(batch.batch_id);
  p.meta.accepted = batch.events.size();
  p.meta.rejected = batch.rejected;
  for (const LogEvent& e : batch.events) p.meta.Add(e.ts_ns, e.level);
  p.payload = std::move(enc.payload);
  p.events_offset = enc.events_offset;
  p.spans = std::move(enc.spans);
  PutU32(p.header, static_cast<uint32_t>(p.payload.size()));
  PutU32(p.header + 4, RecordCrc(p.header, p.payload));

  std::unique_lock lock(queue_mu_);
  if (closing_) return Status::Unavailable("log store is closed");
  if (!failed_.ok()) return failed_;
  queue_.push_back(&p);
  queue_gauge_->Set(static_cast<double>(queue_.size()));
  queue_cv_.notify_one();
  done_cv_.wait(lock, [&p] { return p.done; });
  if (!p.status.ok()) return p.status;
  return p.result;
}

void SegmentLogStore::WriterLoop() {
  std::vector<Pending*> group;
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;
      group.assign(queue_.begin(), queue_.end());
      queue_.clear();
      queue_gauge_->Set(0);
    }
    WriteGroup(group);
    {
      std::lock_guard lock(queue_mu_);
      for (Pending* p : group) p->done = true;
    }
    done_cv_.notify_all();
  }
}

void SegmentLogStore::WriteGroup(const std::vector<Pending*>& group) {
  // Ids first seen in this group, so a retry racing its original waits for it.
  std::unordered_map<std::string_view, Pending*> in_group;
  std::vector<Pending*> run;
  uint64_t run_bytes = 0;
  for (Pending* p : group) {
    const std::string& id = p->meta.batch_id;
    if (!id.empty()) {
      if (auto it = batch_ids_.find(id); it != batch_ids_.end()) {
        p->result = it->second;
        p->result.duplicate = true;
        continue;
      }
      if (auto it = in_group.find(id); it != in_group.end()) {
        p->duplicate_of = it->second;
        continue;
      }
      in_group.emplace(id, p);
    }
    // open_->data is only changed on this thread: no lock to read its size.
    const uint64_t block_bytes = open_->data.size() + run_bytes;
    if (block_bytes > 0 && block_bytes + p->events_bytes() > options_.segment_bytes) {
      CommitRun(run);
      run.clear();
      run_bytes = 0;
      CutBlock();
    }
    run.push_back(p);
    run_bytes += p->events_bytes();
  }
  CommitRun(run);
  for (Pending* p : group) {
    if (p->duplicate_of == nullptr) continue;
    p->status = p->duplicate_of->status;
    p->result = p->duplicate_of->result;
    p->result.duplicate = true;
  }
}

void SegmentLogStore::CommitRun(const std::vector<Pending*>& run) {
  if (run.empty()) return;
  Status failed = FailedStatus();
  if (!failed.ok()) {
    for (Pending* p : run) p->status = failed;
    return;
  }
  DataFile& seg = *wal_;
  const uint64_t base = seg.size;

  std::vector<iovec> iov;
  iov.reserve(run.size() * 2);
  uint64_t total = 0;
  for (Pending* p : run) {
    iov.push_back({p->header, kRecordHeaderBytes});
    iov.push_back({p->payload.data(), p->payload.size()});
    total += kRecordHeaderBytes + p->payload.size();
  }
  uint64_t written = 0;
  size_t first = 0;
  int write_errno = 0;
  while (first < iov.size()) {
    int n_iov = static_cast<int>(std::min(kMaxIovecs, iov.size() - first));
    ssize_t n = ::pwritev(seg.fd, &iov[first], n_iov, static_cast<off_t>(base + written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_errno = n < 0 ? errno : EIO;
      break;
    }
    written += static_cast<uint64_t>(n);
    // Skip the fully written iovecs; trim the partially written one.
    auto left = static_cast<size_t>(n);
    while (left > 0 && first < iov.size()) {
      if (left >= iov[first].iov_len) {
        left -= iov[first].iov_len;
        ++first;
      } else {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
        left = 0;
      }
    }
  }
  if (write_errno != 0) {
    Status s = Status::Unavailable("writing the log segment failed: " + ErrnoText(write_errno));
    log::Error("log write failed", {{"path", seg.path}, {"error", s.message()}});
    if (::ftruncate(seg.fd, static_cast<off_t>(base)) != 0) {
      Fail(Status::Unavailable("log store failed: cannot undo a partial write: " +
                               ErrnoText(errno)));
    }
    for (Pending* p : run) p->status = s;
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  int rc = ::fdatasync(seg.fd);
  int sync_errno = errno;
  fsync_seconds_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (rc != 0) {
    // After a failed fdatasync the kernel may have dropped the dirty pages;
    // nothing written since the last good sync can be trusted any more.
    Status s = Status::Unavailable("log store failed: fdatasync: " + ErrnoText(sync_errno));
    log::Error("log fdatasync failed; refusing further writes",
               {{"path", seg.path}, {"error", s.message()}});
    Fail(s);
    for (Pending* p : run) p->status = s;
    return;
  }
  seg.size = base + total;
  wal_bytes_ += total;
  {
    std::unique_lock lock(index_mu_);
    open_->wal_bytes = seg.size;
    for (Pending* p : run) {
      AddToBlock(*open_, p->payload, p->events_offset, p->spans, p->meta);
      p->result = {p->meta.accepted, p->meta.rejected, false};
      next_seq_ += p->spans.size();
    }
  }
  for (Pending* p : run) {
    if (!p->meta.batch_id.empty())
      RememberBatchId(p->meta.batch_id, {p->meta.accepted, p->meta.rejected, false});
  }
  {
    std::lock_guard lock(seq_mu_);
    last_seq_ = next_seq_ - 1;
  }
  appended_.Notify();
  store_bytes_gauge_->Set(static_cast<double>(wal_bytes_.load() + part_bytes_.load()));
}

void SegmentLogStore::CutBlock() {
  auto seg = CreateSegment(wal_->seq + 1);
  if (!seg.ok()) {
    // The open block keeps growing in the current segment; the next cut retries.
    log::Error("cannot roll the write-ahead log", {{"error", seg.status().message()}});
    return;
  }
  auto block = std::make_shared<MemBlock>();
  block->wal_seq = (*seg)->seq;
  block->first_seq = next_seq_;
  block->wal_bytes = (*seg)->size;
  wal_bytes_ += (*seg)->size;
  {
    std::unique_lock lock(index_mu_);
    sealing_.push_back(std::move(open_));
    open_ = std::move(block);
  }
  wal_ = std::move(*seg);
  ++unsealed_;
  {
    std::unique_lock lock(queue_mu_);
    cut_pending_ = true;
    sealer_cv_.notify_all();
    sealed_cv_.wait(lock, [this] { return unsealed_ <= kMaxUnsealedBlocks || closing_; });
  }
  UpdateGauges();
}

void SegmentLogStore::Fail(Status status) {
  std::lock_guard lock(queue_mu_);
  if (failed_.ok()) failed_ = std::move(status);
}

Status SegmentLogStore::FailedStatus() {
  std::lock_guard lock(queue_mu_);
  return failed_;
}

void SegmentLogStore::SealerLoop() {
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      sealer_cv_.wait(lock, [this] { return cut_pending_ || stop_background_; });
      if (stop_background_) return;  // unsealed blocks stay in the WAL
    }
    std::shared_ptr<const MemBlock> block;
    {
      std::shared_lock lock(index_mu_);
      if (!sealing_.empty()) block = sealing_.front();
    }
    if (!block) {
      std::lock_guard lock(queue_mu_);
      std::shared_lock index_lock(index_mu_);
      if (sealing_.empty()) cut_pending_ = false;
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    Status s = Seal(*block);
    if (s.ok()) {
      seal_seconds_->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      UpdateGauges();
      {
        std::lock_guard lock(queue_mu_);
        --unsealed_;
      }
      sealed_cv_.notify_all();
      continue;
    }
    seal_errors_->Increment();
    log::Error("cannot seal a log block; retrying", {{"error", s.message()}});
    std::unique_lock lock(queue_mu_);
    sealer_cv_.wait_for(lock, kSealRetryDelay, [this] { return stop_background_; });
  }
}

Status SegmentLogStore::Seal(const MemBlock& block) {
  std::lock_guard storage_lock(storage_mu_);
  auto sealed = std::make_shared<SealedBlock>();
  sealed->first_seq = block.first_seq;
  sealed->count = block.count();
  sealed->min_ts = block.min_ts;
  sealed->max_ts = block.max_ts;
  sealed->max_level = block.max_level;
  sealed->wal_seq = block.wal_seq;
  sealed->raw_length = static_cast<uint32_t>(block.data.size());

  std::string compressed;
  if (sealed->count > 0) {
    compressed.resize(ZSTD_compressBound(block.data.size()));
    size_t n = ZSTD_compress(compressed.data(), compressed.size(), block.data.data(),
                             block.data.size(), kZstdLevel);
    if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
    compressed.resize(n);
    sealed->length = static_cast<uint32_t>(n);
    sealed->crc = Crc32(0, compressed);

    std::vector<uint64_t> hashes;
    std::set<std::string_view> services;
    hashes.reserve(block.spans.size() + 16);
    for (const codec::EventSpan& s : block.spans) {
      codec::EventView v;
      if (!codec::DecodeEventView(std::string_view(block.data).substr(s.offset, s.length), &v)) {
        return Status::Internal("undecodable event in a block being sealed");
      }
      if (!v.trace_id.empty()) hashes.push_back(KeyHash('t', v.trace_id));
      if (!v.service.empty()) hashes.push_back(KeyHash('s', v.service));
      if (!v.instance.empty()) hashes.push_back(KeyHash('i', v.instance));
      if (services.size() <= kMaxServicesPerBlock) services.insert(v.service);
    }
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    sealed->bloom = BloomFilter::Build(hashes);
    sealed->services_known = services.size() <= kMaxServicesPerBlock;
    if (sealed->services_known) sealed->services.assign(services.begin(), services.end());

    if (!active_part_ || active_part_->size >= options_.part_bytes) {
      auto part = std::make_shared<DataFile>();
      part->seq = parts_.empty() ? 1 : parts_.rbegin()->first + 1;
      part->path = options_.dir + "/" + PartName(part->seq);
      part->fd = ::open(part->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (part->fd < 0) {
        return Status::Unavailable("cannot create log part '" + part->path +
                                   "': " + ErrnoText(errno));
      }
      HIVE_RETURN_IF_ERROR(FsyncDir(options_.dir));
      parts_[part->seq] = part;
      active_part_ = part;
    }
    sealed->part = active_part_;
    sealed->offset = active_part_->size;
    HIVE_RETURN_IF_ERROR(
        WriteAt(active_part_->fd, sealed->offset, compressed).WithContext(active_part_->path));
    if (::fdatasync(active_part_->fd) != 0) {
      return Status::Unavailable("fdatasync '" + active_part_->path + "': " + ErrnoText(errno));
    }
  }

  {
    Transaction txn(*catalog_);
    HIVE_RETURN_IF_ERROR(txn.begin_status());
    if (sealed->count > 0) {
      std::string services;
      for (const std::string& s : sealed->services) services += s + "\n";
      auto ins = catalog_->Prepare(
          "INSERT INTO blocks(first_seq, count, part, offset, length, raw_length, crc, min_ts, "
          "max_ts, max_level, services, bloom, wal_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
      if (!ins.ok()) return ins.status();
      ins->Bind(1, static_cast<int64_t>(sealed->first_seq))
          .Bind(2, static_cast<int64_t>(sealed->count))
          .Bind(3, static_cast<int64_t>(sealed->part->seq))
          .Bind(4, static_cast<int64_t>(sealed->offset))
          .Bind(5, static_cast<int64_t>(sealed->length))
          .Bind(6, static_cast<int64_t>(sealed->raw_length))
          .Bind(7, static_cast<int64_t>(sealed->crc))
          .Bind(8, sealed->min_ts)
          .Bind(9, sealed->max_ts)
          .Bind(10, static_cast<int64_t>(sealed->max_level))
          .BindBlob(12, sealed->bloom.Serialize())
          .Bind(13, static_cast<int64_t>(sealed->wal_seq));
      if (sealed->services_known) {
        ins->Bind(11, services);
      } else {
        ins->BindNull(11);
      }
      HIVE_RETURN_IF_ERROR(ins->Run());
    }
    if (!block.batch_ids.empty()) {
      auto ins = catalog_->Prepare(
          "INSERT OR IGNORE INTO batch_ids(id, accepted, rejected) VALUES (?,?,?)");
      if (!ins.ok()) return ins.status();
      for (const auto& [id, counts] : block.batch_ids) {
        ins->Reset();
        ins->Bind(1, id)
            .Bind(2, static_cast<int64_t>(counts.accepted))
            .Bind(3, static_cast<int64_t>(counts.rejected));
        HIVE_RETURN_IF_ERROR(ins->Run());
      }
      auto trim = catalog_->Prepare(
          "DELETE FROM batch_ids WHERE rowid <= (SELECT MAX(rowid) FROM batch_ids) - ?");
      if (!trim.ok()) return trim.status();
      HIVE_RETURN_IF_ERROR(trim->Bind(1, static_cast<int64_t>(kBatchIdWindow)).Run());
    }
    auto st = catalog_->Prepare(
        "INSERT INTO state(key, value) VALUES ('sealed_wal_seq', ?), ('next_seq', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!st.ok()) return st.status();
    HIVE_RETURN_IF_ERROR(st->Bind(1, static_cast<int64_t>(block.wal_seq))
                             .Bind(2, static_cast<int64_t>(block.first_seq + block.count()))
                             .Run());
    HIVE_RETURN_IF_ERROR(txn.Commit());
  }
  if (sealed->count > 0) {
    active_part_->size += sealed->length;
    part_bytes_ += sealed->length;
  }
  {
    std::unique_lock lock(index_mu_);
    if (sealed->count > 0) blocks_.push_back(std::move(sealed));
    sealing_.pop_front();
  }
  // Sealed: the WAL segment is no longer needed (Open deletes it if this is cut short).
  ::unlink((options_.dir + "/" + SegmentName(block.wal_seq)).c_str());
  wal_bytes_ -= block.wal_bytes;
  return Status::Ok();
}

void SegmentLogStore::RetentionLoop() {
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      if (sealer_cv_.wait_for(lock, options_.retention_interval,
                              [this] { return stop_background_; })) {
        return;
      }
    }
    if (Status s = EnforceRetention(); !s.ok()) {
      log::Error("log retention failed", {{"error", s.message()}});
    }
  }
}

Status SegmentLogStore::EnforceRetention() {
  std::lock_guard storage_lock(storage_mu_);
  if (!catalog_) return Status::Unavailable("log store is not open");
  // Per part: its newest event.
  std::map<uint64_t, int64_t> part_max_ts;
  {
    std::shared_lock lock(index_mu_);
    for (const auto& b : blocks_) {
      auto [it, inserted] = part_max_ts.emplace(b->part->seq, b->max_ts);
      if (!inserted) it->second = std::max(it->second, b->max_ts);
    }
  }
  const int64_t now = ToUnixNanos(options_.clock->Now());
  const int64_t cutoff = options_.max_age.count() > 0 ? now - options_.max_age.count() : INT64_MIN;
  uint64_t total = 0;
  for (const auto& [seq, part] : parts_) total += part->size;
  std::vector<std::shared_ptr<DataFile>> drop;
  for (const auto& [seq, part] : parts_) {
    auto it = part_max_ts.find(seq);
    const bool expired = it != part_max_ts.end() && it->second < cutoff;
    const bool over = options_.max_bytes > 0 && total > options_.max_bytes;
    if (!expired && !over) continue;
    drop.push_back(part);
    total -= part->size;
  }
  for (const auto& part : drop) {
    auto del = catalog_->Prepare("DELETE FROM blocks WHERE part = ?");
    if (!del.ok()) return del.status();
    HIVE_RETURN_IF_ERROR(del->Bind(1, static_cast<int64_t>(part->seq)).Run());
    {
      std::unique_lock lock(index_mu_);
      std::erase_if(blocks_, [&](const auto& b) { return b->part == part; });
    }
    parts_.erase(part->seq);
    if (active_part_ == part) active_part_.reset();
    ::unlink(part->path.c_str());
    part_bytes_ -= part->size;
    retention_dropped_->Increment(static_cast<double>(part->size));
    log::Info("log retention dropped a part", {{"path", part->path}, {"bytes", part->size}});
  }
  if (!drop.empty()) UpdateGauges();
  return Status::Ok();
}

void SegmentLogStore::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(queue_mu_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  sealed_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(queue_mu_);
    stop_background_ = true;
  }
  sealer_cv_.notify_all();
  if (sealer_.joinable()) sealer_.join();
  if (retention_.joinable()) retention_.join();
  {
    std::lock_guard lock(seq_mu_);
    closed_ = true;
  }
  appended_.Notify();
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

Result<uint64_t> SegmentLogStore::LastSequence() {
  std::lock_guard lock(seq_mu_);
  if (closed_) return Status::Unavailable("log store is closed");
  return last_seq_.load();
}

Subscription SegmentLogStore::SubscribeAppends(Notifier::Listener wake) {
  return appended_.Subscribe(std::move(wake));
}

LogStoreStats SegmentLogStore::Stats() {
  LogStoreStats s;
  std::shared_lock lock(index_mu_);
  for (const auto& b : blocks_) {
    s.events += b->count;
    s.memory_bytes += sizeof(SealedBlock) + b->bloom.MemoryBytes();
  }
  for (const auto& b : sealing_) {
    s.events += b->count();
    s.memory_bytes += b->data.capacity() + b->spans.capacity() * sizeof(codec::EventSpan);
  }
  s.events += open_->count();
  s.memory_bytes += open_->data.capacity() + open_->spans.capacity() * sizeof(codec::EventSpan);
  s.blocks = blocks_.size();
  s.disk_bytes = wal_bytes_.load() + part_bytes_.load();
  return s;
}

Status SegmentLogStore::ScanSealed(const SealedBlock& block, Collector& out) {
  std::string compressed;
  HIVE_RETURN_IF_ERROR(ReadAt(block.part->fd, block.offset, block.length, &compressed)
                           .WithContext(block.part->path));
  if (Crc32(0, compressed) != block.crc) {
    return Status::Internal("log block " + std::to_string(block.first_seq) + " in " +
                            block.part->path + " fails its CRC");
  }
  std::string raw(block.raw_length, '\0');
  size_t n = ZSTD_decompress(raw.data(), raw.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(n) || n != raw.size()) {
    return Status::Internal("log block " + std::to_string(block.first_seq) + " in " +
                            block.part->path + " does not decompress");
  }
  std::vector<codec::EventSpan> spans;
  if (!codec::SplitEvents(raw, &spans) || spans.size() != block.count) {
    return Status::Internal("log block " + std::to_string(block.first_seq) + " is malformed");
  }
  return out.Scan(raw, spans, block.first_seq);
}

Result<LogPage> SegmentLogStore::Search(const LogFilter& filter) {
  PreparedQuery q;
  q.f = &filter;
  if (filter.limit == 0) return LogPage{};
  if (!filter.message_regex.empty()) {
    if (filter.message_regex.size() > kMaxRegexBytes) {
      return Status::InvalidArgument("the regex is longer than " + std::to_string(kMaxRegexBytes) +
                                     " characters");
    }
    Result<std::unique_ptr<RE2>> regex = CompileUserRegex(filter.message_regex);
    if (!regex.ok()) return regex.status();
    q.regex = std::move(*regex);
  }
  if (!filter.cursor.empty() && !filter.after_seq) {
    auto c = DecodeCursor(filter.cursor, filter.newest_first);
    if (!c.ok()) return c.status();
    q.cursor = *c;
  }
  if (!filter.trace_id.empty()) q.trace_hash = KeyHash('t', filter.trace_id);
  if (!filter.service.empty()) q.service_hash = KeyHash('s', filter.service);
  if (!filter.instance.empty()) q.instance_hash = KeyHash('i', filter.instance);

  Collector out(q);
  std::vector<std::shared_ptr<const SealedBlock>> sealed;
  std::vector<std::shared_ptr<const MemBlock>> cut;
  MemBlock open_copy;
  uint64_t visible_last;
  {
    std::shared_lock lock(index_mu_);
    sealed = blocks_;
    cut.assign(sealing_.begin(), sealing_.end());
    visible_last = open_->first_seq + open_->count() - 1;
    // The open block changes under the writer: scan a copy, taken only when
    // it may match.
    if (q.BlockMayMatch(Summary(*open_))) {
      open_copy.first_seq = open_->first_seq;
      open_copy.data = open_->data;
      open_copy.spans = open_->spans;
      open_copy.min_ts = open_->min_ts;
      open_copy.max_ts = open_->max_ts;
      open_copy.max_level = open_->max_level;
    }
  }
  // Answer order of ingest: newest (and tails) from the open block back, or
  // oldest first from the first sealed block.
  const bool forward = !filter.newest_first || filter.after_seq.has_value();
  auto visit_mem = [&](const MemBlock& b) -> Status {
    if (!out.Wants(Summary(b))) return Status::Ok();
    return out.Scan(b.data, b.spans, b.first_seq);
  };
  auto visit_sealed = [&](const SealedBlock& b) -> Status {
    if (!out.Wants(Summary(b))) return Status::Ok();
    return ScanSealed(b, out);
  };
  if (forward) {
    for (const auto& b : sealed) HIVE_RETURN_IF_ERROR(visit_sealed(*b));
    for (const auto& b : cut) HIVE_RETURN_IF_ERROR(visit_mem(*b));
    HIVE_RETURN_IF_ERROR(visit_mem(open_copy));
  } else {
    HIVE_RETURN_IF_ERROR(visit_mem(open_copy));
    for (auto it = cut.rbegin(); it != cut.rend(); ++it) HIVE_RETURN_IF_ERROR(visit_mem(**it));
    for (auto it = sealed.rbegin(); it != sealed.rend(); ++it)
      HIVE_RETURN_IF_ERROR(visit_sealed(**it));
  }
  return out.Finish(visible_last);
}

}  // namespace

Result<std::unique_ptr<LogStore>> OpenSegmentLogStore(SegmentLogStoreOptions options) {
  auto store = std::make_unique<SegmentLogStore>(std::move(options));
  HIVE_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<LogStore>(std::move(store));
}

}  // namespace hive::collector
