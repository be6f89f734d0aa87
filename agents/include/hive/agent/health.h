// HealthChecker runs the service's health check as configured (health.http,
// health.tcp or health.exec) and reports it in the registry's terms:
//   http: a 2xx answer is passing; any other answer or no answer is critical.
//   tcp:  a connection accepted within the timeout is passing, else critical.
//   exec: the command runs via posix_spawn (no shell unless the YAML gave a
//         string, which runs as /bin/sh -c); exit 0 is passing, 1 warning,
//         anything else critical. It is killed (SIGKILL) at the timeout.
//         The first 4 KiB of its stdout and stderr become the output.
// With no check configured every result is passing.
//
// Not thread-safe: one thread runs the checks. Check() blocks for at most
// about the configured timeout.
#pragma once

#include <string>

#include "hive/agent/config.h"

namespace hive::agent {

struct HealthResult {
  std::string status = "passing";  // passing | warning | critical
  std::string output;
};

class HealthChecker {
 public:
  explicit HealthChecker(HealthConfig config) : config_(std::move(config)) {}
  HealthResult Check();

 private:
  HealthResult CheckHttp();
  HealthResult CheckTcp();
  HealthResult CheckExec();

  HealthConfig config_;
};

}  // namespace hive::agent
