// Spool: hive-agent's bounded on-disk queue of log batches, in <spool
// dir>/spool/. Every batch is written here (one checksummed record file,
// written to a temporary name, fdatasync'ed, renamed) before it is sent,
// and removed only after the collector answered 2xx, so a batch survives
// the collector being down and a kill -9 of the agent, and keeps its batch
// id across retries and restarts (the collector stores it once).
//
// A record that fails its checksum or length check (a torn write, a bad
// disk) is removed and counted, and the records after it are used. The
// spool never grows past max_bytes: Append reports ResourceExhausted and
// the caller decides (file tailing pauses — the files keep their data —
// while records of the child's output or the intake may be dropped oldest
// first with DropOldestStreamRecords).
//
// Thread-safe: the log shipper's reader thread and the intake's HTTP
// workers append concurrently; one thread (the sender) reads and removes,
// while DropOldestStreamRecords may run on another.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hive/agent/tailer.h"
#include "hive/core/status.h"

namespace hive::agent {

struct SpoolRecord {
  uint64_t seq = 0;  // assigned by Append; records are shipped in this order
  std::string batch_id;
  // Holds lines of log files: never dropped (the files are their source),
  // and `positions` say where every file stands once this batch is stored.
  bool from_files = false;
  uint64_t lines = 0;
  std::vector<FilePosition> positions;
  std::string body;  // NDJSON events
};

class Spool {
 public:
  // `dir` is created by Open. REQUIRES: max_bytes > 0.
  Spool(std::string dir, uint64_t max_bytes);
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Creates the directory and reads every record back (checksums verified;
  // bad records removed and counted, temporary leftovers removed).
  // Unavailable/FailedPrecondition when the directory cannot be used.
  Status Open();

  // Stores `record` durably and sets record.seq. ResourceExhausted when it
  // would take the spool past max_bytes (a record larger than max_bytes on
  // its own is stored when the spool is empty, so nothing gets stuck);
  // Unavailable on an I/O error.
  Status Append(SpoolRecord& record);

  // The oldest record, read back and verified; nullopt when the spool is
  // empty. Bad records met on the way are removed and counted. The record
  // returned is in flight until Removed: DropOldestStreamRecords keeps it.
  std::optional<SpoolRecord> Oldest();

  // Forgets a record once it was acknowledged (or dead-lettered).
  Status Remove(uint64_t seq);

  // Removes the oldest records that hold no file lines (and are not in
  // flight) until `bytes` more would fit; returns how many lines were
  // dropped.
  uint64_t DropOldestStreamRecords(uint64_t bytes);

  bool HasRoom(uint64_t bytes) const;
  uint64_t bytes() const;
  size_t records() const;
  uint64_t corrupt_records() const;
  // Positions of the newest file record found by Open (where reading
  // resumes: its lines are already stored); empty when there was none.
  const std::vector<FilePosition>& recovered_positions() const { return recovered_positions_; }

 private:
  struct Entry {
    uint64_t size = 0;
    bool from_files = false;
    uint64_t lines = 0;
  };
  std::string PathOf(uint64_t seq) const;
  Result<SpoolRecord> Read(uint64_t seq) const;
  void RemoveLocked(uint64_t seq);

  const std::string dir_;
  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::map<uint64_t, Entry> entries_;              // guarded by mu_
  uint64_t bytes_ = 0;                             // guarded by mu_
  uint64_t next_seq_ = 1;                          // guarded by mu_
  uint64_t corrupt_ = 0;                           // guarded by mu_
  uint64_t in_flight_ = 0;                         // guarded by mu_; 0: none
  std::vector<FilePosition> recovered_positions_;  // set by Open
};

}  // namespace hive::agent
