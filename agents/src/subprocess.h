// Starting processes (internal): the one posix_spawn set-up of the agent,
// for the service it supervises (child.cpp) and for short commands with a
// time limit, health.exec checks and config.on_change (RunCommand).
// Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

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

// Starts argv (looked up in PATH) with stdout and stderr on the given
// descriptors and stdin from /dev/null (`null_stdin`) or the agent's own. The
// process gets its own process group (signals and kills reach what it starts
// too), an empty signal mask and the default dispositions of the signals
// the agent blocks or ignores. FailedPrecondition "cannot run '<argv[0]>':
// ..." when it cannot be started (not found, not executable).
Result<pid_t> Spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd,
                    bool null_stdin);

// Runs a command (Spawn, stdin from /dev/null, stdout and stderr captured
// together) until it exits or `timeout` passes, when its whole process group
// is SIGKILLed. FailedPrecondition when it cannot be started; Unavailable
// when no pipe can be made.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv, Duration timeout,
                                 size_t max_output = 4096);

}  // namespace hive::agent
