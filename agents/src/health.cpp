#include "hive/agent/health.h"

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "hive/core/text.h"
#include "subprocess.h"

namespace hive::agent {
namespace {

constexpr size_t kMaxOutput = 4096;

using Steady = std::chrono::steady_clock;

HealthResult MakeResult(std::string status, std::string output) {
  HealthResult r;
  r.status = std::move(status);
  r.output = std::move(output);
  return r;
}

int RemainingMs(Steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

HealthResult HealthChecker::Check() {
  switch (config_.kind) {
    case HealthKind::kNone:
      return {};
    case HealthKind::kHttp:
      return CheckHttp();
    case HealthKind::kTcp:
      return CheckTcp();
    case HealthKind::kExec:
      return CheckExec();
  }
  return {};
}

HealthResult HealthChecker::CheckHttp() {
  std::string_view url = config_.http_url;
  const size_t path_at = url.find('/', std::string_view("http://").size());
  HttpClientOptions o;
  o.base_url = std::string(url.substr(0, path_at));
  o.connect_timeout = config_.timeout;
  o.read_timeout = config_.timeout;
  o.write_timeout = config_.timeout;
  auto client = HttpClient::Create(o);
  if (!client.ok()) return MakeResult("critical", client.status().message());
  const std::string target =
      path_at == std::string_view::npos ? "/" : std::string(url.substr(path_at));
  auto r = (*client)->Get(target);
  if (!r.ok()) return MakeResult("critical", r.status().message());
  std::string output = "HTTP " + std::to_string(r->status);
  if (r->ok()) return MakeResult("passing", output);
  if (!r->body.empty()) output += ": " + r->body.substr(0, 200);
  return MakeResult("critical", output);
}

HealthResult HealthChecker::CheckTcp() {
  std::string host;
  int port = 0;
  if (Status s = ParseHostPort(config_.tcp_address, &host, &port); !s.ok()) {
    return MakeResult("critical", s.message());
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
      rc != 0) {
    return MakeResult("critical", "cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  const auto deadline = Steady::now() + config_.timeout;
  std::string error = "no address for " + host;
  bool connected = false;
  for (addrinfo* ai = res; ai != nullptr && !connected; ai = ai->ai_next) {
    const int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, RemainingMs(deadline));
      if (rc == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        rc = -1;
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0)
      connected = true;
    else
      error = std::string(std::strerror(errno));
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (connected) return MakeResult("passing", "connected to " + config_.tcp_address);
  return MakeResult("critical", "cannot connect to " + config_.tcp_address + ": " + error);
}

HealthResult HealthChecker::CheckExec() {
  auto r = RunCommand(config_.exec_argv, config_.timeout, kMaxOutput);
  if (!r.ok()) return MakeResult("critical", r.status().message());
  std::string out(Trim(r->output));
  if (r->timed_out) {
    return MakeResult("critical", "health check " + config_.exec_argv.back() + " timed out after " +
                                      FormatDuration(config_.timeout) +
                                      (out.empty() ? "" : ": " + out));
  }
  const int wstatus = r->wstatus;
  if (WIFEXITED(wstatus)) {
    const int code = WEXITSTATUS(wstatus);
    if (code == 0) return MakeResult("passing", out);
    if (code == 1) return MakeResult("warning", out);
    return MakeResult("critical", out.empty() ? "exit status " + std::to_string(code) : out);
  }
  return MakeResult("critical", "killed by signal " + std::to_string(WTERMSIG(wstatus)));
}

}  // namespace hive::agent
