// Starting hive's own binaries for integration tests: hived on port 0 with
// its address (and scheme: https with --tls-cert) read back from its
// "listening" log line.
#pragma once

#include <memory>
#include <string>
#include <vector>

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

}  // namespace hive::testing
