// bench/agent: hive-agent's file → collector path, beside rsyslog.
//
// hive-agent (the real binary, production defaults) tails a file of N log
// lines (~250 bytes each, written before it starts) and ships them to a
// real hived (default roles, port 0) with durable acknowledgements; the
// time until hived acknowledged all N (the agent's
// hive_agent_lines_shipped_total on its admin endpoint) gives lines/s. The
// agent's CPU (cores = CPU time / wall time) and peak RSS are read from
// /proc while it works, then its CPU over an idle window with nothing to
// read. Twice: JSON lines (format: json), then the same events as plain
// text read with docs/agent.md's pattern (format: regex, RE2).
//
// The anchor, on the same machine and file: rsyslogd (Debian's rsyslog,
// imfile → omfwd over TCP) forwarding to a TCP sink in this process that
// counts lines — the classic "tail a file and ship it" daemon, with no
// durable acknowledgement at the far end.
//
// HIVE_BENCH_QUICK=1: 50,000 lines and short idle windows (well under 20 s).
// Usage: agent_bench <path to hived> <path to hive-agent>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hive/core/http_client.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  bool quick = false;
  int lines = 1'000'000;
  double idle_seconds = 10;
  double timeout_seconds = 300;
};

struct Usage {
  double cpu_seconds = 0;  // user + system
  double rss_mb = 0;       // VmRSS
  double peak_rss_mb = 0;  // VmHWM
};

Usage ReadUsage(pid_t pid) {
  Usage u;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  const size_t close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    std::vector<std::string> fields;
    while (rest >> field) fields.push_back(field);
    // After the command: state is field 3; utime and stime are fields 14, 15.
    if (fields.size() > 13) {
      const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
      u.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) u.rss_mb = std::atof(line.c_str() + 6) / 1024.0;
    if (line.starts_with("VmHWM:")) u.peak_rss_mb = std::atof(line.c_str() + 6) / 1024.0;
  }
  return u;
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

void Stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status;
  ::waitpid(pid, &status, 0);
}

