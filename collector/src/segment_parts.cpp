// Sealed blocks: the sealer compresses each cut block into the active part
// file, catalogues it and deletes its WAL segment; open reads the catalog
// back; retention drops whole parts (segment_store.h).
#include <fcntl.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <sys/stat.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "hive/core/log.h"
#include "hive/core/text.h"
#include "segment_store.h"

namespace hive::collector::segment {

// Opens a catalogued part, cuts what follows its last catalogued block and
// publishes its blocks.
Status SegmentLogStore::OpenPart(uint64_t seq, std::vector<std::shared_ptr<SealedBlock>>& blocks) {
  const std::string path = options_.dir + "/" + PartName(seq);
  auto part = std::make_shared<DataFile>(env_);
  part->seq = seq;
  part->path = path;
  part->fd = env_.Open(path, O_RDWR | O_CLOEXEC);
  if (part->fd < 0)
    return Status::FailedPrecondition("cannot open log part '" + path + "': " + ErrnoText(errno));
  struct stat st;
  if (::fstat(part->fd, &st) != 0)
    return Status::FailedPrecondition("stat '" + path + "': " + ErrnoText(errno));
  uint64_t end = 0;
  for (const auto& b : blocks) end = std::max(end, b->offset + b->length);
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
    if (env_.Ftruncate(part->fd, static_cast<off_t>(end)) != 0 || env_.Fdatasync(part->fd) != 0)
      return Status::FailedPrecondition("cannot truncate '" + path + "': " + ErrnoText(errno));
  }
  part->size = end;
  part_bytes_ += end;
  for (auto& b : blocks) {
    b->part = part;
    blocks_.push_back(std::move(b));
  }
  parts_[seq] = part;
  return Status::Ok();
}

// The batch-id window, oldest first.
Status SegmentLogStore::LoadBatchIds() {
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
      env_.Unlink(path);
      continue;
    }
    HIVE_RETURN_IF_ERROR(OpenPart(seq, it->second));
  }
  std::sort(blocks_.begin(), blocks_.end(),
            [](const auto& a, const auto& b) { return a->first_seq < b->first_seq; });
  if (!parts_.empty()) active_part_ = parts_.rbegin()->second;

  return LoadBatchIds();
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

// Writes a sealed block's compressed bytes at the end of the active part
// (a new part when there is none or it is full) and fdatasync()s it.
Status SegmentLogStore::WriteToPart(SealedBlock& sealed, std::string_view compressed) {
  if (!active_part_ || active_part_->size >= options_.part_bytes) {
    auto part = std::make_shared<DataFile>(env_);
    part->seq = parts_.empty() ? 1 : parts_.rbegin()->first + 1;
    part->path = options_.dir + "/" + PartName(part->seq);
    part->fd = env_.Open(part->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (part->fd < 0) {
      return Status::Unavailable("cannot create log part '" + part->path +
                                 "': " + ErrnoText(errno));
    }
    HIVE_RETURN_IF_ERROR(SyncDir(env_, options_.dir));
    parts_[part->seq] = part;
    active_part_ = part;
  }
  sealed.part = active_part_;
  sealed.offset = active_part_->size;
  HIVE_RETURN_IF_ERROR(WriteFully(env_, active_part_->fd, sealed.offset, compressed)
                           .WithContext(active_part_->path));
  if (env_.Fdatasync(active_part_->fd) != 0) {
    return Status::Unavailable("fdatasync '" + active_part_->path + "': " + ErrnoText(errno));
  }
  return Status::Ok();
}

// One catalog transaction: the block's row, its batch ids (the window
// trimmed) and how far the WAL is sealed.
Status SegmentLogStore::Catalogue(const SealedBlock& sealed, const MemBlock& block) {
  Transaction txn(*catalog_);
  HIVE_RETURN_IF_ERROR(txn.begin_status());
  if (sealed.count > 0) {
    std::string services;
    for (const std::string& s : sealed.services) services += s + "\n";
    auto ins = catalog_->Prepare(
        "INSERT INTO blocks(first_seq, count, part, offset, length, raw_length, crc, min_ts, "
        "max_ts, max_level, services, bloom, wal_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!ins.ok()) return ins.status();
    ins->Bind(1, static_cast<int64_t>(sealed.first_seq))
        .Bind(2, static_cast<int64_t>(sealed.count))
        .Bind(3, static_cast<int64_t>(sealed.part->seq))
        .Bind(4, static_cast<int64_t>(sealed.offset))
        .Bind(5, static_cast<int64_t>(sealed.length))
        .Bind(6, static_cast<int64_t>(sealed.raw_length))
        .Bind(7, static_cast<int64_t>(sealed.crc))
        .Bind(8, sealed.min_ts)
        .Bind(9, sealed.max_ts)
        .Bind(10, static_cast<int64_t>(sealed.max_level))
        .BindBlob(12, sealed.bloom.Serialize())
        .Bind(13, static_cast<int64_t>(sealed.wal_seq));
    if (sealed.services_known) {
      ins->Bind(11, services);
    } else {
      ins->BindNull(11);
    }
    HIVE_RETURN_IF_ERROR(ins->Run());
  }
  if (!block.batch_ids.empty()) {
    auto ins =
        catalog_->Prepare("INSERT OR IGNORE INTO batch_ids(id, accepted, rejected) VALUES (?,?,?)");
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
  return txn.Commit();
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

    HIVE_RETURN_IF_ERROR(WriteToPart(*sealed, compressed));
  }

  HIVE_RETURN_IF_ERROR(Catalogue(*sealed, block));
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
  env_.Unlink(options_.dir + "/" + SegmentName(block.wal_seq));
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
    env_.Unlink(part->path);
    part_bytes_ -= part->size;
    retention_dropped_->Increment(static_cast<double>(part->size));
    log::Info("log retention dropped a part", {{"path", part->path}, {"bytes", part->size}});
  }
  if (!drop.empty()) UpdateGauges();
  return Status::Ok();
}

}  // namespace hive::collector::segment
