// ConfigWatcher (internal): keeps the service's config file in step with the
// config store. Its thread long-polls
//   GET /api/v1/config/{service}/{profile}?index=N&wait=<config_wait>
// and, at start and whenever the rendered content changes, writes the
// `properties` to config.file in the format of its extension, atomically
// (temporary file in the same directory, fsync, rename), then runs
// config.on_change (a signal to a pid, the pid in a pid file or the
// exec-mode child's process group; a command that must exit 0 within its
// timeout; or a POST that must answer 2xx). Each outcome is reported with
//   PUT /api/v1/config/{app}/{profile}/applied/{instance}
//   {"version": N, "status": "applied" | "failed", "message": "..."}
// (a hived without that route answers 404: logged once, then ignored).
// A version that cannot be written is reported failed and retried with
// backoff; one whose on_change fails is reported failed, the previous file
// is put back (or the new one removed when there was none) and the version
// is not tried again — the service keeps its last good file.
//
// Thread-safety: Start and Stop from one owning thread. Stop interrupts a
// blocking query at once and joins.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/http_client.h"
#include "hive/core/status.h"

namespace hive::agent {

class ConfigWatcher {
 public:
  // REQUIRES: config.config is set. `metrics` must outlive the watcher.
  // `child_pid` gives the exec-mode child's pid (0 when none runs); it is
  // what on_change.signal goes to when neither pid nor pid_file is set.
  ConfigWatcher(AgentConfig config, AgentOptions options, AgentMetrics& metrics,
                std::function<int()> child_pid = nullptr);
  ~ConfigWatcher();  // Stop()s

  // InvalidArgument for a bad control_plane address.
  Status Start();
  void Stop();
  // Waits until the first attempt to fetch and write the file has ended
  // (written, already current, or failed) or `timeout` passed; true in the
  // first cases.
  bool WaitFirstAttempt(Duration timeout);

 private:
  void Run();
  Status RunOnChange();
  void Report(int64_t version, bool applied, const std::string& message);

  AgentConfig config_;
  std::function<int()> child_pid_;
  std::unique_ptr<HttpClient> reporter_;  // the config thread's
  bool report_unsupported_ = false;       // hived answered 404 once
  AgentOptions options_;
  AgentMetrics& metrics_;
  std::unique_ptr<HttpClient> http_;  // the blocking queries; Stop() cancels it

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;         // guarded by mu_
  bool first_attempted_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace hive::agent
