// Agent: one hive-agent beside one service instance. It registers the
// instance and heartbeats with its health, tails and ships its logs, and
// keeps its config file in step with the config store — all through
// hived's HTTP API (docs/API.md).
//
// Thread model (no detached threads; every thread is joined by Stop()):
//   - the caller's thread (main) calls Start(), waits for SIGTERM/SIGINT,
//     then calls Stop();
//   - the registration thread: health checks, register, heartbeats,
//     re-register on 404;
//   - the log thread: tail, map, batch, ship, save positions;
//   - the config thread (only with a `config:` section): blocking queries
//     and rendering of the config file.
// Each thread owns its HTTP client and its state; they share only the
// AgentMetrics counters (atomics). Each waits on its own condition variable,
// so Stop() wakes them at once.
//
// Shutdown order in Stop(): stop the config watch (its blocking query is
// cancelled), stop tailing and ship what was already read (at most
// options.drain_timeout, plus one request in flight), stop heartbeats, then
// deregister. Not thread-safe: Start and Stop from one thread.
#pragma once

#include <memory>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/status.h"

namespace hive::agent {

class LogShipper;
class ConfigWatcher;
class RegistrationLoop;

class Agent {
 public:
  Agent(AgentConfig config, AgentOptions options = {});
  ~Agent();  // Stop()s
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the threads; registration and everything else is retried in the
  // background while hived is unreachable. Errors are for what retrying
  // cannot fix: the spool directory cannot be created, a bad address.
  Status Start();

  // Graceful shutdown as above; idempotent. Returns the deregistration's
  // status (OK also when the registry did not know the instance).
  Status Stop();

  const AgentMetrics& metrics() const { return metrics_; }

 private:
  AgentConfig config_;
  AgentOptions options_;
  AgentMetrics metrics_;
  std::unique_ptr<RegistrationLoop> registration_;
  std::unique_ptr<LogShipper> shipper_;
  std::unique_ptr<ConfigWatcher> watcher_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace hive::agent
