#include "hive/collector/segment_log_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "event_codec.h"
#include "hive/core/log.h"

namespace hive::collector {
namespace {

constexpr char kMagic[8] = {'H', 'I', 'V', 'E', 'L', 'O', 'G', '1'};
constexpr size_t kFileHeaderBytes = sizeof kMagic;
constexpr size_t kRecordHeaderBytes = 8;  // u32 length + u32 crc
constexpr size_t kMaxPayloadBytes = 512u << 20;
constexpr uint64_t kMinSegmentBytes = 4u << 10;
constexpr uint64_t kMaxSegmentBytes = 1u << 30;  // event offsets are u32
constexpr size_t kMaxIovecs = 1024;

std::string ErrnoText(int err) { return std::strerror(err); }

std::string SegmentName(uint64_t seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "segment-%016llu.log", static_cast<unsigned long long>(seq));
  return buf;
}

// The sequence number of a segment file name; false for other files.
bool ParseSegmentName(std::string_view name, uint64_t* seq) {
  constexpr std::string_view kPrefix = "segment-", kSuffix = ".log";
  if (name.size() != kPrefix.size() + 16 + kSuffix.size() ||
      name.substr(0, kPrefix.size()) != kPrefix ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return false;
  }
  *seq = 0;
  for (char c : name.substr(kPrefix.size(), 16)) {
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

// CRC-32 of the 4 length bytes followed by the payload, so a corrupted length
// is caught too.
uint32_t RecordCrc(const char* length_bytes, std::string_view payload) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(length_bytes), 4);
  crc =
      crc32(crc, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()));
  return static_cast<uint32_t>(crc);
}

