// ConfigWatcher (internal): keeps the service's config file in step with the
// config store. Its thread long-polls
//   GET /api/v1/config/{service}/{profile}?index=N&wait=<config_wait>
// and, at start and whenever the rendered content changes, writes the
// `properties` to config.file in the format of its extension, atomically
// (temporary file in the same directory, fsync, rename). Errors are logged
// (throttled) and retried with backoff.
//
// Thread-safety: Start and Stop from one owning thread. Stop interrupts a
// blocking query at once and joins.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/status.h"

namespace hive::agent {

class CancellableGet;

class ConfigWatcher {
 public:
  // REQUIRES: config.config is set. `metrics` must outlive the watcher.
  ConfigWatcher(AgentConfig config, AgentOptions options, AgentMetrics& metrics);
  ~ConfigWatcher();  // Stop()s

  // InvalidArgument for a bad control_plane address.
  Status Start();
  void Stop();

 private:
  void Run();

  AgentConfig config_;
  AgentOptions options_;
  AgentMetrics& metrics_;
  std::unique_ptr<CancellableGet> http_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace hive::agent
