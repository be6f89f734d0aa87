// Agent: one hive-agent beside one service instance. It registers the
// instance and heartbeats with its health, tails and ships its logs, and
// keeps its config file in step with the config store — all through
// hived's HTTP API (docs/API.md).
//
// Thread model (no detached threads; every thread is joined by Stop()):
//   - the caller's thread (main) calls Start(), waits for a signal or the
//     child's end, then calls Stop();
//   - the registration thread: health checks, register, heartbeats,
//     re-register on 404;
//   - the log thread: tail, parse, batch, spool, ship, save positions;
//   - the config thread (only with a `config:` section): blocking queries,
//     rendering of the config file, on_change, rollout reports;
//   - the child thread (exec mode): runs the service, reads its output,
//     restarts it;
//   - the scrape thread (only with `metrics:`): forwards the service's
//     Prometheus metrics;
//   - the HTTP workers of the admin server (/metrics) and of the intake,
//     which append to the spool.
// Each thread owns its HTTP client and its state; they share the
// AgentMetrics (atomics) and the spool (locked). Each waits on its own
// condition variable or fd, so Stop() wakes them at once.
//
// Shutdown order in Stop(): stop the child (the signal given, bounded by
// exec.stop_timeout, then SIGKILL) so its last output is captured, stop the
// intake and the scraper, cancel the config watch, stop tailing and ship
// from the spool (at most options.drain_timeout, plus one request in
// flight), stop heartbeats, deregister, stop the admin server. Not
// thread-safe: Start, Stop and Signal from one thread; the accessors from any.
#pragma once

#include <memory>
#include <optional>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/status.h"

namespace hive::agent {

class LogShipper;
class ConfigWatcher;
class RegistrationLoop;
class ChildSupervisor;
class MetricsScraper;
class Intake;
}  // namespace hive::agent
namespace hive {
class HttpServer;
}  // namespace hive
namespace hive::agent {

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

  // Graceful shutdown as above; idempotent. `child_signal` is what the
  // exec-mode child is asked to stop with. Returns the deregistration's
  // status (OK also when the registry did not know the instance).
  Status Stop(int child_signal = 15);

  // Exec mode: passes `sig` on to the child's process group.
  void Signal(int sig);
  // Exec mode: set once the child ended for good (exit 0, or a failure with
  // exec.restart: never): its exit code, for hive-agent to exit with.
  std::optional<int> child_exit_code() const;

  // Bound ports (for `listen: ...:0`); 0 when not configured or not started.
  int admin_port() const;
  int intake_port() const;

  const AgentMetrics& metrics() const { return metrics_; }

 private:
  AgentConfig config_;
  AgentOptions options_;
  AgentMetrics metrics_;
  std::unique_ptr<RegistrationLoop> registration_;
  std::unique_ptr<LogShipper> shipper_;
  std::unique_ptr<ConfigWatcher> watcher_;
  std::unique_ptr<ChildSupervisor> child_;
  std::unique_ptr<MetricsScraper> scraper_;
  std::unique_ptr<Intake> intake_;
  std::unique_ptr<HttpServer> admin_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace hive::agent
