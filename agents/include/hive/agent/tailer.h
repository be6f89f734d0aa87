// LogTailer follows the files matched by a set of paths/globs line by line,
// from where the agent left off; PositionStore keeps those places on disk.
//
// A file is known by (device, inode) plus a fingerprint of its first bytes
// (up to 256), so a new file that reuses a deleted file's inode is not
// mistaken for it. The tailer
//   - starts a file it has a saved position for (same device, inode and
//     fingerprint, under any path the globs match) at that offset, and any
//     other file the globs find at offset 0;
//   - treats a path that now names another inode, or that disappeared, as a
//     rotation by rename: the old descriptor is read to its end first (and
//     kept for `rotate_wait` in case the writer still appends), then closed;
//     the new file is read from 0;
//   - treats a file that became shorter than what it has read, or whose
//     first bytes changed (copytruncate, or the inode reused), as restarted
//     from 0 — after finishing, from where it stood, a copy of it found in
//     the same directory (copytruncate's app.log.1), so nothing is lost;
//   - hands out complete lines only; a partial last line waits for its
//     newline (a rotated file's last partial line is handed out when the
//     file is closed). A line longer than `max_line` is handed out once, cut
//     to `max_line` bytes and flagged truncated, when its newline arrives;
//     the rest of it is skipped, never handed out as lines of its own.
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
  uint32_t fp_len = 0;  // how many leading bytes the fingerprint covers (0: none)
  uint64_t fp = 0;      // FNV-1a of those bytes
  friend bool operator==(const FilePosition&, const FilePosition&) = default;
};

// {"version":1,"files":[{path, dev, ino, offset, fp_len, fp}]}, as saved in
// positions.json and in spool records.
std::string PositionsToJson(const std::vector<FilePosition>& positions);
Result<std::vector<FilePosition>> PositionsFromJson(std::string_view text);

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

// One line handed out, with where it starts (for positions held back by a
// multiline event that is not complete yet).
struct TailedLine {
  std::string_view text;  // without '\n'; valid during the callback only
  uint64_t file_id = 0;   // stable while the tailer follows the file; never 0
  uint64_t start = 0;     // offset of the line's first byte
  bool truncated = false;
};

class LogTailer {
 public:
  static constexpr size_t kDefaultMaxLine = 256u << 10;

  // `patterns`: file paths or glob(3) patterns. `saved`: from PositionStore.
  LogTailer(std::vector<std::string> patterns, std::vector<FilePosition> saved,
            Duration rotate_wait, size_t max_line = kDefaultMaxLine);
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
  // The same, with each line's origin and truncation flag.
  size_t ReadTailedLines(size_t max_lines, size_t max_bytes,
                         const std::function<void(const TailedLine&)>& on_line);

  // Where every open file stands, just past its last line handed out. A
  // file listed in `holds` (file_id → offset) reports at most that offset:
  // lines from there on were handed out but are not in a batch yet.
  std::vector<FilePosition> Positions(
      const std::vector<std::pair<uint64_t, uint64_t>>& holds = {}) const;

  // Closes rotated files that were read to their end (and waited for).
  // Call after the lines handed out were acknowledged, then save Positions().
  void DropFinished();

  size_t open_files() const;

 private:
  struct File;
  // Follows `path`; `known` (optional) is set when that file was followed already.
  File* Open(const std::string& path, bool* known = nullptr);
  // Before a truncated file restarts: a copy of it next to it (name starting
  // with its name, same first bytes, at least as long as what was read) is
  // read from where the original was left, so copytruncate loses nothing.
  void FollowCopy(File& f);
  // FollowCopy, then read the file again from 0.
  void StartOver(File& f);
  bool ReadFile(File& f, size_t max_lines, size_t max_bytes, size_t& lines, size_t& bytes,
                const std::function<void(const TailedLine&)>& on_line);
  // Recomputes the fingerprint; restarts the file from 0 when its first
  // bytes are not the ones fingerprinted before.
  void CheckFingerprint(File& f);

  std::vector<std::string> patterns_;
  std::vector<FilePosition> saved_;
  Duration rotate_wait_;
  size_t max_line_;
  uint64_t next_id_ = 1;
  std::vector<std::unique_ptr<File>> files_;  // in the order they were found
};

}  // namespace hive::agent
