// What several benchmarks need around the system under test: starting a
// server as a child process, reading its CPU time and memory from /proc,
// free loopback ports, the open-file limit, a self-signed TLS certificate
// (made with the `openssl` CLI) and percentiles. Not thread-safe unless said.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace hive::bench {

using SteadyClock = std::chrono::steady_clock;

// Prints `what` on stderr with the program's name, stops the ChildProcesses
// still running and exits with 1 (leaving temporary files for a look).
[[noreturn]] void Die(const std::string& what);

// Progress on stderr with the seconds since the first call, so a slow phase
// shows where the time goes.
void Phase(const std::string& what);

// A loopback port free at the time of the call.
int FreePort();

// Raises this process's open-file soft limit to its hard limit (children
// inherit it); returns the new soft limit.
unsigned long RaiseOpenFileLimit();

struct ProcStat {
  double cpu_seconds = 0;  // utime + stime
  double rss_mb = 0;       // VmRSS
  double peak_rss_mb = 0;  // VmHWM
  int threads = 0;
};
// Zeros for a process that is gone.
ProcStat ReadProc(pid_t pid);

// A server under test: a child process with stdout and stderr in `log`.
// The destructor sends SIGTERM and, after 5 s, SIGKILL.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  pid_t pid() const { return pid_; }
  // False once the process has exited (it is then reaped).
  bool Running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Runs a command to its end with its output in `log`; its exit status.
int RunCommand(const std::vector<std::string>& argv, const std::string& log);

// Whether `hived --help` lists `flag` (the server before the event-driven
// rewrite has no connection limits to raise).
bool HivedHasFlag(const std::string& hived, const std::string& flag);

// A self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost, made
// with the openssl CLI: `dir`/cert.pem and `dir`/key.pem. Dies on failure.
struct TlsFiles {
  std::string cert;
  std::string key;
};
TlsFiles MakeSelfSignedCert(const std::string& dir);

// The p-quantile (0..1) by the nearest-rank rule; 0 for no samples.
double Percentile(std::vector<double> samples, double p);

}  // namespace hive::bench
