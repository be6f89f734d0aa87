// registry_bench: hived's service registry against a real etcd, side by side
// on the same machine, through each one's HTTP API with keep-alive clients on
// several threads:
//   registrations/s   hived PUT .../instances/{id}   | etcd lease grant + put
//   heartbeats/s      hived PUT .../heartbeat        | etcd lease keep-alive
//   lookups/s         hived GET ?healthy=true        | etcd range over a prefix
//   watch latency     blocked queries (p50/p99)      | watch streams
//   eviction delay    last renewal -> gone from healthy results / key deleted
// Both servers run as real processes on loopback with a temporary data dir.
// HIVE_BENCH_QUICK=1 shrinks every size so a run takes seconds.
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
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
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hive/core/http_client.h"

namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using hive::HttpClient;

extern "C" char** environ;

struct Sizes {
  int threads = 4;        // client threads for throughput runs
  int instances = 10000;  // registered, then heartbeated
  double seconds = 10;    // per throughput run
  int watchers = 2000;
  int changes = 20;     // watch latency samples per watcher
  int evictions = 5;    // instances left to expire
  int lease_ttl_s = 3;  // for the eviction run; heartbeats every second
};

Sizes ChooseSizes() {
  Sizes s;
  const char* quick = std::getenv("HIVE_BENCH_QUICK");
  if (quick != nullptr && std::string(quick) == "1") {
    s.instances = 500;
    s.seconds = 1;
    s.changes = 3;  // still 2,000 watchers: holding them is the point
    s.evictions = 3;
  }
  return s;
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "registry_bench: " << what << "\n";
  std::exit(1);
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

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// A server under test: a child process with its output in a log file.
class Server {
 public:
  Server(const std::vector<std::string>& argv, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) {
      Die("cannot start " + argv[0]);
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Server() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

std::unique_ptr<HttpClient> Client(const std::string& base,
                                   std::chrono::seconds read_timeout = std::chrono::seconds(30)) {
  hive::HttpClientOptions o;
  o.base_url = base;
  o.connect_timeout = std::chrono::seconds(30);  // a burst of connects may see SYN retries
  o.read_timeout = read_timeout;
  auto c = HttpClient::Create(o);
  if (!c.ok()) Die(c.status().ToString());
  return std::move(*c);
}

hive::HttpClientResponse MustSend(HttpClient& c, std::string_view method, std::string_view target,
                                  std::string_view body = {}) {
  auto r = c.Send(method, target, body);
  if (!r.ok()) Die(std::string(method) + " " + std::string(target) + ": " + r.status().ToString());
  if (!r->ok()) Die(std::string(method) + " " + std::string(target) + ": " + r->body);
  return std::move(*r);
}

void WaitUntilUp(const std::string& base, const std::string& path) {
  auto c = Client(base);
  auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  while (SteadyClock::now() < deadline) {
    auto r = c->Get(path);
    if (r.ok() && r->ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Die(base + path + " did not come up");
}

// Runs `op(client, i)` on `threads` threads, i counting up per thread from
// thread*stride, until `total` ops ran (total > 0) or `seconds` passed.
double Throughput(const std::string& base, int threads, double seconds, long total,
                  const std::function<void(HttpClient&, long)>& op) {
  std::atomic<long> next{0};
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  std::atomic<long> done{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto c = Client(base);
      while (true) {
        const long i = next++;
        if (total > 0 ? i >= total : SteadyClock::now() >= end) break;
        op(*c, i);
        ++done;
      }
    });
  }
  for (auto& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return static_cast<double>(done.load()) / elapsed;
}

// Progress on stderr, so a slow phase shows where the time goes.
void Phase(const std::string& what) {
  static const auto start = SteadyClock::now();
  std::fprintf(stderr, "[%6.1f s] %s\n",
               std::chrono::duration<double>(SteadyClock::now() - start).count(), what.c_str());
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// Shared bookkeeping of a watch-latency run: change c was made at made[c];
// each watcher adds its arrival delay to `samples` and bumps seen[c].
struct WatchRun {
  explicit WatchRun(int changes) : made(changes), seen(changes) {}
  std::vector<SteadyClock::time_point> made;
  std::vector<std::atomic<int>> seen;
  std::mutex mu;
  std::vector<double> samples;  // ms
  std::atomic<bool> stop{false};

  void Arrived(int change) {
    const double ms =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - made[change]).count();
    {
      std::lock_guard lock(mu);
      samples.push_back(ms);
    }
    ++seen[change];
  }
  void AwaitSeen(int change, int n) {
    auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (seen[change].load() < n && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (seen[change].load() < n) Die("watchers missed change " + std::to_string(change));
  }
};

struct Results {
  double registrations = 0;
  double heartbeats = 0;
  double lookups = 0;
  double watch_p50 = 0;
  double watch_p99 = 0;
  double eviction_median = 0;
  double eviction_max = 0;
  long rss_kb_watching = 0;
};

// ---------------------------------------------------------------- hived

double HivedBlockedWatchers(HttpClient& c) {
  auto r = MustSend(c, "GET", "/metrics");
  const std::string key = "\nhive_registry_blocked_watchers ";
  auto pos = r.body.find(key);
  return pos == std::string::npos ? -1 : std::strtod(r.body.c_str() + pos + key.size(), nullptr);
}

std::string HivedRegistration(int ttl_s) {
  return R"({"address":"10.0.0.1","port":8080,"version":"1.0.0","tags":["bench"],"ttl":")" +
         std::to_string(ttl_s) + "s\"}";
}

Results BenchHived(const Sizes& z, const std::string& dir) {
  const int port = FreePort();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  // Self-preservation is off: the bench's instances go silent after the
  // heartbeat run, which would otherwise (rightly) hold the eviction run.
  Server server({HIVED_PATH, "--listen", "127.0.0.1:" + std::to_string(port), "--data-dir",
                 dir + "/hived", "--roles", "registry", "--access-log", "none", "--log-level",
                 "warn", "--registry-self-preservation", "0"},
                dir + "/hived.log");
  WaitUntilUp(base, "/healthz");
  Results res;

  const std::string body = HivedRegistration(60);
  res.registrations = Throughput(base, z.threads, 0, z.instances, [&](HttpClient& c, long i) {
    MustSend(c, "PUT", "/api/v1/services/bench/instances/i-" + std::to_string(i), body);
  });
  res.heartbeats = Throughput(base, z.threads, z.seconds, 0, [&](HttpClient& c, long i) {
    MustSend(
        c, "PUT",
        "/api/v1/services/bench/instances/i-" + std::to_string(i % z.instances) + "/heartbeat");
  });
  {
    auto c = Client(base);
    for (int i = 0; i < 10; ++i) {
      MustSend(*c, "PUT", "/api/v1/services/lookup/instances/l-" + std::to_string(i), body);
    }
  }
  res.lookups = Throughput(base, z.threads, z.seconds, 0, [&](HttpClient& c, long) {
    MustSend(c, "GET", "/api/v1/services/lookup?healthy=true");
  });

  Phase("hived: watchers");
  // Watch latency: every watcher blocks on "watched"; each change wakes all.
  {
    WatchRun run(z.changes);
    std::vector<std::thread> watchers;
    auto control = Client(base);
    auto watcher = [&] {
      auto c = Client(base, std::chrono::seconds(600));
      uint64_t index = std::stoull(MustSend(*c, "GET", "/api/v1/services/watched")
                                       .HeaderValue("X-Hive-Index")
                                       .value_or("0"));
      for (int change = 0;; ++change) {
        auto r =
            MustSend(*c, "GET", "/api/v1/services/watched?wait=5m&index=" + std::to_string(index));
        if (run.stop) return;
        index = std::stoull(r.HeaderValue("X-Hive-Index").value_or("0"));
        if (change < z.changes) run.Arrived(change);
      }
    };
    // Connect a few at a time: cpp-httplib 0.11 listens with a backlog of 5,
    // and a burst of connects beyond it sees SYNs dropped (1 s retries).
    constexpr int kBatch = 5;
    for (int started = 0; started < z.watchers;) {
      const int n = std::min(kBatch, z.watchers - started);
      for (int i = 0; i < n; ++i) watchers.emplace_back(watcher);
      started += n;
      auto deadline = SteadyClock::now() + std::chrono::seconds(60);
      while (HivedBlockedWatchers(*control) < started && SteadyClock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    res.rss_kb_watching = RssKb(server.pid());
    Phase("watchers connected");
    for (int change = 0; change < z.changes; ++change) {
      auto deadline = SteadyClock::now() + std::chrono::seconds(60);
      while (HivedBlockedWatchers(*control) < z.watchers && SteadyClock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      run.made[change] = SteadyClock::now();
      MustSend(*control, "PUT", "/api/v1/services/watched/instances/w-" + std::to_string(change),
               body);
      run.AwaitSeen(change, z.watchers);
    }
    run.stop = true;
    MustSend(*control, "PUT", "/api/v1/services/watched/instances/last", body);
    for (auto& t : watchers) t.join();
    res.watch_p50 = Percentile(run.samples, 0.50);
    res.watch_p99 = Percentile(run.samples, 0.99);
  }

  Phase("hived: eviction");
  // Eviction: instances heartbeat every second, then stop; how long after the
  // last heartbeat until each leaves healthy results.
  {
    auto c = Client(base);
    const std::string evict_body = HivedRegistration(z.lease_ttl_s);
    for (int i = 0; i < z.evictions; ++i) {
      MustSend(*c, "PUT", "/api/v1/services/evict/instances/e-" + std::to_string(i), evict_body);
    }
    for (int round = 0; round < z.lease_ttl_s; ++round) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      for (int i = 0; i < z.evictions; ++i) {
        MustSend(*c, "PUT",
                 "/api/v1/services/evict/instances/e-" + std::to_string(i) + "/heartbeat");
      }
    }
    const auto last = SteadyClock::now();
    std::vector<double> delays;
    std::set<std::string> present;
    for (int i = 0; i < z.evictions; ++i) present.insert("e-" + std::to_string(i));
    auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (!present.empty() && SteadyClock::now() < deadline) {
      json got = json::parse(MustSend(*c, "GET", "/api/v1/services/evict?healthy=true").body);
      std::set<std::string> now_present;
      for (const json& i : got["instances"]) now_present.insert(i["id"].get<std::string>());
      for (const std::string& id : present) {
        if (!now_present.contains(id)) {
          delays.push_back(std::chrono::duration<double>(SteadyClock::now() - last).count());
        }
      }
      present = std::move(now_present);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    res.eviction_median = Percentile(delays, 0.5);
    res.eviction_max = Percentile(delays, 1.0);
  }
  return res;
}

// ---------------------------------------------------------------- etcd

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63],
            kAlphabet[n & 63]};
  }
  if (i + 1 == in.size()) {
    const uint32_t n = uint8_t(in[i]) << 16;
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

// {"key": ..., "range_end": ...} covering every key under `prefix`.
json PrefixRange(const std::string& prefix) {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  return json{{"key", Base64(prefix)}, {"range_end", Base64(end)}};
}

std::string EtcdGrant(HttpClient& c, int ttl_s) {
  json r = json::parse(MustSend(c, "POST", "/v3/lease/grant", json{{"TTL", ttl_s}}.dump()).body);
  return r.at("ID").get<std::string>();
}

void EtcdPut(HttpClient& c, const std::string& key, const std::string& lease) {
  const std::string value = R"({"address":"10.0.0.1","port":8080,"version":"1.0.0"})";
  MustSend(c, "POST", "/v3/kv/put",
           json{{"key", Base64(key)}, {"value", Base64(value)}, {"lease", lease}}.dump());
}

void EtcdKeepAlive(HttpClient& c, const std::string& lease) {
  MustSend(c, "POST", "/v3/lease/keepalive", json{{"ID", lease}}.dump());
}

Results BenchEtcd(const Sizes& z, const std::string& dir) {
  const int client_port = FreePort();
  const int peer_port = FreePort();
  const std::string base = "http://127.0.0.1:" + std::to_string(client_port);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
  Server server(
      {"etcd", "--name", "bench", "--data-dir", dir + "/etcd", "--listen-client-urls", base,
       "--advertise-client-urls", base, "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
       peer, "--initial-cluster", "bench=" + peer, "--log-level", "warn"},
      dir + "/etcd.log");
  WaitUntilUp(base, "/health");
  Results res;

  std::vector<std::string> leases(static_cast<size_t>(z.instances));
  res.registrations = Throughput(base, z.threads, 0, z.instances, [&](HttpClient& c, long i) {
    leases[static_cast<size_t>(i)] = EtcdGrant(c, 60);
    EtcdPut(c, "/services/bench/i-" + std::to_string(i), leases[static_cast<size_t>(i)]);
  });
  res.heartbeats = Throughput(base, z.threads, z.seconds, 0, [&](HttpClient& c, long i) {
    EtcdKeepAlive(c, leases[static_cast<size_t>(i % z.instances)]);
  });
  {
    auto c = Client(base);
    const std::string lease = EtcdGrant(*c, 600);
    for (int i = 0; i < 10; ++i) EtcdPut(*c, "/services/lookup/l-" + std::to_string(i), lease);
  }
  const std::string range = PrefixRange("/services/lookup/").dump();
  res.lookups = Throughput(base, z.threads, z.seconds, 0, [&](HttpClient& c, long) {
    MustSend(c, "POST", "/v3/kv/range", range);
  });

  Phase("etcd: watchers");
  // Watch latency: one watch stream per watcher over the gateway.
  {
    WatchRun run(z.changes);
    std::atomic<int> created{0};
    std::vector<std::thread> watchers;
    const std::string watch_body =
        json{{"create_request", PrefixRange("/services/watched/")}}.dump();
    auto watcher = [&] {
      httplib::Client c("127.0.0.1", client_port);
      c.set_connection_timeout(30, 0);
      c.set_read_timeout(600, 0);
      httplib::Request req;
      req.method = "POST";
      req.path = "/v3/watch";
      req.body = watch_body;
      req.set_header("Content-Type", "application/json");
      std::string buffer;
      int change = 0;
      req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
        if (run.stop) return false;
        buffer.append(data, len);
        // One JSON object per line: {"result":{..."created":true}} first,
        // then {"result":{..."events":[...]}} per change.
        for (size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1)) {
          const std::string line = buffer.substr(0, nl);
          if (line.find("\"created\":true") != std::string::npos) ++created;
          if (line.find("\"events\"") != std::string::npos && change < z.changes) {
            run.Arrived(change++);
          }
        }
        return true;
      };
      httplib::Response response;
      httplib::Error error;
      c.send(req, response, error);
    };
    for (int i = 0; i < z.watchers; ++i) watchers.emplace_back(watcher);
    auto deadline = SteadyClock::now() + std::chrono::seconds(120);
    while (created.load() < z.watchers && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (created.load() < z.watchers) Die("etcd watchers did not all start");
    res.rss_kb_watching = RssKb(server.pid());
    Phase("watchers connected");
    auto control = Client(base);
    const std::string lease = EtcdGrant(*control, 600);
    for (int change = 0; change < z.changes; ++change) {
      run.made[change] = SteadyClock::now();
      EtcdPut(*control, "/services/watched/w-" + std::to_string(change), lease);
      run.AwaitSeen(change, z.watchers);
    }
    run.stop = true;
    EtcdPut(*control, "/services/watched/last", lease);
    for (auto& t : watchers) t.join();
    res.watch_p50 = Percentile(run.samples, 0.50);
    res.watch_p99 = Percentile(run.samples, 0.99);
  }

  Phase("etcd: eviction");
  // Eviction: keys under leases kept alive every second, then left to expire.
  {
    auto c = Client(base);
    std::vector<std::string> evict_leases;
    for (int i = 0; i < z.evictions; ++i) {
      evict_leases.push_back(EtcdGrant(*c, z.lease_ttl_s));
      EtcdPut(*c, "/services/evict/e-" + std::to_string(i), evict_leases.back());
    }
    for (int round = 0; round < z.lease_ttl_s; ++round) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      for (const std::string& l : evict_leases) EtcdKeepAlive(*c, l);
    }
    const auto last = SteadyClock::now();
    const std::string evict_range = PrefixRange("/services/evict/").dump();
    std::vector<double> delays;
    size_t present = static_cast<size_t>(z.evictions);
    auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (present > 0 && SteadyClock::now() < deadline) {
      json got = json::parse(MustSend(*c, "POST", "/v3/kv/range", evict_range).body);
      const size_t now_present = got.contains("kvs") ? got["kvs"].size() : 0;
      for (size_t i = now_present; i < present; ++i) {
        delays.push_back(std::chrono::duration<double>(SteadyClock::now() - last).count());
      }
      present = std::min(present, now_present);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    res.eviction_median = Percentile(delays, 0.5);
    res.eviction_max = Percentile(delays, 1.0);
  }
  return res;
}

void PrintRow(const char* what, double hived, double etcd, const char* unit) {
  std::printf("| %-34s | %12.1f | %12.1f | %6.2fx | %s\n", what, hived, etcd,
              etcd > 0 ? hived / etcd : 0.0, unit);
}

}  // namespace

int main() {
  const Sizes z = ChooseSizes();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("hive-registry-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "hived");
  std::filesystem::create_directories(dir / "etcd");
  std::printf(
      "registry_bench: %d instances, %d client threads, %.0f s per throughput run, "
      "%d watchers x %d changes, %d evictions (lease %d s, renewals every 1 s)\n",
      z.instances, z.threads, z.seconds, z.watchers, z.changes, z.evictions, z.lease_ttl_s);
  std::fflush(stdout);
  Phase("hived");
  const Results h = BenchHived(z, dir.string());
  Phase("etcd");
  const Results e = BenchEtcd(z, dir.string());
  Phase("done");
  std::printf("| %-34s | %12s | %12s | %7s | unit\n", "operation", "hived", "etcd", "ratio");
  std::printf("|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str(), std::string(9, '-').c_str());
  PrintRow("registrations", h.registrations, e.registrations, "per s (etcd: lease grant + put)");
  PrintRow("heartbeats", h.heartbeats, e.heartbeats, "per s (etcd: lease keep-alive)");
  PrintRow("lookups (10 instances)", h.lookups, e.lookups, "per s (etcd: range over a prefix)");
  PrintRow("watch notification p50", h.watch_p50, e.watch_p50, "ms");
  PrintRow("watch notification p99", h.watch_p99, e.watch_p99, "ms");
  PrintRow("eviction delay, median", h.eviction_median, e.eviction_median,
           "s after the last renewal");
  PrintRow("eviction delay, max", h.eviction_max, e.eviction_max, "s");
  PrintRow("server RSS with the watchers", static_cast<double>(h.rss_kb_watching) / 1024,
           static_cast<double>(e.rss_kb_watching) / 1024, "MiB");
  std::filesystem::remove_all(dir);
  return 0;
}
