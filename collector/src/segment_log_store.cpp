#include "hive/collector/segment_log_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <sys/file.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "hive/core/log.h"
#include "hive/core/text.h"
#include "segment_store.h"

namespace hive::collector {
namespace segment {
namespace {

std::string SeqName(std::string_view prefix, uint64_t seq, std::string_view suffix) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llu", static_cast<unsigned long long>(seq));
  return std::string(prefix) + buf + std::string(suffix);
}
}  // namespace

std::string SegmentName(uint64_t seq) { return SeqName("segment-", seq, ".log"); }
std::string PartName(uint64_t seq) { return SeqName("blocks-", seq, ".dat"); }

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

uint32_t RecordCrc(const char* length_bytes, std::string_view payload) {
  return Crc32(Crc32(0, std::string_view(length_bytes, 4)), payload);
}

uint64_t KeyHash(char kind, std::string_view value) {
  std::string key;
  key.reserve(value.size() + 2);
  key += kind;
  key += '\0';
  key += value;
  return StableHash64(key);
}

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
    failed_gauge_ =
        gauge("hive_collector_store_failed",
              "1 once a disk failure stopped the log store's writes (restart to recover)");
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
  lock_fd_ = env_.Open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
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

void SegmentLogStore::Fail(Status status) {
  std::lock_guard lock(queue_mu_);
  if (!failed_.ok()) return;
  failed_ = std::move(status);
  failed_gauge_->Set(1);
}

Status SegmentLogStore::FailedStatus() {
  std::lock_guard lock(queue_mu_);
  return failed_;
}

Status SegmentLogStore::Health() { return FailedStatus(); }

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
    env_.Close(lock_fd_);
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

}  // namespace segment

Result<std::unique_ptr<LogStore>> OpenSegmentLogStore(SegmentLogStoreOptions options) {
  auto store = std::make_unique<segment::SegmentLogStore>(std::move(options));
  HIVE_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<LogStore>(std::move(store));
}

}  // namespace hive::collector
