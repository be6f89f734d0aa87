// EsSink: ships stored log events to Elasticsearch with the _bulk API, into a
// data stream (default logs-hive-default) as ECS documents (@timestamp,
// message, log.level, service.name, service.instance.id, trace.id, span.id,
// labels.* for attrs).
//
// Delivery: events wait in a bounded queue (Enqueue refuses a batch that does
// not fit: backpressure, the caller answers 429/503 or drops and counts).
// One sender thread posts batches. Per-item results are honoured: items
// answered 429 are retried alone with backoff (up to max_attempts), every
// other failed item is dead-lettered (appended to dead_letter_path as
// NDJSON) and never resent; a whole-request 429/5xx or a transport error
// retries the batch; 413 splits it in halves. Metrics: queue depth, sent,
// retried, dead-lettered, requests by status. A transport error (refused,
// timed out, a TLS certificate that cannot be verified) is logged when it
// first happens and named in the dead letters of the items it gives up on.
//
// https: Elasticsearch's certificate is always verified, against ca_file or
// the system's trust store.
//
// Thread-safe: Enqueue from any thread; the sender thread is owned and joined
// by Stop() (or the destructor).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hive/collector/log_event.h"
#include "hive/core/clock.h"
#include "hive/core/status.h"

namespace prometheus {
class Registry;
}

namespace hive::collector {

struct EsSinkOptions {
  std::string url;  // http://host:9200 or https://host:9200
  // https only: a PEM CA bundle that verifies Elasticsearch; empty: the
  // system's trust store.
  std::string ca_file;
  std::string data_stream = "logs-hive-default";
  std::string username;  // basic auth when set
  std::string password;
  std::string api_key;  // "Authorization: ApiKey <api_key>" when set (base64 id:key)
  size_t max_queue_events = 100'000;
  size_t batch_events = 1'000;
  int max_attempts = 5;  // per item answered 429, and per batch on 5xx/transport errors
  Duration backoff = std::chrono::milliseconds(200);  // doubles per attempt
  std::string dead_letter_path;                       // "" : dead letters are only counted
  std::shared_ptr<prometheus::Registry> metrics;      // null: a private registry
};

// The ECS document of one event (one line of a _bulk body, no newline).
std::string EsDocument(const LogEvent& event);

class EsSink {
 public:
  // InvalidArgument for a bad URL or options; starts the sender thread.
  static Result<std::unique_ptr<EsSink>> Start(EsSinkOptions options);
  ~EsSink();
  EsSink(const EsSink&) = delete;
  EsSink& operator=(const EsSink&) = delete;

  // Queues the events; ResourceExhausted (nothing queued) when they do not
  // fit, Unavailable after Stop().
  Status Enqueue(const std::vector<LogEvent>& events);

  // Sends what is queued (retries no longer wait out their backoff), then
  // joins the sender.
  void Stop();

  struct Counts {
    uint64_t sent = 0;           // items Elasticsearch accepted
    uint64_t retried = 0;        // item or batch resends
    uint64_t dead_lettered = 0;  // items given up on
    size_t queued = 0;
  };
  Counts counts() const;

  // Blocks until the queue is empty and no batch is in flight, or `timeout`.
  bool WaitIdle(Duration timeout);

 private:
  struct Metrics;
  struct Item {
    std::string doc;
    int attempts = 0;
  };
  explicit EsSink(EsSinkOptions options);
  void Run();
  // Posts `items`; what comes back needs another try (429 items, or all on a
  // retryable whole-request failure).
  std::vector<Item> Send(std::vector<Item> items);
  void DeadLetter(const Item& item, std::string_view reason);

  EsSinkOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::vector<std::pair<std::string, std::string>> headers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;   // GUARDED_BY(mu_)
  bool busy_ = false;       // GUARDED_BY(mu_)
  Counts counts_;           // GUARDED_BY(mu_)
  std::mutex dead_letter_mu_;
  std::thread sender_;
};

}  // namespace hive::collector
