// Reading of plain-text log formats (internal): a LineParser turns one line
// of a logfmt or regex source into a JSON object text the LogLineMapper maps
// like a JSON line (so the field aliases apply to every format), and a
// MultilineJoiner joins continuation lines (stack traces) into the event
// they belong to.
//
// Patterns are RE2 (linear time, no backtracking): what an operator writes
// in `pattern` or `multiline_start` is checked by ValidateLinePattern when
// the configuration loads. A line a parser cannot read (invalid UTF-8, over
// the match budget) is handed on unchanged with the reason, to be shipped as
// its raw text: no line can crash or stall the agent.
//
// Not thread-safe: one of each per source, used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hive/agent/config.h"
#include "hive/core/status.h"

namespace hive::agent {

// The most RE2 program instructions a pattern may compile to. The documented
// pattern `(?<ts>\S+) (?<level>\w+) (?<message>.*)$` takes 35; counted
// repetitions of large classes take the most (`.{500}` takes 4,000).
inline constexpr int kMaxPatternInstructions = 4096;
// What RE2 may use for one pattern: the compiled program and the DFA's state
// cache (past it RE2 falls back to its slower NFA, still linear).
inline constexpr int64_t kPatternMaxMemory = 2 << 20;
// A line is matched only while bytes × instructions stays within this, which
// bounds the time one line can take (under 0.1 s even on RE2's slowest path): lines up
// to 3.6 MiB with the documented pattern, 32 KiB with the largest pattern.
inline constexpr uint64_t kMatchBudget = uint64_t{128} << 20;

// Compiles `pattern` (RE2 syntax; named groups as (?<name>...) or
// (?P<name>...)). InvalidArgument saying what is wrong — a construct RE2
// does not have (back-references, lookaround, atomic groups, possessive
// quantifiers), a program over kMaxPatternInstructions, RE2's own error —
// or, when `needs_groups`, that it has no named group.
Status ValidateLinePattern(std::string_view pattern, bool needs_groups);

class LinePattern;

// The text to map for one line, and why the line could not be parsed.
struct MappableLine {
  std::string_view text;
  // Empty when parsed (or when the line is plain text by nature: not JSON,
  // no logfmt pair, no match). Otherwise `text` is the line unchanged and
  // this says why it was not parsed; it is shipped as attrs.parse_error.
  std::string_view parse_error;
};

class LineParser {
 public:
  // REQUIRES: config.pattern passed ValidateLinePattern when the format is regex.
  explicit LineParser(const LineFormatConfig& config);
  ~LineParser();

  // The line itself for json, a JSON object of the fields for logfmt and
  // regex (built in `scratch`), or the line unchanged when it has no logfmt
  // pair / does not match the pattern (it is then shipped as its message).
  MappableLine ToMappable(std::string_view line, std::string& scratch);

 private:
  LogFormat format_;
  std::unique_ptr<LinePattern> pattern_;  // kRegex
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
  // The pattern is tried on as much of each line as kMatchBudget allows.
  MultilineJoiner(const std::string& start_pattern, Duration timeout, size_t max_bytes);
  ~MultilineJoiner();

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
  std::unique_ptr<LinePattern> start_;  // null only for an invalid pattern: every line starts
  std::chrono::steady_clock::duration timeout_;
  size_t max_bytes_;
  bool pending_ = false;
  LineKey key_;
  std::string event_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace hive::agent
