// bench_config: how long a config push takes to be applied by N watching
// agents (target: 500 agents, p99 ≤ 2 s).
//
// hived runs as a real process (port 0, its own data dir, --roles config).
// The agents are simulated: N threads of this process, each with its own
// HTTP connection doing what hive-agent's config watch does — a blocking
// GET /api/v1/config/{app}/{profile}?index=&wait=, and on a new version a
// PUT .../applied/{instance}. A sample is the time from just before the
// operator's PUT of a new version to the moment that agent's applied report
// was acknowledged. Rendering a file and running on_change are not included.
//
// Usage: config_bench <path to hived>. HIVE_BENCH_QUICK=1: 20 agents, 3 pushes.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hive/core/http_client.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kDoc[] = "/api/v1/config/bench/prod";

struct Settings {
  int agents = 500;
  int pushes = 20;
};

// hived as a child process, its stderr in a file we poll for the address.
class Hived {
 public:
  Hived(const std::string& binary, const std::string& dir, int http_threads) {
    std::filesystem::create_directories(dir + "/data");
    log_path_ = dir + "/hived.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      const std::string threads = std::to_string(http_threads);
      const std::string data = dir + "/data";
      ::execl(binary.c_str(), binary.c_str(), "--listen", "127.0.0.1:0", "--data-dir", data.c_str(),
              "--roles", "config", "--http-threads", threads.c_str(), "--access-log", "none",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Hived() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  // The "listening" line's address, or "" when hived did not start in time.
  std::string WaitForAddress() {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      std::ifstream in(log_path_);
      std::string line;
      while (std::getline(in, line)) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.value("msg", "") == "listening") return j.value("addr", "");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "";
  }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

std::unique_ptr<hive::HttpClient> Connect(const std::string& addr) {
  hive::HttpClientOptions o;
  o.base_url = "http://" + addr;
  o.read_timeout = std::chrono::seconds(90);
  auto c = hive::HttpClient::Create(o);
  if (!c.ok()) {
    std::cerr << "config_bench: " << c.status().ToString() << '\n';
    std::exit(1);
  }
  return std::move(*c);
}

// Every agent's applied time per push, and a count the pusher waits on.
class Results {
 public:
  Results(int agents, int pushes)
      : applied_at_(pushes + 1, std::vector<Clock::time_point>(agents)), counts_(pushes + 1, 0) {}
  void Applied(int version, int agent) {
    std::lock_guard lock(mu_);
    if (version < 1 || version >= static_cast<int>(counts_.size())) return;
    applied_at_[version][agent] = Clock::now();
    ++counts_[version];
    cv_.notify_all();
  }
  bool WaitAll(int version, int agents, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return counts_[version] == agents; });
  }
  std::vector<Clock::time_point> Times(int version) {
    std::lock_guard lock(mu_);
    return applied_at_[version];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<Clock::time_point>> applied_at_;
  std::vector<int> counts_;
};

void RunAgent(const std::string& addr, int id, const std::atomic<bool>& stop, Results& results) {
  auto client = Connect(addr);
  const std::string instance = "agent-" + std::to_string(id);
  std::optional<int64_t> index;  // none until the first answer
  int64_t applied = 0;
  while (!stop) {
    const std::string target =
        std::string(kDoc) + (index ? "?index=" + std::to_string(*index) + "&wait=60s" : "");
    auto r = client->Get(target);
    if (!r.ok() || !r->ok()) continue;
    json body = json::parse(r->body, nullptr, false);
    if (!body.is_object()) continue;
    index = body.value("index", int64_t{0});
    const int64_t version = body.value("version", int64_t{0});
    if (version <= applied) continue;
    auto put = client->Send("PUT", std::string(kDoc) + "/applied/" + instance,
                            json{{"version", version}, {"status", "applied"}}.dump());
    if (put.ok() && put->ok()) {
      applied = version;
      results.Applied(static_cast<int>(version), id);
    }
  }
}

// hive_config_blocked_watchers from hived's /metrics.
int BlockedWatchers(hive::HttpClient& client) {
  auto r = client.Get("/metrics");
  if (!r.ok()) return -1;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("hive_config_blocked_watchers ")) {
      return static_cast<int>(std::stod(line.substr(line.find(' ') + 1)));
    }
  }
  return -1;
}

bool WaitForWatchers(hive::HttpClient& client, int n) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    if (BlockedWatchers(client) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: config_bench <path to hived>\n";
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  Settings settings;
  if (const char* quick = std::getenv("HIVE_BENCH_QUICK"); quick && std::string(quick) == "1") {
    settings = {20, 3};
  }
  char tmpl[] = "/tmp/hive-config-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  int rc = 0;
  {
    // Each blocked watcher holds one hived worker; leave room for the pushes,
    // the reports and /metrics.
    Hived hived(argv[1], dir, settings.agents + 64);
    const std::string addr = hived.WaitForAddress();
    if (addr.empty()) {
      std::cerr << "config_bench: hived did not start; see " << dir << "/hived.log\n";
      return 1;
    }
    auto op = Connect(addr);
    Results results(settings.agents, settings.pushes);
    std::atomic<bool> stop = false;
    std::vector<std::thread> agents;
    for (int i = 0; i < settings.agents; ++i) {
      agents.emplace_back(RunAgent, addr, i, std::cref(stop), std::ref(results));
    }

    std::vector<double> samples_ms;
    std::vector<double> all_applied_ms;
    for (int v = 1; v <= settings.pushes && rc == 0; ++v) {
      if (!WaitForWatchers(*op, settings.agents)) {
        std::cerr << "config_bench: not every agent is watching\n";
        rc = 1;
        break;
      }
      const auto t0 = Clock::now();
      auto push = op->Send("PUT", kDoc, json{{"push", v}, {"feature.enabled", v % 2 == 0}}.dump());
      if (!push.ok() || !push->ok()) {
        std::cerr << "config_bench: push failed\n";
        rc = 1;
        break;
      }
      if (!results.WaitAll(v, settings.agents, std::chrono::seconds(60))) {
        std::cerr << "config_bench: push " << v << " was not applied by every agent in 60 s\n";
        rc = 1;
        break;
      }
      double slowest = 0;
      for (const auto& t : results.Times(v)) {
        const double ms = std::chrono::duration<double, std::milli>(t - t0).count();
        samples_ms.push_back(ms);
        slowest = std::max(slowest, ms);
      }
      all_applied_ms.push_back(slowest);
    }
    stop = true;
    // One last change wakes every watcher so it sees `stop`.
    (void)op->Send("PUT", kDoc, R"({"push":"stop"})");
    for (auto& t : agents) t.join();

    if (rc == 0) {
      const double p99 = Percentile(samples_ms, 0.99);
      std::printf(
          "\nconfig push -> applied, %d simulated agents (threads, blocking GET + PUT "
          "applied), %d pushes, hived as a process\n",
          settings.agents, settings.pushes);
      std::printf("| metric | value |\n|---|---|\n");
      std::printf("| samples | %zu |\n", samples_ms.size());
      std::printf("| p50 push -> applied | %.1f ms |\n", Percentile(samples_ms, 0.50));
      std::printf("| p99 push -> applied | %.1f ms |\n", p99);
      std::printf("| max push -> applied | %.1f ms |\n", Percentile(samples_ms, 1.0));
      std::printf("| median time until all %d applied | %.1f ms |\n", settings.agents,
                  Percentile(all_applied_ms, 0.5));
      std::printf("| p99 vs target (2000 ms) | %.2fx |\n", p99 / 2000.0);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
