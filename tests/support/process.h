// Runs hive's binaries as real child processes for integration tests: output
// goes to files in the test's directory, and helpers wait — with a deadline,
// by polling what the process wrote — for a line that says it is ready.
// Not thread-safe; one test thread drives a ChildProcess.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "temp_dir.h"  // ReadFile, for the children's output

namespace hive::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`, stdout and stderr to `<log_prefix>.out` /
  // `<log_prefix>.err`. Check running() after.
  ChildProcess(std::vector<std::string> argv, std::string log_prefix,
               std::vector<std::string> extra_env = {});
  ~ChildProcess();  // SIGKILLs a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running();
  pid_t pid() const { return pid_; }
  // The exit code (128+signal when killed) once the child has exited.
  std::optional<int> exit_code() {
    running();
    return exit_code_;
  }

  // Waits until stdout (or stderr) holds a line containing `needle`; returns
  // that line, or nullopt at the deadline or if the child died.
  std::optional<std::string> WaitForLine(const std::string& needle, bool in_stderr,
                                         std::chrono::milliseconds timeout);

  // Sends `sig` and waits up to `timeout` for the exit; returns the exit code
  // (128+signal when killed), or nullopt when it did not exit in time.
  std::optional<int> Signal(int sig, std::chrono::milliseconds timeout);

  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string out_path_, err_path_;
};

// Runs a command to completion; returns exit code, stdout and stderr.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Polls `condition` every 20 ms until it is true or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A directory for the current test, unique to this test process.
std::string MakeTestDir();

}  // namespace hive::testing
