#include "hive/core/log.h"

#include <unistd.h>

#include <atomic>
#include <mutex>

#include "hive/core/clock.h"
#include "hive/core/text.h"

namespace hive::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_name_mu;
std::string g_process_name;  // guarded by g_name_mu for writes; read after startup

std::string_view LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
Level GetLevel() { return static_cast<Level>(g_level.load()); }

bool ParseLevel(std::string_view name, Level* level) {
  if (name == "debug")
    *level = Level::kDebug;
  else if (name == "info")
    *level = Level::kInfo;
  else if (name == "warn" || name == "warning")
    *level = Level::kWarn;
  else if (name == "error")
    *level = Level::kError;
  else
    return false;
  return true;
}

void SetProcessName(std::string_view name) {
  std::lock_guard lock(g_name_mu);
  g_process_name = name;
}

void Write(Level level, std::string_view msg, Fields fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string line;
  line.reserve(128 + msg.size());
  line += "{\"ts\":\"";
  line += FormatRfc3339(Clock::System().Now());
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += '"';
  {
    std::lock_guard lock(g_name_mu);
    if (!g_process_name.empty()) {
      line += ",\"component\":";
      AppendJsonString(line, g_process_name);
    }
  }
  line += ",\"msg\":";
  AppendJsonString(line, msg);
  for (const Field& f : fields) {
    line += ',';
    AppendJsonString(line, f.key);
    line += ':';
    if (auto* s = std::get_if<std::string_view>(&f.value.v)) {
      AppendJsonString(line, *s);
    } else if (auto* i = std::get_if<int64_t>(&f.value.v)) {
      line += std::to_string(*i);
    } else if (auto* d = std::get_if<double>(&f.value.v)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", *d);
      line += buf;
    } else {
      line += std::get<bool>(f.value.v) ? "true" : "false";
    }
  }
  line += "}\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace hive::log
