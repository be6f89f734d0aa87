// The write-ahead log: appends queue for the writer thread, which writes a
// group with pwritev, fdatasync()s once and only then answers; replay at open;
// cutting the open block when it is full (segment_store.h).
#include <fcntl.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hive/core/log.h"
#include "segment_store.h"

namespace hive::collector::segment {

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
      env_.Unlink(path);  // sealed; its deletion was cut short
    } else {
      live.push_back(seq);
    }
  }
  for (size_t i = 0; i < live.size(); ++i) {
    auto seg = std::make_shared<DataFile>(env_);
    seg->seq = live[i];
    seg->path = options_.dir + "/" + SegmentName(live[i]);
    seg->fd = env_.Open(seg->path, O_RDWR | O_CLOEXEC);
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
    HIVE_RETURN_IF_ERROR(ReadFully(env_, seg.fd, 0, file_size, &data).WithContext(seg.path));

  if (file_size < kFileHeaderBytes) {
    // Only a crash right after creating the file leaves a short header.
    if (env_.Ftruncate(seg.fd, 0) != 0 ||
        env_.Pwrite(seg.fd, kMagic, kFileHeaderBytes, 0) != kFileHeaderBytes ||
        env_.Fdatasync(seg.fd) != 0) {
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
    if (env_.Ftruncate(seg.fd, static_cast<off_t>(pos)) != 0 || env_.Fdatasync(seg.fd) != 0) {
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
  auto seg = std::make_shared<DataFile>(env_);
  seg->seq = seq;
  seg->path = options_.dir + "/" + SegmentName(seq);
  seg->fd = env_.Open(seg->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (seg->fd < 0) {
    return Status::Unavailable("cannot create log segment '" + seg->path +
                               "': " + ErrnoText(errno));
  }
  if (env_.Pwrite(seg->fd, kMagic, kFileHeaderBytes, 0) != kFileHeaderBytes ||
      env_.Fdatasync(seg->fd) != 0) {
    Status s =
        Status::Unavailable("cannot write log segment '" + seg->path + "': " + ErrnoText(errno));
    env_.Unlink(seg->path);
    return s;
  }
  HIVE_RETURN_IF_ERROR(SyncDir(env_, options_.dir));
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
    ssize_t n = env_.Pwritev(seg.fd, &iov[first], n_iov, static_cast<off_t>(base + written));
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
    if (env_.Ftruncate(seg.fd, static_cast<off_t>(base)) != 0) {
      Fail(Status::Unavailable("log store failed: cannot undo a partial write: " +
                               ErrnoText(errno)));
    }
    for (Pending* p : run) p->status = s;
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  int rc = env_.Fdatasync(seg.fd);
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

}  // namespace hive::collector::segment
