// LogShipper: the agent's log pipeline, in two threads that meet at the
// disk Spool:
//   - the reader thread tails the configured log files (one LogTailer per
//     `logs:` source), parses each line by its source's format (json,
//     logfmt, regex), joins multiline events, maps them to collector events
//     (LogLineMapper), takes the exec-mode child's stdout/stderr lines
//     (AddOutputLine), and seals batches (max_batch_lines /
//     max_batch_bytes / batch_linger) into the spool;
//   - the sender thread POSTs the oldest spooled batch, gzip-compressed, to
//     /api/v1/ingest/logs with its X-Hive-Batch-Id (stored in the record,
//     so the same on every retry and after a restart), and saves positions.
// So the next batch is read and parsed while the last one is compressed,
// sent and made durable by the collector. The local intake adds
// already-mapped events with AppendEvents.
//
// Delivery: a batch leaves the spool only after the collector's 2xx; then
// the file positions stored with it are saved to <spool dir>/positions.json.
// After a restart the spooled batches are sent first and files resume after
// the newest spooled batch, so nothing is lost and nothing is read twice.
// Transport errors, 429 and 5xx are retried with exponential backoff and
// jitter, waiting at least Retry-After when given; reading goes on into the
// spool meanwhile. When the spool is full, file tailing pauses (the files
// keep their data) and the oldest batches of the child's output are
// dropped and counted. A 400 or 413 means the batch can never be accepted:
// it goes to <spool dir>/dead-letter.ndjson; lines the collector rejects
// one by one (its "errors") are written there too.
//
// Thread-safety: Start and Stop from one owning thread; AddOutputLine and
// AppendEvents from any thread; Reader is the reader thread's, Sender the
// sender thread's.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hive/agent/config.h"
#include "hive/agent/metrics.h"
#include "hive/core/status.h"

namespace hive::agent {

class Spool;

class LogShipper {
 public:
  // `config` supplies service, instance, control_plane, token, logs,
  // exec.output, spool_dir and spool_max_bytes. `metrics` must outlive the
  // shipper.
  LogShipper(AgentConfig config, AgentOptions options, AgentMetrics& metrics);
  ~LogShipper();  // Stop()s
  LogShipper(const LogShipper&) = delete;
  LogShipper& operator=(const LogShipper&) = delete;

  // Creates the spool directory, opens the spool, loads the saved positions
  // and starts the threads. FailedPrecondition/Unavailable when the spool
  // directory cannot be used; InvalidArgument for a bad control_plane
  // address. A corrupt positions file is logged and every file is read from
  // its start.
  Status Start();

  // Stops reading, stores what was read in the spool, ships from the spool
  // for at most options.drain_timeout (what is left is sent after the next
  // start), and joins the threads. Idempotent.
  void Stop();

  // A line of the child's output (without '\n'; `truncated` when it was
  // cut). When more than options.stream_buffer_bytes wait, the oldest are
  // dropped and counted.
  void AddOutputLine(bool is_stderr, std::string_view line, bool truncated = false);

  // Stores `lines` mapped events (NDJSON, each ending in '\n') durably in
  // the spool as one batch. ResourceExhausted when the spool is full;
  // FailedPrecondition before Start or after Stop.
  Status AppendEvents(std::string ndjson, uint64_t lines);

 private:
  struct Reader;
  struct Sender;
  struct OutputLine {
    bool is_stderr;
    bool truncated;
    std::string text;
  };
  void ReadLoop();
  void SendLoop();
  void WakeReader();
  void WakeSender();

  AgentConfig config_;
  AgentOptions options_;
  AgentMetrics& metrics_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Reader> reader_;  // state of the reader thread; built in Start
  std::unique_ptr<Sender> sender_;  // state of the sender thread; built in Start

  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;                                  // guarded by mu_
  bool stopping_ = false;                                 // guarded by mu_
  bool reader_done_ = false;                              // guarded by mu_
  bool wake_ = false;                                     // guarded by mu_; for the reader
  bool send_wake_ = false;                                // guarded by mu_; for the sender
  std::chrono::steady_clock::time_point drain_deadline_;  // guarded by mu_
  std::deque<OutputLine> output_;                         // guarded by mu_
  size_t output_bytes_ = 0;                               // guarded by mu_
  uint64_t next_intake_seq_ = 1;                          // guarded by mu_
  std::string id_prefix_;
  std::thread reader_thread_;
  std::thread sender_thread_;
};

}  // namespace hive::agent
