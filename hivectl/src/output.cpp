#include "output.h"

#include <algorithm>
#include <cassert>
#include <cctype>

#include "hive/core/text.h"

namespace hive::ctl {
namespace {

size_t DisplayWidth(std::string_view s) {
  // Continuation bytes (10xxxxxx) do not start a code point.
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string CleanCell(std::string cell) {
  for (char& c : cell) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return cell;
}

}  // namespace

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::AddRow(std::vector<std::string> row) {
  assert(row.size() == rows_[0].size());
  for (auto& cell : row) cell = CleanCell(std::move(cell));
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  const size_t columns = rows_[0].size();
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < columns; ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      line += row[i];
      if (i + 1 < columns) line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

std::string FormatAgo(TimePoint then, TimePoint now) {
  const auto secs =
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(now - then).count());
  if (secs < 60) return std::to_string(secs) + "s ago";
  if (secs < 3600) return std::to_string(secs / 60) + "m ago";
  if (secs < 86400) return std::to_string(secs / 3600) + "h ago";
  return std::to_string(secs / 86400) + "d ago";
}

std::string FormatLogTime(TimePoint t) {
  // 2026-11-22T10:00:00.123456789Z → 2026-11-22T10:00:00.123Z
  std::string out = FormatRfc3339(t);
  out.replace(23, std::string::npos, "Z");
  return out;
}

std::string FormatLogLine(std::string_view time, std::string_view service,
                          std::string_view instance, std::string_view level,
                          std::string_view trace_id, std::string_view message) {
  std::string line(time);
  line += ' ';
  line += service.empty() ? "-" : service;
  if (!instance.empty()) {
    line += '/';
    line += instance;
  }
  std::string upper(level.empty() ? "info" : level);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper.resize(std::max<size_t>(upper.size(), 5), ' ');
  line += ' ';
  line += upper;
  if (!trace_id.empty()) {
    line += " [";
    line += trace_id;
    line += ']';
  }
  line += ' ';
  line += message;
  for (char& c : line) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return line;
}

}  // namespace hive::ctl
