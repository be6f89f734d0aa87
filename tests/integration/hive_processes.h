// Starting hive's own binaries for integration tests: hived on port 0 with
// its address (and scheme: https with --tls-cert) read back from its
// "listening" log line; a client for it, and the check of a JSON error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hive/core/http_client.h"
#include "process.h"

namespace hive::testing {

inline std::string BinaryPath(const std::string& relative) {
  return std::string(HIVE_BINARY_DIR) + "/" + relative;
}

class HivedProcess {
 public:
  // Starts hived with a data dir under `dir`; check url() is non-empty.
  explicit HivedProcess(const std::string& dir, std::vector<std::string> extra_args = {});
  const std::string& url() const { return url_; }
  ChildProcess& process() { return *process_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string url_;
};

// A keep-alive client of `url`, with `token` as its bearer token if given.
std::unique_ptr<HttpClient> ClientFor(const std::string& url, std::string token = "");

// Expects an answer with `status` and a JSON error body ({"error": {"code",
// "message"}}); `what` names the request in failures.
void ExpectJsonError(const Result<HttpClientResponse>& r, int status, const std::string& what);

}  // namespace hive::testing