Status ReadAt(int fd, uint64_t offset, size_t length, std::string* out) {
  out->resize(length);
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable("read from a log segment failed: " + ErrnoText(errno));
    if (n == 0) return Status::Internal("log segment is shorter than its index says");
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

bool Matches(const codec::EventView& v, const LogFilter& f) {
  if (v.level < f.min_level) return false;
  if (f.since_ns && v.ts_ns < *f.since_ns) return false;
  if (f.until_ns && v.ts_ns >= *f.until_ns) return false;
  if (!f.trace_id.empty() && v.trace_id != f.trace_id) return false;
  if (!f.service.empty() && v.service != f.service) return false;
  if (!f.instance.empty() && v.instance != f.instance) return false;
  if (!f.message_contains.empty() && !ContainsIgnoreCase(v.message, f.message_contains))
    return false;
  return true;
}

struct SegmentFile {
  uint64_t seq = 0;
  std::string path;
  int fd = -1;
  uint64_t size = 0;  // bytes of valid data; the writer thread's after Open

  ~SegmentFile() {
    if (fd >= 0) ::close(fd);
  }
};

// One stored batch record.
struct BatchInfo {
  uint32_t segment = 0;  // index into segments_
  uint32_t length = 0;   // payload bytes
  uint64_t offset = 0;   // payload offset in the segment file
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  LogLevel max_level = LogLevel::kTrace;
};

// Where one event body with a trace id lives.
struct EventLoc {
  uint32_t segment = 0;
  uint32_t offset = 0;  // in the segment file
  uint32_t length = 0;
};

// What the indexes need from a batch, gathered from a LogBatch on Append or
// from a decoded record on Open.
struct BatchMeta {
  std::string batch_id;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
  LogLevel max_level = LogLevel::kTrace;
  std::vector<std::pair<std::string, codec::EventSpan>> traced;  // span offsets within the payload

  void Add(int64_t ts, LogLevel level, std::string_view trace_id, codec::EventSpan span) {
    min_ts = std::min(min_ts, ts);
    max_ts = std::max(max_ts, ts);
    max_level = std::max(max_level, level);
    if (!trace_id.empty()) traced.emplace_back(std::string(trace_id), span);
  }
};

// A batch waiting for the writer.
struct Pending {
  BatchMeta meta;
  std::string payload;
  char header[kRecordHeaderBytes];
  Pending* duplicate_of = nullptr;
  // Set by the writer; read by the caller once `done`.
  bool done = false;
  Status status;
  AppendResult result;
};

class SegmentLogStore final : public LogStore {
 public:
  explicit SegmentLogStore(SegmentLogStoreOptions options) : options_(std::move(options)) {}
  ~SegmentLogStore() override { Close(); }

  Status Open();
  Result<AppendResult> Append(LogBatch batch) override;
  Result<std::vector<LogEvent>> Query(const LogFilter& filter) override;
  void Close() override;

 private:
  struct Candidate {
    int64_t ts;
    uint64_t seq;  // ingest order: segment index << 32 | offset
    LogEvent event;
  };

  Status RegisterMetrics();
  Status ScanSegment(const std::shared_ptr<SegmentFile>& seg, uint32_t index, bool last);
  Status CreateSegment(uint64_t seq);
  void Publish(uint32_t segment, uint64_t payload_offset, uint32_t payload_length, BatchMeta& meta);
  void RememberBatchId(const std::string& id, AppendResult counts);

  void WriterLoop();
  void WriteGroup(const std::vector<Pending*>& group);
  void CommitRun(const std::vector<Pending*>& run);
  void Fail(Status status);
  Status FailedStatus();

  Result<std::vector<LogEvent>> QueryTrace(const LogFilter& filter);
  Result<std::vector<LogEvent>> ScanBatches(const LogFilter& filter);

  const SegmentLogStoreOptions options_;
  int lock_fd_ = -1;

  // Indexes, read by queries and extended by the writer after each fsync.
  std::shared_mutex index_mu_;
  std::vector<std::shared_ptr<SegmentFile>> segments_;               // GUARDED_BY(index_mu_)
  std::vector<BatchInfo> batches_;                                   // GUARDED_BY(index_mu_)
  std::unordered_map<std::string, std::vector<EventLoc>> by_trace_;  // GUARDED_BY(index_mu_)

  // Batch-id window: Open, then the writer thread only.
  std::unordered_map<std::string, AppendResult> batch_ids_;
  std::deque<std::string> batch_id_order_;
  uint64_t store_bytes_ = 0;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // wakes the writer
  std::condition_variable done_cv_;   // wakes appenders
  std::deque<Pending*> queue_;        // GUARDED_BY(queue_mu_)
  bool closing_ = false;              // GUARDED_BY(queue_mu_)
  Status failed_;                     // GUARDED_BY(queue_mu_); non-OK after an fsync failure

  std::mutex close_mu_;
  std::thread writer_;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* fsync_seconds_ = nullptr;
  prometheus::Gauge* store_bytes_gauge_ = nullptr;
  prometheus::Gauge* segments_gauge_ = nullptr;
  prometheus::Gauge* queue_gauge_ = nullptr;
};

Status SegmentLogStore::RegisterMetrics() {
  registry_ = options_.metrics ? options_.metrics : std::make_shared<prometheus::Registry>();
  try {
    fsync_seconds_ =
        &prometheus::BuildHistogram()
             .Name("hive_collector_fsync_seconds")
             .Help("Time of one group-commit fdatasync of the log store")
             .Register(*registry_)
             .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                              0.025, 0.05, 0.1, 0.25, 0.5, 1});
    store_bytes_gauge_ = &prometheus::BuildGauge()
                              .Name("hive_collector_store_bytes")
                              .Help("Bytes in the collector's log segment files")
                              .Register(*registry_)
                              .Add({});
    segments_gauge_ = &prometheus::BuildGauge()
                           .Name("hive_collector_segments")
                           .Help("Log segment files")
                           .Register(*registry_)
                           .Add({});
    queue_gauge_ = &prometheus::BuildGauge()
                        .Name("hive_collector_write_queue_batches")
                        .Help("Ingest batches waiting for the log writer")
                        .Register(*registry_)
                        .Add({});
  } catch (const std::exception& e) {
    return Status::Internal(std::string("registering collector store metrics: ") + e.what());
  }
  return Status::Ok();
}

