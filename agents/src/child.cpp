#include "hive/agent/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "backoff.h"
#include "hive/agent/tailer.h"
#include "hive/core/log.h"
#include "hive/core/text.h"
#include "subprocess.h"

namespace hive::agent {
namespace {

using Steady = std::chrono::steady_clock;

void WriteAllIgnoringErrors(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    data += w;
    n -= static_cast<size_t>(w);
  }
}

int CodeOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 1;
}

// Splits one pipe's bytes into lines; cuts over-long ones.
struct LineSplitter {
  bool is_stderr = false;
  std::string buf;
  bool skipping = false;  // dropping the rest of an over-long line

  void Add(const char* data, size_t n, const ChildSupervisor::OnLine& on_line) {
    buf.append(data, n);
    size_t pos = 0;
    while (true) {
      const size_t nl = buf.find('\n', pos);
      if (nl == std::string::npos) break;
      if (skipping) {
        skipping = false;
      } else {
        on_line(is_stderr, std::string_view(buf).substr(pos, nl - pos), false);
      }
      pos = nl + 1;
    }
    buf.erase(0, pos);
    if (!skipping && buf.size() >= LogTailer::kDefaultMaxLine) {
      on_line(is_stderr, std::string_view(buf).substr(0, LogTailer::kDefaultMaxLine), true);
      skipping = true;
    }
    if (skipping) buf.clear();
  }
  void Finish(const ChildSupervisor::OnLine& on_line) {
    if (!skipping && !buf.empty()) on_line(is_stderr, buf, false);
    buf.clear();
    skipping = false;
  }
};

}  // namespace

ChildSupervisor::ChildSupervisor(ExecConfig config, AgentOptions options, AgentMetrics& metrics,
                                 OnLine on_line)
    : config_(std::move(config)),
      options_(options),
      metrics_(metrics),
      on_line_(std::move(on_line)) {}

ChildSupervisor::~ChildSupervisor() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status ChildSupervisor::Spawn() {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::Unavailable(std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Status::Unavailable(std::strerror(errno));
  }
  // The service keeps the agent's stdin; signals reach its whole group.
  Result<pid_t> spawned = agent::Spawn(config_.command, out[1], err[1], /*null_stdin=*/false);
  ::close(out[1]);
  ::close(err[1]);
  if (!spawned.ok()) {
    ::close(out[0]);
    ::close(err[0]);
    return spawned.status();
  }
  const pid_t pid = *spawned;
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  out_fd_ = out[0];
  err_fd_ = err[0];
  pid_ = pid;
  log::Info("service started",
            {{"pid", static_cast<int64_t>(pid)}, {"command", config_.command[0]}});
  return Status::Ok();
}

Status ChildSupervisor::Start() {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::Unavailable(std::string("eventfd: ") + std::strerror(errno));
  {
    std::lock_guard lock(mu_);
    HIVE_RETURN_IF_ERROR(Spawn());
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

int ChildSupervisor::Supervise() {
  const pid_t pid = pid_.load();
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  LineSplitter splitters[2];
  splitters[1].is_stderr = true;
  int fds[2] = {out_fd_, err_fd_};
  int wstatus = 0;
  bool child_done = false;
  char buf[65536];
  while (true) {
    if (child_done && fds[0] < 0 && fds[1] < 0) break;
    pollfd p[3] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {child_done ? -1 : pidfd, POLLIN, 0}};
    // After the exit, a grandchild may keep the pipes open: wait briefly.
    const int timeout = child_done ? 200 : (pidfd < 0 ? 100 : -1);
    const int n = ::poll(p, 3, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && child_done) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || p[i].revents == 0) continue;
      while (true) {
        const ssize_t r = ::read(fds[i], buf, sizeof buf);
        if (r > 0) {
          WriteAllIgnoringErrors(i == 0 ? 1 : 2, buf, static_cast<size_t>(r));
          splitters[i].Add(buf, static_cast<size_t>(r), on_line_);
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {  // end of file
          splitters[i].Finish(on_line_);
          ::close(fds[i]);
          fds[i] = -1;
        }
        break;
      }
    }
    if (!child_done && (pidfd < 0 || p[2].revents != 0)) {
      const pid_t w = ::waitpid(pid, &wstatus, WNOHANG);
      if (w == pid || (w < 0 && errno == ECHILD)) child_done = true;
    }
  }
  for (int i = 0; i < 2; ++i) {
    splitters[i].Finish(on_line_);
    if (fds[i] >= 0) ::close(fds[i]);
  }
  out_fd_ = err_fd_ = -1;
  if (pidfd >= 0) ::close(pidfd);
  return wstatus;
}

void ChildSupervisor::Run() {
  Backoff backoff(options_.restart_initial, options_.restart_max);
  auto finish = [&](std::optional<int> code) {
    std::lock_guard lock(mu_);
    exited_ = true;
    if (code) exit_code_ = code;
    cv_.notify_all();
  };
  while (true) {
    const auto started = Steady::now();
    const int wstatus = Supervise();
    pid_ = 0;
    const int code = CodeOf(wstatus);
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        log::Info("service stopped", {{"exit_code", code}});
        exited_ = true;
        cv_.notify_all();
        return;
      }
    }
    const bool failed = !(WIFEXITED(wstatus) && code == 0);
    if (!failed || !config_.restart_on_failure) {
      log::Info("service exited; not restarting it", {{"exit_code", code}});
      finish(code);
      return;
    }
    if (Steady::now() - started >= options_.restart_reset_after) backoff.Reset();
    while (true) {
      const Duration pause = backoff.Next();
      log::Warn("service failed; restarting it",
                {{"exit_code", code}, {"restart_in", FormatDuration(pause)}});
      pollfd p{wake_fd_, POLLIN, 0};
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(pause).count();
      while (::poll(&p, 1, static_cast<int>(ms)) < 0 && errno == EINTR) {
      }
      std::lock_guard lock(mu_);
      if (stopping_) {
        exited_ = true;
        cv_.notify_all();
        return;
      }
      const Status s = Spawn();
      if (s.ok()) break;
      log::Error("cannot restart the service", {{"error", s.ToString()}});
    }
    metrics_.AddChildRestart();
  }
}

void ChildSupervisor::Signal(int sig) {
  const pid_t p = pid_.load();
  if (p > 0) ::kill(-p, sig);
}

bool ChildSupervisor::Stop(int sig) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return true;
    stopping_ = true;
  }
  if (!thread_.joinable()) return true;
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  Signal(sig);
  bool in_time = true;
  {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, config_.stop_timeout, [&] { return exited_; })) {
      in_time = false;
      log::Warn("service did not stop in time; killing it",
                {{"stop_timeout", FormatDuration(config_.stop_timeout)}});
      const pid_t p = pid_.load();
      if (p > 0) ::kill(-p, SIGKILL);
    }
  }
  thread_.join();
  return in_time;
}

std::optional<int> ChildSupervisor::exit_code() const {
  std::lock_guard lock(mu_);
  return exit_code_;
}

}  // namespace hive::agent
