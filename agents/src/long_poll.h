// CancellableGet: one HTTP/1.1 GET at a time that another thread can abort
// at once (internal). The config watcher's blocking query waits up to 30 s
// for a change; hive::HttpClient cannot be interrupted, and shutdown must
// not wait for the server to answer. Each Get opens a connection, sends
// "Connection: close" and reads the answer to its end.
//
// Thread-safety: Get from one thread; Cancel from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "hive/core/clock.h"
#include "hive/core/http_client.h"
#include "hive/core/status.h"

namespace hive::agent {

class CancellableGet {
 public:
  // `base_url`: http://host[:port]. InvalidArgument when malformed.
  static Result<std::unique_ptr<CancellableGet>> Create(std::string_view base_url,
                                                        std::string bearer_token);
  ~CancellableGet();
  CancellableGet(const CancellableGet&) = delete;
  CancellableGet& operator=(const CancellableGet&) = delete;

  // Aborted once Cancel() was called (also for a Get in progress);
  // Unavailable on transport errors and when `timeout` passes.
  Result<HttpClientResponse> Get(std::string_view target, Duration timeout);

  // Makes the current and every later Get return Aborted.
  void Cancel();

 private:
  CancellableGet(std::string host, int port, std::string token, int wake_fd)
      : host_(std::move(host)), port_(port), token_(std::move(token)), wake_fd_(wake_fd) {}

  std::string host_;
  int port_;
  std::string token_;
  int wake_fd_;  // an eventfd; readable once cancelled
};

}  // namespace hive::agent