Status SegmentLogStore::Open() {
  if (options_.dir.empty()) return Status::InvalidArgument("log store directory is empty");
  if (options_.segment_bytes < kMinSegmentBytes || options_.segment_bytes > kMaxSegmentBytes) {
    return Status::InvalidArgument("segment_bytes must be between 4 KiB and 1 GiB");
  }
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

  std::vector<uint64_t> seqs;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return Status::FailedPrecondition("cannot list '" + dir + "': " + ErrnoText(errno));
  while (dirent* entry = ::readdir(d)) {
    uint64_t seq;
    if (ParseSegmentName(entry->d_name, &seq)) seqs.push_back(seq);
  }
  ::closedir(d);
  std::sort(seqs.begin(), seqs.end());

  for (size_t i = 0; i < seqs.size(); ++i) {
    auto seg = std::make_shared<SegmentFile>();
    seg->seq = seqs[i];
    seg->path = dir + "/" + SegmentName(seqs[i]);
    seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CLOEXEC);
    if (seg->fd < 0) {
      return Status::FailedPrecondition("cannot open log segment '" + seg->path +
                                        "': " + ErrnoText(errno));
    }
    segments_.push_back(seg);
    HIVE_RETURN_IF_ERROR(ScanSegment(seg, static_cast<uint32_t>(i), i + 1 == seqs.size()));
  }
  if (segments_.empty()) HIVE_RETURN_IF_ERROR(CreateSegment(1));
  segments_gauge_->Set(static_cast<double>(segments_.size()));
  store_bytes_gauge_->Set(static_cast<double>(store_bytes_));
  log::Info("log store opened", {{"dir", dir},
                                 {"segments", segments_.size()},
                                 {"batches", batches_.size()},
                                 {"traces", by_trace_.size()},
                                 {"bytes", store_bytes_}});
  writer_ = std::thread([this] { WriterLoop(); });
  return Status::Ok();
}

Status SegmentLogStore::ScanSegment(const std::shared_ptr<SegmentFile>& seg, uint32_t index,
                                    bool last) {
  struct stat st;
  if (::fstat(seg->fd, &st) != 0) {
    return Status::FailedPrecondition("stat '" + seg->path + "': " + ErrnoText(errno));
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  std::string data;
  if (file_size > 0)
    HIVE_RETURN_IF_ERROR(ReadAt(seg->fd, 0, file_size, &data).WithContext(seg->path));

  if (file_size < kFileHeaderBytes) {
    // Only a crash right after creating the file leaves a short header.
    if (!last) {
      log::Error("log segment has no header; skipped", {{"path", seg->path}});
      seg->size = file_size;
      store_bytes_ += file_size;
      return Status::Ok();
    }
    if (::ftruncate(seg->fd, 0) != 0 ||
        ::pwrite(seg->fd, kMagic, kFileHeaderBytes, 0) != kFileHeaderBytes ||
        ::fdatasync(seg->fd) != 0) {
      return Status::FailedPrecondition("cannot repair '" + seg->path + "': " + ErrnoText(errno));
    }
    seg->size = kFileHeaderBytes;
    store_bytes_ += seg->size;
    return Status::Ok();
  }
  if (std::memcmp(data.data(), kMagic, kFileHeaderBytes) != 0) {
    return Status::FailedPrecondition("'" + seg->path + "' is not a hive log segment (bad magic)");
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
      meta.Add(v.ts_ns, v.level, v.trace_id, span);
    }
    if (!bad.empty()) break;
    Publish(index, pos + kRecordHeaderBytes, length, meta);
    pos += kRecordHeaderBytes + length;
  }

  if (bad.empty()) {
    seg->size = file_size;
  } else if (last) {
    log::Warn("truncating a torn or corrupt tail of the last log segment",
              {{"path", seg->path},
               {"offset", pos},
               {"bytes_dropped", file_size - pos},
               {"reason", bad}});
    if (::ftruncate(seg->fd, static_cast<off_t>(pos)) != 0 || ::fdatasync(seg->fd) != 0) {
      return Status::FailedPrecondition("cannot truncate '" + seg->path + "': " + ErrnoText(errno));
    }
    seg->size = pos;
  } else {
    log::Error("corrupt record in a sealed log segment; the rest of it is skipped",
               {{"path", seg->path},
                {"offset", pos},
                {"bytes_skipped", file_size - pos},
                {"reason", bad}});
    seg->size = file_size;
  }
  store_bytes_ += seg->size;
  return Status::Ok();
}

