#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace hive::agent {
namespace {

using Steady = std::chrono::steady_clock;

int RemainingMs(Steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

Result<pid_t> Spawn(const std::vector<std::string>& argv_in, int stdout_fd, int stderr_fd,
                    bool null_stdin) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (null_stdin) posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The agent blocks the termination signals and ignores SIGPIPE; what it
  // starts must not inherit that.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<char*> argv;
  for (const auto& a : argv_in) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status::FailedPrecondition("cannot run '" + argv_in[0] + "': " + std::strerror(rc));
  }
  return pid;
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv_in, Duration timeout,
                                 size_t max_output) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return Status::Unavailable(std::string("pipe: ") + std::strerror(errno));
  }
  ::fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  Result<pid_t> spawned = Spawn(argv_in, pipefd[1], pipefd[1], /*null_stdin=*/true);
  ::close(pipefd[1]);
  if (!spawned.ok()) {
    ::close(pipefd[0]);
    return spawned.status();
  }
  const pid_t pid = *spawned;

  std::string output;
  auto drain = [&](int fd) {  // false at end of file
    char buf[1024];
    while (true) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        if (output.size() < max_output) {
          output.append(buf, std::min(static_cast<size_t>(n), max_output - output.size()));
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0;  // EAGAIN: more may come
    }
  };

  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  const auto deadline = Steady::now() + timeout;
  bool timed_out = pidfd < 0;  // without a pidfd the wait cannot be bounded: give up
  bool pipe_open = true;
  while (!timed_out) {
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {pipe_open ? pipefd[0] : -1, POLLIN, 0}};
    const int n = ::poll(fds, 2, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = true;
      break;
    }
    if (fds[1].revents != 0) pipe_open = drain(pipefd[0]);
    if (fds[0].revents != 0) break;
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (pipe_open) drain(pipefd[0]);
  ::close(pipefd[0]);
  if (pidfd >= 0) ::close(pidfd);

  CommandResult result;
  result.timed_out = timed_out;
  result.wstatus = wstatus;
  result.output = std::move(output);
  return result;
}

}  // namespace hive::agent
