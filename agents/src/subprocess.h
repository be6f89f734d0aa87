// Running a short command with a time limit (internal): health.exec checks
// and config.on_change commands. The command runs via posix_spawnp in its
// own process group with default signal dispositions and stdin from
// /dev/null; stdout and stderr are captured together. At the timeout its
// whole group is SIGKILLed. Thread-safe (no shared state).
#pragma once

#include <string>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/status.h"

namespace hive::agent {

struct CommandResult {
  bool timed_out = false;
  int wstatus = 0;     // as from waitpid
  std::string output;  // the first max_output bytes of stdout and stderr
};

// FailedPrecondition when the command cannot be started (not found, not
// executable); Unavailable when no pipe can be made.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv, Duration timeout,
                                 size_t max_output = 4096);

}  // namespace hive::agent
