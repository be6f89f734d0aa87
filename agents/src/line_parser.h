// Reading of plain-text log formats (internal): a LineParser turns one line
// of a logfmt or regex source into a JSON object text the LogLineMapper maps
// like a JSON line (so the field aliases apply to every format), and a
// MultilineJoiner joins continuation lines (stack traces) into the event
// they belong to.
//
// Not thread-safe: one of each per source, used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "hive/agent/config.h"
#include "hive/core/status.h"

namespace hive::agent {

// Compiles `pattern` as an ECMAScript regex that may use (?<name>...) or
// (?P<name>...) groups. InvalidArgument with the reason when it does not
// compile, or when `needs_groups` and it has no named group.
Status ValidateLinePattern(std::string_view pattern, bool needs_groups);

class LineParser {
 public:
  // REQUIRES: config.pattern passed ValidateLinePattern when the format is regex.
  explicit LineParser(const LineFormatConfig& config);

  // The text to map: the line itself for json, a JSON object of the fields
  // for logfmt and regex (built in `scratch`), or the line unchanged when it
  // has no logfmt pair / does not match the pattern (it is then shipped as
  // its message).
  std::string_view ToMappable(std::string_view line, std::string& scratch);

 private:
  LogFormat format_;
  std::regex regex_;
  std::vector<std::string> group_names_;  // by capture index - 1; empty: unnamed
};

// Where a line came from; a joined event carries the key of its first line.
struct LineKey {
  uint64_t file_id = 0;  // 0: not from a file
  uint64_t start = 0;    // offset of the line in its file
  bool truncated = false;
};

class MultilineJoiner {
 public:
  using Emit = std::function<void(std::string_view event, const LineKey& key)>;

  // `start_pattern` (validated) marks the first line of an event; `max_bytes`
  // caps a joined event (the rest is cut and the event flagged truncated).
  MultilineJoiner(const std::string& start_pattern, Duration timeout, size_t max_bytes);

  // A line that matches the start pattern, or comes from another file than
  // the pending event, emits the pending event first; other lines are
  // appended to it with '\n'.
  void Add(std::string_view line, const LineKey& key, const Emit& emit);
  // Emits the pending event when its last line came `timeout` ago (or now).
  void FlushIfDue(std::chrono::steady_clock::time_point now, const Emit& emit);
  void Flush(const Emit& emit);

  bool pending() const { return pending_; }
  const LineKey& pending_key() const { return key_; }
  // When FlushIfDue will emit; only meaningful while pending().
  std::chrono::steady_clock::time_point due() const { return last_ + timeout_; }

 private:
  std::regex start_;
  std::chrono::steady_clock::duration timeout_;
  size_t max_bytes_;
  bool pending_ = false;
  LineKey key_;
  std::string event_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace hive::agent
