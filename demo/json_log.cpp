#include "json_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace hive::demo {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string FormatTimestamp(LogTime time) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch());
  auto seconds = std::chrono::floor<std::chrono::seconds>(micros);
  std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>((micros - seconds).count()));
  return buf;
}

std::string FormatLogLine(LogTime time, LogLevel level, std::string_view message,
                          const TraceIds& ids, const std::vector<LogField>& fields) {
  nlohmann::ordered_json line;
  line["ts"] = FormatTimestamp(time);
  line["level"] = LogLevelName(level);
  line["message"] = message;
  if (!ids.trace_id.empty()) line["trace_id"] = ids.trace_id;
  if (!ids.span_id.empty()) line["span_id"] = ids.span_id;
  if (!ids.parent_span_id.empty()) line["parent_span_id"] = ids.parent_span_id;
  for (const LogField& field : fields) {
    std::visit([&](const auto& value) { line[field.key] = value; }, field.value);
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  return text;
}

std::unique_ptr<JsonLog> JsonLog::Open(const std::string& path, std::string* error) {
  if (path.empty()) return std::unique_ptr<JsonLog>(new JsonLog(STDOUT_FILENO, false));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot open log file " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<JsonLog>(new JsonLog(fd, true));
}

JsonLog::~JsonLog() {
  if (owned_) ::close(fd_);
}

void JsonLog::Write(LogLevel level, std::string_view message, const TraceIds& ids,
                    const std::vector<LogField>& fields) {
  WriteAt(std::chrono::system_clock::now(), level, message, ids, fields);
}

void JsonLog::WriteAt(LogTime time, LogLevel level, std::string_view message, const TraceIds& ids,
                      const std::vector<LogField>& fields) {
  std::string line = FormatLogLine(time, level, message, ids, fields);
  std::lock_guard lock(mu_);
  ssize_t written;
  do {
    written = ::write(fd_, line.data(), line.size());
  } while (written < 0 && errno == EINTR);
}

}  // namespace hive::demo