Status SegmentLogStore::CreateSegment(uint64_t seq) {
  auto seg = std::make_shared<SegmentFile>();
  seg->seq = seq;
  seg->path = options_.dir + "/" + SegmentName(seq);
  seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (seg->fd < 0) {
    return Status::FailedPrecondition("cannot create log segment '" + seg->path +
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
  store_bytes_ += seg->size;
  size_t count;
  {
    std::unique_lock lock(index_mu_);
    segments_.push_back(std::move(seg));
    count = segments_.size();
  }
  segments_gauge_->Set(static_cast<double>(count));
  store_bytes_gauge_->Set(static_cast<double>(store_bytes_));
  return Status::Ok();
}

void SegmentLogStore::Publish(uint32_t segment, uint64_t payload_offset, uint32_t payload_length,
                              BatchMeta& meta) {
  {
    std::unique_lock lock(index_mu_);
    batches_.push_back(
        {segment, payload_length, payload_offset, meta.min_ts, meta.max_ts, meta.max_level});
    for (auto& [trace_id, span] : meta.traced) {
      by_trace_[std::move(trace_id)].push_back(
          {segment, static_cast<uint32_t>(payload_offset + span.offset), span.length});
    }
  }
  if (!meta.batch_id.empty()) RememberBatchId(meta.batch_id, {meta.accepted, meta.rejected, false});
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
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const LogEvent& e = batch.events[i];
    p.meta.Add(e.ts_ns, e.level, e.trace_id, enc.spans[i]);
  }
  p.payload = std::move(enc.payload);
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
  Status roll_error;
  for (Pending* p : group) {
    if (!roll_error.ok()) {
      p->status = roll_error;
      continue;
    }
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
    const uint64_t record_bytes = kRecordHeaderBytes + p->payload.size();
    const SegmentFile& active = *segments_.back();
    if (active.size + run_bytes > kFileHeaderBytes &&
        active.size + run_bytes + record_bytes > options_.segment_bytes) {
      CommitRun(run);
      run.clear();
      run_bytes = 0;
      roll_error = FailedStatus();
      if (roll_error.ok()) roll_error = CreateSegment(segments_.back()->seq + 1);
      if (!roll_error.ok()) {
        log::Error("cannot roll the log segment", {{"error", roll_error.message()}});
        p->status = roll_error;
        continue;
      }
    }
    run.push_back(p);
    run_bytes += record_bytes;
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
  // segments_ only grows on this thread, so reading it here needs no lock.
  const std::shared_ptr<SegmentFile> seg = segments_.back();
  const auto seg_index = static_cast<uint32_t>(segments_.size() - 1);
  const uint64_t base = seg->size;

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
    ssize_t n = ::pwritev(seg->fd, &iov[first], n_iov, static_cast<off_t>(base + written));
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
    log::Error("log write failed", {{"path", seg->path}, {"error", s.message()}});
    if (::ftruncate(seg->fd, static_cast<off_t>(base)) != 0) {
      Fail(Status::Unavailable("log store failed: cannot undo a partial write: " +
                               ErrnoText(errno)));
    }
    for (Pending* p : run) p->status = s;
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  int rc = ::fdatasync(seg->fd);
  int sync_errno = errno;
  fsync_seconds_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (rc != 0) {
    // After a failed fdatasync the kernel may have dropped the dirty pages;
    // nothing written since the last good sync can be trusted any more.
    Status s = Status::Unavailable("log store failed: fdatasync: " + ErrnoText(sync_errno));
    log::Error("log fdatasync failed; refusing further writes",
               {{"path", seg->path}, {"error", s.message()}});
    Fail(s);
    for (Pending* p : run) p->status = s;
    return;
  }
  seg->size = base + total;
  store_bytes_ += total;
  store_bytes_gauge_->Set(static_cast<double>(store_bytes_));
  uint64_t offset = base;
  for (Pending* p : run) {
    Publish(seg_index, offset + kRecordHeaderBytes, static_cast<uint32_t>(p->payload.size()),
            p->meta);
    offset += kRecordHeaderBytes + p->payload.size();
    p->result = {p->meta.accepted, p->meta.rejected, false};
  }
}

void SegmentLogStore::Fail(Status status) {
  std::lock_guard lock(queue_mu_);
  if (failed_.ok()) failed_ = std::move(status);
}

Status SegmentLogStore::FailedStatus() {
  std::lock_guard lock(queue_mu_);
  return failed_;
}

void SegmentLogStore::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(queue_mu_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

Result<std::vector<LogEvent>> SegmentLogStore::Query(const LogFilter& filter) {
  if (filter.limit == 0) return std::vector<LogEvent>{};
  return filter.trace_id.empty() ? ScanBatches(filter) : QueryTrace(filter);
}

Result<std::vector<LogEvent>> SegmentLogStore::QueryTrace(const LogFilter& filter) {
  std::vector<EventLoc> locs;
  std::vector<std::shared_ptr<SegmentFile>> segments;
  {
    std::shared_lock lock(index_mu_);
    auto it = by_trace_.find(filter.trace_id);
    if (it == by_trace_.end()) return std::vector<LogEvent>{};
    locs = it->second;
    segments = segments_;
  }
  std::vector<Candidate> found;
  std::string buf;
  for (const EventLoc& loc : locs) {
    HIVE_RETURN_IF_ERROR(ReadAt(segments[loc.segment]->fd, loc.offset, loc.length, &buf));
    codec::EventView v;
    if (!codec::DecodeEventView(buf, &v))
      return Status::Internal("undecodable event in " + segments[loc.segment]->path);
    if (!Matches(v, filter)) continue;
    Candidate c{v.ts_ns, (static_cast<uint64_t>(loc.segment) << 32) | loc.offset, {}};
    if (!codec::Materialize(v, &c.event)) return Status::Internal("undecodable event attributes");
    found.push_back(std::move(c));
  }
  const bool newest = filter.newest_first;
  std::sort(found.begin(), found.end(), [newest](const Candidate& a, const Candidate& b) {
    if (a.ts != b.ts) return newest ? a.ts > b.ts : a.ts < b.ts;
    return newest ? a.seq > b.seq : a.seq < b.seq;
  });
  if (found.size() > filter.limit) found.resize(filter.limit);
  std::vector<LogEvent> out;
  out.reserve(found.size());
  for (Candidate& c : found) out.push_back(std::move(c.event));
  return out;
}

Result<std::vector<LogEvent>> SegmentLogStore::ScanBatches(const LogFilter& filter) {
  const bool newest = filter.newest_first;
  // `better(a, b)`: a comes before b in the answer. The heap keeps the worst
  // of the best `limit` candidates at its front.
  auto better = [newest](const Candidate& a, const Candidate& b) {
    if (a.ts != b.ts) return newest ? a.ts > b.ts : a.ts < b.ts;
    return newest ? a.seq > b.seq : a.seq < b.seq;
  };
  std::vector<Candidate> heap;
  size_t n;
  {
    std::shared_lock lock(index_mu_);
    n = batches_.size();
  }
  std::string payload;
  std::vector<codec::EventSpan> spans;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = newest ? n - 1 - k : k;
    BatchInfo info;
    std::shared_ptr<SegmentFile> seg;
    {
      std::shared_lock lock(index_mu_);
      info = batches_[i];
      seg = segments_[info.segment];
    }
    if (info.max_level < filter.min_level) continue;
    if (filter.since_ns && info.max_ts < *filter.since_ns) continue;
    if (filter.until_ns && info.min_ts >= *filter.until_ns) continue;
    // Batches are visited in ingest order, so every candidate already held
    // is later (earlier) in ingest order than this batch's events: a tie in
    // ts cannot displace it.
    if (heap.size() == filter.limit) {
      int64_t worst = heap.front().ts;
      if (newest ? info.max_ts <= worst : info.min_ts >= worst) continue;
    }
    HIVE_RETURN_IF_ERROR(ReadAt(seg->fd, info.offset, info.length, &payload));
    codec::BatchHeader header;
    if (!codec::DecodeBatch(payload, &header, &spans))
      return Status::Internal("undecodable record in " + seg->path);
    for (const codec::EventSpan& span : spans) {
      codec::EventView v;
      if (!codec::DecodeEventView(std::string_view(payload).substr(span.offset, span.length), &v)) {
        return Status::Internal("undecodable event in " + seg->path);
      }
      if (!Matches(v, filter)) continue;
      Candidate c{
          v.ts_ns, (static_cast<uint64_t>(info.segment) << 32) | (info.offset + span.offset), {}};
      if (heap.size() == filter.limit) {
        if (!better(c, heap.front())) continue;
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.pop_back();
      }
      if (!codec::Materialize(v, &c.event)) return Status::Internal("undecodable event attributes");
      heap.push_back(std::move(c));
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  std::sort(heap.begin(), heap.end(), better);
  std::vector<LogEvent> out;
  out.reserve(heap.size());
  for (Candidate& c : heap) out.push_back(std::move(c.event));
  return out;
}

}  // namespace

Result<std::unique_ptr<LogStore>> OpenSegmentLogStore(SegmentLogStoreOptions options) {
  auto store = std::make_unique<SegmentLogStore>(std::move(options));
  HIVE_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<LogStore>(std::move(store));
}

}  // namespace hive::collector
