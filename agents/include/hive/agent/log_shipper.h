// LogShipper: the agent's tail-and-ship loop. It owns one thread that tails
// the configured log files (LogTailer), maps each line to a collector event
// (LogLineMapper), batches them (max_batch_lines / max_batch_bytes /
// batch_linger) and POSTs each batch, gzip-compressed, to
// /api/v1/ingest/logs with an X-Hive-Batch-Id that is unique per batch and
// the same on every retry of it.
//
// Delivery: positions (<spool dir>/positions.json) are saved only after the
// collector answered 2xx for the batch, so lines that were never
// acknowledged are read and sent again after a restart, and acknowledged
// ones are not. Transport errors and any answer other than 2xx, 400 and 413
// are retried with backoff (the batch is kept; tailing pauses meanwhile). A
// 400 or 413 means the batch can never be accepted: it is appended to
// <spool dir>/dead-letter.ndjson, counted, and the agent moves on. Lines the
// collector rejects one by one (its "errors") are counted, not retried.
//
// Thread-safety: Start and Stop are called from one owning thread; the
// shipper's own thread is the only one touching the tailer and the files.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/status.h"

namespace hive::agent {

class LogShipper {
 public:
  // `config` supplies service, instance, control_plane, token, logs and
  // spool_dir. `metrics` must outlive the shipper.
  LogShipper(AgentConfig config, AgentOptions options, AgentMetrics& metrics);
  ~LogShipper();  // Stop()s
  LogShipper(const LogShipper&) = delete;
  LogShipper& operator=(const LogShipper&) = delete;

  // Creates the spool directory, loads the saved positions and starts the
  // thread. FailedPrecondition/Unavailable when the spool directory cannot
  // be created; InvalidArgument for a bad control_plane address. A corrupt
  // positions file is logged and every file is read from its start.
  Status Start();

  // Stops tailing, ships the batch already read (retrying for at most
  // options.drain_timeout), saves positions if it was acknowledged, and
  // joins the thread. Idempotent.
  void Stop();

 private:
  struct Loop;
  void Run();

  AgentConfig config_;
  AgentOptions options_;
  AgentMetrics& metrics_;
  std::unique_ptr<Loop> loop_;  // state of the thread; built in Start

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                                 // guarded by mu_
  std::chrono::steady_clock::time_point drain_deadline_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace hive::agent
