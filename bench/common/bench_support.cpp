#include "bench_support.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

extern "C" char** environ;

namespace hive::bench {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// The ChildProcesses alive, so that Die() does not leave servers behind.
std::mutex children_mu;
std::set<pid_t> children;  // guarded by children_mu

void StopChild(pid_t pid) {
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace

void Die(const std::string& what) {
  std::cerr << program_invocation_short_name << ": " << what << "\n";
  std::set<pid_t> left;
  {
    std::lock_guard lock(children_mu);
    left.swap(children);
  }
  for (pid_t pid : left) StopChild(pid);
  std::_Exit(1);  // other threads may still be running
}

void Phase(const std::string& what) {
  static const auto start = SteadyClock::now();
  std::fprintf(stderr, "[%6.1f s] %s\n",
               std::chrono::duration<double>(SteadyClock::now() - start).count(), what.c_str());
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Die("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

unsigned long RaiseOpenFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return static_cast<unsigned long>(lim.rlim_cur);
}

ProcStat ReadProc(pid_t pid) {
  ProcStat s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = content.rfind(')');
  if (paren == std::string::npos) return s;
  // The fields after the parenthesised command name; utime and stime are 14 and 15.
  std::istringstream rest(content.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  s.cpu_seconds = (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mb = std::stod(line.substr(6)) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) s.peak_rss_mb = std::stod(line.substr(6)) / 1024;
    if (line.rfind("Threads:", 0) == 0) s.threads = std::stoi(line.substr(8));
  }
  return s;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log) {
  pid_ = Spawn(argv, log);
  if (pid_ < 0) Die("cannot start " + argv[0]);
  std::lock_guard lock(children_mu);
  children.insert(pid_);
}

ChildProcess::~ChildProcess() {
  {
    std::lock_guard lock(children_mu);
    children.erase(pid_);
  }
  if (!reaped_) StopChild(pid_);
}

bool ChildProcess::Running() {
  if (!reaped_ && ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
    reaped_ = true;
    std::lock_guard lock(children_mu);
    children.erase(pid_);
  }
  return !reaped_;
}

int RunCommand(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = Spawn(argv, log);
  if (pid < 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HivedHasFlag(const std::string& hived, const std::string& flag) {
  char tmpl[] = "/tmp/hive-bench-help-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) return false;
  ::close(fd);
  RunCommand({hived, "--help"}, tmpl);
  std::ifstream in(tmpl);
  const std::string help((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(tmpl);
  return help.find(flag) != std::string::npos;
}

TlsFiles MakeSelfSignedCert(const std::string& dir) {
  TlsFiles f{dir + "/cert.pem", dir + "/key.pem"};
  const int rc = RunCommand(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", f.key, "-out", f.cert, "-days", "2", "-subj", "/CN=127.0.0.1",
       "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
      dir + "/openssl.log");
  if (rc != 0) Die("openssl could not make a certificate (see " + dir + "/openssl.log)");
  return f;
}

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t i =
      std::min(samples.size() - 1, static_cast<size_t>(p * static_cast<double>(samples.size())));
  return samples[i];
}

}  // namespace hive::bench
