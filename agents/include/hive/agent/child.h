// ChildSupervisor: exec mode (`hive-agent --config a.yaml -- ./service args`).
// It runs the service as a child in its own process group (posix_spawnp;
// signal mask and dispositions reset), hands each line of its stdout and
// stderr to a callback (and echoes it to the agent's own stdout/stderr so
// the output stays visible), and restarts it after a failure (non-zero exit
// or death by a signal) with exponential backoff — which starts over once
// the child stayed up for restart_reset_after. A child that exits 0, or
// fails with exec.restart: never, ends for good: exit_code() then holds its
// code (128 + signal number when killed), for the agent to pass on.
// Lines longer than 256 KiB are cut (the rest of the line skipped) and
// handed over flagged truncated.
//
// Thread model: one supervisor thread owns the child, its pipes and the
// restarts. Start, Stop from one owning thread; Signal and exit_code from
// any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/status.h"

namespace hive::agent {

class ChildSupervisor {
 public:
  // Called on the supervisor thread for every output line (without '\n').
  using OnLine = std::function<void(bool is_stderr, std::string_view line, bool truncated)>;

  // REQUIRES: config.command is not empty. `metrics` must outlive this.
  ChildSupervisor(ExecConfig config, AgentOptions options, AgentMetrics& metrics, OnLine on_line);
  ~ChildSupervisor();  // Stop()s
  ChildSupervisor(const ChildSupervisor&) = delete;
  ChildSupervisor& operator=(const ChildSupervisor&) = delete;

  // Spawns the child and starts the thread. FailedPrecondition when the
  // command cannot be run at all (not found, not executable).
  Status Start();

  // Sends `sig` to the child's process group (nothing when it is not running).
  void Signal(int sig);

  // Sends `sig` (SIGTERM by default), waits up to exec.stop_timeout for the
  // child to exit, then SIGKILLs its group; no restart follows. Joins the
  // thread. Returns true when the child exited within the timeout (or was
  // not running). Idempotent.
  bool Stop(int sig = 15);

  // Set once the child ended for good on its own (not restarted).
  std::optional<int> exit_code() const;

  // The running child's pid; 0 when none is running.
  pid_t pid() const { return pid_.load(); }

 private:
  void Run();
  Status Spawn();
  // Reads the pipes and waits for the child; returns its wait status.
  int Supervise();

  ExecConfig config_;
  AgentOptions options_;
  AgentMetrics& metrics_;
  OnLine on_line_;
  std::atomic<pid_t> pid_{0};
  int out_fd_ = -1;
  int err_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: readable once Stop() was called

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;         // guarded by mu_
  bool exited_ = false;           // guarded by mu_: no child runs and none will
  std::optional<int> exit_code_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace hive::agent
