// SegmentLogStore: the embedded LogStore, built the way Loki and VictoriaLogs
// build theirs: a write-ahead log for durability, then append-only
// zstd-compressed blocks with per-block metadata and bloom filters, listed in
// a small SQLite catalog.
//
// On disk, under `dir`:
//   LOCK                          flock()ed while open: one process per directory
//   segment-<16-digit seq>.log    write-ahead log: 8-byte magic "HIVELOG1", then
//     u32 LE payload length | u32 LE CRC-32 (zlib) of length bytes + payload | payload
//     one record per ingested batch (event_codec.h in src/: batch id, counts,
//     events). One WAL segment holds exactly the events of one block.
//   blocks-<16-digit seq>.dat     sealed blocks, back to back: each the zstd
//     frame of its events (the same event encoding); parts roll at part_bytes.
//   catalog.db                    SQLite (synchronous=FULL): one row per block
//     (part, offset, length, CRC-32, first sequence number, count, time
//     range, highest level, services, bloom filter of its trace ids,
//     services and instances), the last kBatchIdWindow batch ids, and the
//     highest sealed WAL segment.
//
// Writes: Append() encodes on the caller's thread and queues; one writer
// thread takes everything queued, writes it with pwritev, fdatasync()s once
// (group commit), appends the events to the open block in memory and only
// then wakes the callers: a 2xx means on disk. When the open block reaches
// block_bytes it is cut, the WAL rolls to a new segment, and the sealer
// thread compresses the cut block, writes it to the active part,
// fdatasync()s, commits its catalog row and deletes its WAL segment.
// Compression is thus off the acknowledgement path.
//
// A failed WAL write that cannot be undone, or a failed fdatasync (after
// which the kernel may have dropped the dirty pages), fails the store: every
// later Append answers Unavailable with the cause, Health() returns it and
// hive_collector_store_failed is 1, until the process is restarted and the
// WAL replayed. Queries keep working. A failed seal is retried, and counted.
//
// Crash safety (kill -9 at any moment): at Open, part files are truncated to
// the end of their last catalogued block (a block written but not
// catalogued is dropped, its WAL segment still exists); parts without a
// catalogued block and WAL segments already sealed are deleted; the
// remaining WAL segments are replayed, each into a block, and a torn or
// corrupt tail of the last one is truncated (and logged). A bad record in an
// earlier segment is logged and the rest of that segment skipped.
//
// Retention: a thread drops whole parts, oldest first, whose blocks are all
// older than max_age, and while the parts exceed max_bytes (the active part
// included). Every `retention_interval`, and on EnforceRetention().
//
// Memory: no per-event index. Per sealed block ~200 bytes plus its bloom
// filter (15 bits per distinct trace id, service and instance); the open
// block and the cut blocks waiting for the sealer (each <= segment_bytes +
// one group; when 8 wait, the writer waits for the sealer, which slows
// acknowledgements instead of growing memory); the batch-id window (~100 B
// per id). At 10 M events (~400 blocks of 4 MiB, 8 events per trace) about
// 3 MB of filters, <= 36 MiB of unsealed blocks, 10 MB of batch ids.
//
// Queries visit blocks newest first (or oldest first), skipping by time
// range, level, service set, bloom filter (trace_id, service, instance),
// cursor, and whether a block can still beat the current top `limit`; a
// visited sealed block is read and decompressed whole.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "hive/collector/log_store.h"
#include "hive/core/clock.h"
#include "hive/core/env.h"
#include "hive/core/status.h"

namespace prometheus {
class Registry;
}

namespace hive::collector {

// Batch ids remembered for de-duplication (survive a restart).
inline constexpr size_t kBatchIdWindow = 100'000;

struct SegmentLogStoreOptions {
  std::string dir;  // created when missing
  // Uncompressed size at which the open block is cut (and the WAL rolls).
  // 4 KiB .. 1 GiB.
  uint64_t segment_bytes = 4u << 20;
  // Compressed part files roll at this size (retention drops whole parts).
  uint64_t part_bytes = 64u << 20;
  std::chrono::nanoseconds max_age = std::chrono::hours(24 * 7);  // 0: no age limit
  uint64_t max_bytes = 10ull << 30;                               // 0: no size limit
  std::chrono::milliseconds retention_interval = std::chrono::seconds(30);
  hive::Clock* clock = &hive::Clock::System();  // for max_age
  // Every file operation goes through it (tests inject faults). Null: the
  // real file system.
  hive::Env* env = nullptr;
  // hive_collector_fsync_seconds, _store_bytes, _segments, _blocks,
  // _write_queue_batches, _seal_seconds, _retention_dropped_bytes_total and
  // _store_failed go here. Null: not exported.
  std::shared_ptr<prometheus::Registry> metrics;
};

// FailedPrecondition when the directory cannot be created or written, is
// locked by another open store, or holds a segment or catalog that is not
// ours; InvalidArgument for bad options.
Result<std::unique_ptr<LogStore>> OpenSegmentLogStore(SegmentLogStoreOptions options);

}  // namespace hive::collector
