// Text rendering for hivectl's human output: aligned tables, relative ages
// and log lines. Pure functions and plain values; thread-compatible.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"

namespace hive::ctl {

// Columns padded to their widest cell (counted in UTF-8 code points), two
// spaces apart; the last column is not padded. Control characters in cells
// (newlines in a health check's output, say) print as spaces.
class Table {
 public:
  explicit Table(std::vector<std::string> header);

  // REQUIRES: row.size() equals the header's size.
  void AddRow(std::vector<std::string> row);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

// "3s ago", "5m ago", "2h ago", "4d ago"; times in the future read "0s ago".
std::string FormatAgo(TimePoint then, TimePoint now);

// RFC 3339 in UTC with millisecond precision: 2026-11-22T10:00:00.123Z.
std::string FormatLogTime(TimePoint t);

// One event as `TIME SERVICE/INSTANCE LEVEL [trace_id] message`. Missing
// parts are left out (no brackets without a trace id).
std::string FormatLogLine(std::string_view time, std::string_view service,
                          std::string_view instance, std::string_view level,
                          std::string_view trace_id, std::string_view message);

}  // namespace hive::ctl
