// SegmentLogStore (v0): the embedded LogStore on append-only segment files.
//
// On disk, under `dir`:
//   LOCK                       flock()ed while open: one process per directory
//   segment-<16-digit seq>.log  8-byte magic "HIVELOG1", then records:
//     u32 LE payload length | u32 LE CRC-32 (zlib) of length bytes + payload | payload
//   One record per ingested batch. The payload (event_codec.h in src/) holds the
//   batch id, its accepted/rejected counts and the encoded events.
// A segment rolls when the next record would take it past `segment_bytes`
// (a record larger than that gets a segment of its own).
//
// Writes: one writer thread with group commit. Append() encodes the batch on
// the caller's thread and queues it; the writer takes everything queued,
// writes it with pwritev, fdatasync()s once, publishes the new events to the
// indexes and then wakes the callers. Only then are the events visible to
// Query. A failed write is truncated away and answered Unavailable; a failed
// fdatasync leaves the page cache state unknown, so the store then refuses
// every further Append (Unavailable) until it is reopened.
//
// Open: scans every segment and verifies every CRC. A torn or corrupt tail of
// the LAST segment (a crash mid-write) is truncated away and logged; a bad
// record in an earlier segment is logged and the rest of that segment is
// skipped (the file is left as it is for inspection).
//
// Memory: no event is kept in RAM. Per batch 40 bytes (location, time
// range, max level); per event with a trace id a 12-byte location in the
// trace_id index; the last kBatchIdWindow batch ids with their counts.
// Queries with a trace id read only that trace's events; other queries scan
// batches newest first, skipping those outside since/until and those that
// cannot beat the current top `limit` by time.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hive/collector/log_store.h"
#include "hive/core/status.h"

namespace prometheus {
class Registry;
}

namespace hive::collector {

// Batch ids remembered for de-duplication (survive a restart).
inline constexpr size_t kBatchIdWindow = 100'000;

struct SegmentLogStoreOptions {
  std::string dir;                     // created when missing
  uint64_t segment_bytes = 64u << 20;  // 4 KiB .. 1 GiB
  // hive_collector_fsync_seconds, _store_bytes, _segments,
  // _write_queue_batches go here. Null: not exported.
  std::shared_ptr<prometheus::Registry> metrics;
};

// FailedPrecondition when the directory cannot be created or written, is
// locked by another open store, or holds a segment that is not ours;
// InvalidArgument for bad options.
Result<std::unique_ptr<LogStore>> OpenSegmentLogStore(SegmentLogStoreOptions options);

}  // namespace hive::collector