// Polls until `f` returns true or `seconds` pass.
bool WaitFor(const std::function<bool()>& f, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

// The port from a JSON log line holding `needle`: `key` is either
// "port": (a number) or "addr":" (a "host:port" string).
int PortFromLog(const std::string& path, const std::string& needle, const std::string& key) {
  int port = 0;
  WaitFor(
      [&] {
        std::ifstream in(path);
        std::string line;
        while (std::getline(in, line)) {
          const size_t at = line.find(key);
          if (line.find(needle) == std::string::npos || at == std::string::npos) continue;
          const std::string rest = line.substr(at + key.size());
          if (key.ends_with("\"")) {
            const std::string value = rest.substr(0, rest.find('"'));
            port = std::atoi(value.c_str() + value.rfind(':') + 1);
          } else {
            port = std::atoi(rest.c_str());
          }
          if (port > 0) return true;
        }
        return false;
      },
      10);
  return port;
}

// The line formats the agent is measured on.
enum class Format { kJson, kRegex };

// docs/agent.md's example pattern, for the plain-text lines.
constexpr char kPattern[] = R"((?<ts>\S+) (?<level>\w+) (?<message>.*)$)";

// N lines of the same events: JSON objects, or plain text
// "<RFC 3339> <level> <message with the trace and status>" of a similar size.
std::string WriteLogFile(const std::string& path, int lines, Format format) {
  std::mt19937_64 rng(7);
  static constexpr const char* kLevels[] = {"info", "info", "info", "debug", "warn", "error"};
  std::ofstream out(path, std::ios::binary);
  char line[512];
  for (int i = 0; i < lines; ++i) {
    const char* fmt =
        format == Format::kJson
            ? "{\"time\":\"2026-11-22T10:%02d:%02d.%06dZ\",\"level\":\"%s\",\"msg\":\"handled "
              "request %d for customer %llu in %llu ms\",\"traceparent\":\"00-%016llx%016llx-"
              "%016llx-01\",\"http.status_code\":%d,\"route\":\"/api/v1/orders/{id}\"}\n"
            : "2026-11-22T10:%02d:%02d.%06dZ %s handled request %d for customer %llu in %llu ms "
              "traceparent=00-%016llx%016llx-%016llx-01 http.status_code=%d "
              "route=/api/v1/orders/{id} client=10.1.2.3 region=eu-west-1 pod=orders-7d\n";
    const int n = std::snprintf(
        line, sizeof line, fmt, (i / 60'000'000) % 60, (i / 1'000'000) % 60, i % 1'000'000,
        kLevels[rng() % 6], i, static_cast<unsigned long long>(rng() % 50'000),
        static_cast<unsigned long long>(rng() % 900), static_cast<unsigned long long>(rng()),
        static_cast<unsigned long long>(rng()), static_cast<unsigned long long>(rng()),
        rng() % 10 == 0 ? 503 : 200);
    out.write(line, n);
  }
  return path;
}

struct Result {
  double seconds = 0;
  double lines_per_s = 0;
  double cores = 0;
  double peak_rss_mb = 0;
  double idle_cpu_pct = 0;
  bool ok = false;
};

// Samples the process while `done` is false; fills rate, cores, RSS, idle.
Result Measure(pid_t pid, int lines, const Config& cfg, const std::function<uint64_t()>& count) {
  Result r;
  const auto start = Clock::now();
  const Usage before = ReadUsage(pid);
  r.ok = WaitFor([&] { return count() >= static_cast<uint64_t>(lines); }, cfg.timeout_seconds);
  const auto end = Clock::now();
  const Usage after = ReadUsage(pid);
  r.seconds = std::chrono::duration<double>(end - start).count();
  r.lines_per_s = lines / r.seconds;
  r.cores = (after.cpu_seconds - before.cpu_seconds) / r.seconds;
  r.peak_rss_mb = after.peak_rss_mb;
  const Usage idle_start = ReadUsage(pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.idle_seconds));
  const Usage idle_end = ReadUsage(pid);
  r.idle_cpu_pct = 100.0 * (idle_end.cpu_seconds - idle_start.cpu_seconds) / cfg.idle_seconds;
  return r;
}

uint64_t ShippedLines(hive::HttpClient& admin) {
  auto r = admin.Get("/metrics");
  if (!r.ok() || !r->ok()) return 0;
  const std::string key = "hive_agent_lines_shipped_total ";
  const size_t at = r->body.find("\n" + key);
  if (at == std::string::npos) return 0;
  return static_cast<uint64_t>(std::atof(r->body.c_str() + at + 1 + key.size()));
}

Result RunAgent(const std::string& hived, const std::string& agent, const std::string& dir,
                const std::string& log, Format format, const Config& cfg) {
  Result r;
  std::filesystem::create_directories(dir);
  const pid_t hived_pid = Spawn(
      {hived, "--listen", "127.0.0.1:0", "--data-dir", dir + "/hived", "--access-log", "none"},
      dir + "/hived.err");
  std::filesystem::create_directories(dir + "/hived");
  const int port = PortFromLog(dir + "/hived.err", "listening", "\"addr\":\"");
  if (port <= 0) {
    std::cerr << "hived did not start; see " << dir << "/hived.err\n";
    Stop(hived_pid);
    return r;
  }
  const std::string yaml = dir + "/agent.yaml";
  std::ofstream(yaml) << "service: bench\ninstance: bench-1\nport: 9999\n"
                      << "control_plane: http://127.0.0.1:" << port << "\n"
                      << "logs:\n  - path: " << log << "\n"
                      << (format == Format::kRegex
                              ? std::string("    format: regex\n    pattern: '") + kPattern + "'\n"
                              : std::string())
                      << "spool:\n  dir: " << dir << "/spool\n"
                      << "admin: { listen: 127.0.0.1:0 }\n";
  const pid_t agent_pid = Spawn({agent, "--config", yaml}, dir + "/agent.err");
  const int admin_port = PortFromLog(dir + "/agent.err", "admin endpoint listening", "\"port\":");
  if (admin_port <= 0) {
    std::cerr << "hive-agent did not start; see " << dir << "/agent.err\n";
    Stop(agent_pid);
    Stop(hived_pid);
    return r;
  }
  hive::HttpClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(admin_port);
  auto admin = std::move(hive::HttpClient::Create(o).value());
  r = Measure(agent_pid, cfg.lines, cfg, [&] { return ShippedLines(*admin); });
  Stop(agent_pid);
  Stop(hived_pid);
  return r;
}

// A TCP sink counting the lines rsyslog forwards, on every connection at
// once: omfwd may open a new connection while its first one stays open.
class Sink {
 public:
  Sink() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Sink() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  uint64_t lines() const { return lines_; }

 private:
  void Serve() {
    std::vector<pollfd> fds{{fd_, POLLIN, 0}};
    char buf[1 << 16];
    while (!stop_) {
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (size_t i = fds.size(); i-- > 1;) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
          continue;
        }
        lines_ += static_cast<uint64_t>(std::count(buf, buf + n, '\n'));
      }
      if (fds[0].revents & POLLIN) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) fds.push_back({c, POLLIN, 0});
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) ::close(fds[i].fd);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_ = false;
  std::atomic<uint64_t> lines_ = 0;
  std::thread thread_;
};

