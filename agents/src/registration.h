// RegistrationLoop (internal): keeps this instance registered. Its thread
// runs the health check every health.interval, registers (retrying with
// backoff and jitter while hived is unreachable, logging at most every few
// seconds), heartbeats every heartbeat_interval with the latest health
// result, and registers again when a heartbeat answers 404. Deregister()
// removes the instance at shutdown.
//
// Thread-safety: Start, Stop and Deregister from one owning thread. Stop
// wakes the thread at once; a health check or request in progress finishes
// first (each is bounded by its timeout).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/http_client.h"
#include "hive/core/status.h"

namespace hive::agent {

class RegistrationLoop {
 public:
  // `metrics` must outlive the loop.
  RegistrationLoop(AgentConfig config, AgentOptions options, AgentMetrics& metrics);
  ~RegistrationLoop();  // Stop()s

  // InvalidArgument for a bad control_plane address.
  Status Start();
  void Stop();

  // DELETE of this instance; 404 counts as done. REQUIRES: Stop() was called.
  Status Deregister();

 private:
  void Run();
  Result<std::unique_ptr<HttpClient>> NewClient() const;

  AgentConfig config_;
  AgentOptions options_;
  AgentMetrics& metrics_;
  std::unique_ptr<HttpClient> client_;  // used by the thread only
  std::string instance_path_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace hive::agent
