// The runtime settings of a demo service and the watcher that keeps them in
// step with the config file hive-agent writes.
//
// The file is a JSON object of flat dotted keys, e.g.
//   {"failure_rate": 0.3, "latency_ms": 20}
// Numbers may also arrive as strings ("0.3"). A key that is absent takes its
// default, so a rollback that drops a key restores the default behaviour.
// Unknown keys are ignored.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "json_log.h"

namespace hive::demo {

struct ServiceSettings {
  double failure_rate = 0.0;  // fraction of requests failed on purpose, 0..1
  double latency_ms = 0.0;    // extra latency added to every request, >= 0

  bool operator==(const ServiceSettings&) const = default;
};

// Parses a config document. Returns nullopt and sets *error for malformed
// JSON, a non-object document or an out-of-range or non-numeric value.
std::optional<ServiceSettings> ParseServiceSettings(const std::string& text, std::string* error);

// ConfigWatcher owns a background thread that checks the file's identity
// (inode, size, mtime) at most once per `poll_interval` and re-reads it when it
// changed. A missing or malformed file keeps the previous settings and logs one
// warn line per change of the file; a successful load logs one info line.
// Thread-safe: Current() and Reload() may be called from any thread.
class ConfigWatcher {
 public:
  // `log` must outlive the watcher. Loads the file once, synchronously, so the
  // first requests already see its settings.
  ConfigWatcher(std::string path, JsonLog* log,
                std::chrono::milliseconds poll_interval = std::chrono::seconds(1));
  ~ConfigWatcher();  // stops and joins the thread at once
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  ServiceSettings Current() const;

  // Asks the thread to check the file now (e.g. on SIGHUP or POST /refresh).
  void Reload();

  // How many times settings were successfully (re)loaded.
  int64_t reloads() const;

 private:
  // What identifies one version of the file; exists=false when it is absent.
  struct FileStamp {
    bool exists = false;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };

  void Run();
  void Check();

  const std::string path_;
  JsonLog* const log_;
  const std::chrono::milliseconds poll_interval_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool reload_requested_ = false;
  ServiceSettings settings_;
  int64_t reloads_ = 0;
  std::optional<FileStamp> last_stamp_;  // only the watcher thread (and the constructor) use it
  std::thread thread_;
};

}  // namespace hive::demo