std::optional<Result> RunRsyslog(const std::string& dir, const std::string& log,
                                 const Config& cfg) {
  const char* candidates[] = {"/usr/sbin/rsyslogd", "/sbin/rsyslogd"};
  std::string rsyslogd;
  for (const char* c : candidates) {
    if (::access(c, X_OK) == 0) rsyslogd = c;
  }
  if (rsyslogd.empty()) return std::nullopt;
  Sink sink;
  std::filesystem::create_directories(dir + "/rsyslog");
  const std::string conf = dir + "/rsyslog.conf";
  std::ofstream(conf)
      << "global(workDirectory=\"" << dir << "/rsyslog\" maxMessageSize=\"64k\")\n"
      << "module(load=\"imfile\")\n"
      << "input(type=\"imfile\" file=\"" << log
      << "\" tag=\"bench\" ruleset=\"fwd\" freshStartTail=\"off\")\n"
      << "template(name=\"raw\" type=\"string\" string=\"%msg%\\n\")\n"
      << "ruleset(name=\"fwd\") { action(type=\"omfwd\" target=\"127.0.0.1\" port=\"" << sink.port()
      << "\" protocol=\"tcp\" template=\"raw\") }\n";
  const pid_t pid =
      Spawn({rsyslogd, "-n", "-f", conf, "-i", dir + "/rsyslog.pid"}, dir + "/rsyslog.err");
  if (pid <= 0) return std::nullopt;
  Result r = Measure(pid, cfg.lines, cfg, [&] { return sink.lines(); });
  Stop(pid);
  return r;
}

void PrintRow(const char* name, const Result& r) {
  std::printf("| %-48s | %10.0f | %6.2f | %8.1f | %6.2f |%s\n", name, r.lines_per_s, r.cores,
              r.peak_rss_mb, r.idle_cpu_pct, r.ok ? "" : " (incomplete)");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: agent_bench <hived> <hive-agent>\n";
    return 2;
  }
  Config cfg;
  if (const char* q = std::getenv("HIVE_BENCH_QUICK"); q != nullptr && std::string(q) == "1") {
    cfg.quick = true;
    cfg.lines = 50'000;
    cfg.idle_seconds = 2;
    cfg.timeout_seconds = 30;
  }
  char tmpl[] = "/tmp/hive-agent-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string log = WriteLogFile(dir + "/app.log", cfg.lines, Format::kJson);
  const std::string plain = WriteLogFile(dir + "/plain.log", cfg.lines, Format::kRegex);
  std::printf("agent bench: %d lines of %.0f bytes (JSON), %.0f bytes (plain text)%s\n", cfg.lines,
              static_cast<double>(std::filesystem::file_size(log)) / cfg.lines,
              static_cast<double>(std::filesystem::file_size(plain)) / cfg.lines,
              cfg.quick ? " (quick)" : "");
  const Result agent = RunAgent(argv[1], argv[2], dir + "/json", log, Format::kJson, cfg);
  const Result regex = RunAgent(argv[1], argv[2], dir + "/regex", plain, Format::kRegex, cfg);
  const auto anchor = RunRsyslog(dir, log, cfg);
  std::printf("\n| %-48s | %10s | %6s | %8s | %6s |\n", "path", "lines/s", "cores", "RSS MB",
              "idle %");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(50, '-').c_str(), std::string(12, '-').c_str(),
              std::string(8, '-').c_str(), std::string(10, '-').c_str(),
              std::string(8, '-').c_str());
  PrintRow("hive-agent file -> hived, json (durable acks)", agent);
  PrintRow("hive-agent file -> hived, regex (durable acks)", regex);
  if (anchor) {
    PrintRow("rsyslog imfile -> omfwd TCP sink (anchor)", *anchor);
    if (anchor->ok && anchor->lines_per_s > 0) {
      std::printf("\nhive-agent / rsyslog: %.2fx lines/s, %.2fx CPU per line\n",
                  agent.lines_per_s / anchor->lines_per_s,
                  anchor->cores > 0
                      ? (agent.cores / agent.lines_per_s) / (anchor->cores / anchor->lines_per_s)
                      : 0.0);
    }
  } else {
    std::printf("| %-48s | not installed (apt-get install rsyslog) |\n", "rsyslog");
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return agent.ok && regex.ok ? 0 : 1;
}
