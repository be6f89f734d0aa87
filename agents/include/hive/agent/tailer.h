// LogTailer follows the files matched by a set of paths/globs line by line,
// from where the agent left off; PositionStore keeps those places on disk.
//
// A file is known by (device, inode). The tailer
//   - starts a file it has a saved position for (same path, device and
//     inode) at that offset, and any other file the globs find at offset 0;
//   - treats a path that now names another inode, or that disappeared, as a
//     rotation by rename: the old descriptor is read to its end first (and
//     kept for `rotate_wait` in case the writer still appends), then closed;
//     the new file is read from 0;
//   - treats a file that became shorter than what it has read (copytruncate)
//     as restarted from 0;
//   - hands out complete lines only; a partial last line waits for its
//     newline (a rotated file's last partial line is handed out when the
//     file is closed). Lines longer than 1 MiB are cut.
// Positions() reports, per file, the offset just past the last line handed
// out, which the caller saves once those lines are acknowledged.
//
// Not thread-safe: one thread owns a tailer. Files are opened read-only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/status.h"

namespace hive::agent {

struct FilePosition {
  std::string path;
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t offset = 0;
  friend bool operator==(const FilePosition&, const FilePosition&) = default;
};

// <spool dir>/positions.json, replaced atomically on every Save.
class PositionStore {
 public:
  explicit PositionStore(std::string file) : file_(std::move(file)) {}

  // No file yet: empty. A corrupt file is InvalidArgument (the caller may
  // start over from the beginning of every file).
  Result<std::vector<FilePosition>> Load() const;
  Status Save(const std::vector<FilePosition>& positions) const;

 private:
  std::string file_;
};

class LogTailer {
 public:
  // `patterns`: file paths or glob(3) patterns. `saved`: from PositionStore.
  LogTailer(std::vector<std::string> patterns, std::vector<FilePosition> saved,
            Duration rotate_wait);
  ~LogTailer();
  LogTailer(const LogTailer&) = delete;
  LogTailer& operator=(const LogTailer&) = delete;

  // Re-evaluates the globs: picks up new files and notices rotations.
  void Scan();

  // Hands complete lines (without '\n') to `on_line`, oldest file content
  // first, until `max_lines` or `max_bytes` is reached or nothing is left
  // to read now. The view is valid during the call only. Returns the count.
  size_t ReadLines(size_t max_lines, size_t max_bytes,
                   const std::function<void(std::string_view)>& on_line);

  // Where every open file stands, just past its last line handed out.
  std::vector<FilePosition> Positions() const;

  // Closes rotated files that were read to their end (and waited for).
  // Call after the lines handed out were acknowledged, then save Positions().
  void DropFinished();

  size_t open_files() const;

 private:
  struct File;
  File* Open(const std::string& path);
  bool ReadFile(File& f, size_t max_lines, size_t max_bytes, size_t& lines, size_t& bytes,
                const std::function<void(std::string_view)>& on_line);

  std::vector<std::string> patterns_;
  std::vector<FilePosition> saved_;
  Duration rotate_wait_;
  uint64_t next_id_ = 1;
  std::vector<std::unique_ptr<File>> files_;  // in the order they were found
};

}  // namespace hive::agent
