// registry_bench: hived's service registry against a real etcd, side by side
// on the same machine, through each one's HTTP API:
//   registrations/s   hived PUT .../instances/{id}   | etcd lease grant + put
//   heartbeats/s      hived PUT .../heartbeat        | etcd lease keep-alive
//   lookups/s         hived GET ?healthy=true        | etcd range over a prefix
//   watch latency     10,000 blocking queries        | 10,000 watch streams
//   eviction delay    last renewal -> gone from healthy results / key deleted
// and what TLS costs hived: heartbeats/s and lookups/s over HTTPS beside HTTP.
// Throughput runs use keep-alive cpp-httplib clients on several threads; the
// watchers are held by an event-driven client (bench/common/async_http) on
// two threads, each re-issuing its query after each answer as an agent does.
// Both servers run as real processes on loopback with a temporary data dir.
//
// Beside them, the watch run against the loopback floor (loopback_floor.h):
// what answering the same watchers costs on this machine with no server
// work at all.
//
// Usage: registry_bench [<hived>]  (default: the hived built beside it)
// HIVE_BENCH_QUICK=1 shrinks every size so a run takes well under a minute;
// HIVE_BENCH_WATCHERS=N changes the number of watchers (e.g. 2000 to run it
// against the server before the event-driven rewrite, which had 4,096 threads);
// HIVE_BENCH_CHANGES=N the number of changes the watchers see;
// HIVE_BENCH_KEEP=1 keeps the servers' data and logs.
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "async_http.h"
#include "bench_support.h"
#include "loopback_floor.h"

namespace {

using hive::bench::AnswerView;
using hive::bench::AsyncClient;
using hive::bench::AsyncConnection;
using hive::bench::ChildProcess;
using hive::bench::Die;
using hive::bench::FreePort;
using hive::bench::HttpAnswer;
using hive::bench::Percentile;
using hive::bench::Phase;
using hive::bench::ReadProc;
using hive::bench::SteadyClock;
using nlohmann::json;

// The watched service has this many instances; each change re-registers one
// of them (new metadata), so every answer has the same size.
constexpr int kWatchedInstances = 20;

struct Sizes {
  int threads = 4;        // client threads for throughput runs
  int instances = 10000;  // registered, then heartbeated
  double seconds = 10;    // per throughput run
  int watchers = 10000;
  int watcher_threads = 2;   // of the event-driven client that holds them
  int connect_window = 256;  // watchers connecting at once
  int changes = 20;          // watch latency samples per watcher
  int evictions = 5;         // instances left to expire
  int lease_ttl_s = 3;       // for the eviction run; heartbeats every second
};

Sizes ChooseSizes() {
  Sizes s;
  const char* quick = std::getenv("HIVE_BENCH_QUICK");
  if (quick != nullptr && std::string(quick) == "1") {
    s.instances = 500;
    s.seconds = 1;
    s.changes = 3;  // still 10,000 watchers: holding them is the point
    s.evictions = 3;
  }
  if (const char* w = std::getenv("HIVE_BENCH_WATCHERS"); w != nullptr && std::atoi(w) > 0) {
    s.watchers = std::atoi(w);
  }
  if (const char* c = std::getenv("HIVE_BENCH_CHANGES"); c != nullptr && std::atoi(c) > 0) {
    s.changes = std::atoi(c);
  }
  return s;
}

// ---------------------------------------------------------------- clients

// A keep-alive cpp-httplib client, as hive::HttpClient configures it; for an
// https:// base it verifies the server against `ca_file`.
std::unique_ptr<httplib::Client> Client(const std::string& base, const std::string& ca_file = "",
                                        int read_timeout_s = 30) {
  auto c = std::make_unique<httplib::Client>(base);
  c->set_connection_timeout(30, 0);  // a burst of connects may see SYN retries
  c->set_read_timeout(read_timeout_s, 0);
  c->set_write_timeout(30, 0);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  if (!ca_file.empty()) {
    c->set_ca_cert_path(ca_file);
    c->enable_server_certificate_verification(true);
  }
  return c;
}

httplib::Response MustSend(httplib::Client& c, const std::string& method, const std::string& target,
                           const std::string& body = {}) {
  httplib::Result r = method == "GET"    ? c.Get(target)
                      : method == "PUT"  ? c.Put(target, body, "application/json")
                      : method == "POST" ? c.Post(target, body, "application/json")
                                         : c.Delete(target);
  if (!r) Die(method + " " + target + ": " + httplib::to_string(r.error()));
  if (r->status / 100 != 2) {
    Die(method + " " + target + ": status " + std::to_string(r->status) + ": " + r->body);
  }
  return *r;
}

void WaitUntilUp(const std::string& base, const std::string& path, const std::string& ca = "") {
  auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  while (SteadyClock::now() < deadline) {
    auto c = Client(base, ca);
    auto r = c->Get(path);
    if (r && r->status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Die(base + path + " did not come up");
}

struct Throughput {
  double per_second = 0;
  double server_cores = 0;  // the server's CPU time over the run
};

// Runs `op(client, i)` on `threads` threads, i counting up, until `total` ops
// ran (total > 0) or `seconds` passed; `server` is the process whose CPU
// time is read.
Throughput Measure(const std::string& base, const std::string& ca, pid_t server, int threads,
                   double seconds, long total,
                   const std::function<void(httplib::Client&, long)>& op) {
  std::atomic<long> next{0};
  std::atomic<long> done{0};
  const auto before = ReadProc(server);
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto c = Client(base, ca);
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
  const auto after = ReadProc(server);
  return {static_cast<double>(done.load()) / elapsed,
          (after.cpu_seconds - before.cpu_seconds) / elapsed};
}

// ---------------------------------------------------------------- watch runs

// The bookkeeping of a watch-latency run. Change c is made at made[c] while
// `current` is c; a watcher's first answer carrying it is a sample. Watchers
// run on the async client's threads, the changes on the main thread. A
// sample goes into the watcher's own slot (no lock, no allocation); the
// samples are read once the client's threads have stopped.
class WatchRun {
 public:
  WatchRun(int changes, int watchers)
      : changes_(changes),
        made_(changes),
        seen_(changes),
        ms_(static_cast<size_t>(changes) * static_cast<size_t>(watchers), -1.0),
        last_seen_(watchers, -1) {}

  void Making(int change) {
    made_[change] = SteadyClock::now();
    current_.store(change);
  }
  // Watcher w received a change (only its I/O thread touches its slots).
  void Arrived(int w) {
    const int c = current_.load();
    if (c < 0 || last_seen_[w] == c) {
      ++unexpected_;
      return;
    }
    last_seen_[w] = c;
    ms_[static_cast<size_t>(w) * static_cast<size_t>(changes_) + static_cast<size_t>(c)] =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - made_[c]).count();
    ++seen_[c];
  }
  void Failed(const std::string& what) {
    if (stop_) return;
    ++failed_;
    std::lock_guard lock(mu_);
    if (first_error_.empty()) first_error_ = what;
  }
  void Reconnected(const std::string& what) {
    if (reconnects_++ > 0) return;
    std::lock_guard lock(mu_);
    first_reconnect_ = what;
  }
  int failed() const { return failed_; }
  int reconnects() const { return reconnects_; }
  std::string first_reconnect() {
    std::lock_guard lock(mu_);
    return first_reconnect_;
  }
  int unexpected() const { return unexpected_; }
  bool stopping() const { return stop_; }
  void Stop() { stop_ = true; }
  std::string Errors() {
    std::lock_guard lock(mu_);
    return std::to_string(failed_.load()) + " watchers failed" +
           (first_error_.empty() ? "" : " (the first: " + first_error_ + ")") + ", " +
           std::to_string(reconnects_.load()) + " reconnects" +
           (first_reconnect_.empty() ? "" : " (the first: " + first_reconnect_ + ")");
  }
  // Waits until `n` watchers saw `change`; dies after 60 s.
  void AwaitSeen(int change, int n) {
    auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (seen_[change].load() < n && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (seen_[change].load() < n) {
      Die("change " + std::to_string(change) + " reached " + std::to_string(seen_[change].load()) +
          " of " + std::to_string(n) + " watchers in 60 s; " + Errors());
    }
  }
  // Every sample; only once the watchers' client is gone.
  std::vector<double> samples() const {
    std::vector<double> out;
    out.reserve(ms_.size());
    for (double ms : ms_) {
      if (ms >= 0) out.push_back(ms);
    }
    return out;
  }
  // The time until every watcher had it, per change; only once the
  // watchers' client is gone.
  std::vector<double> last_ms() const {
    std::vector<double> out(static_cast<size_t>(changes_), 0.0);
    for (size_t i = 0; i < ms_.size(); ++i) {
      double& last = out[i % static_cast<size_t>(changes_)];
      last = std::max(last, ms_[i]);
    }
    return out;
  }

 private:
  int changes_;
  std::vector<SteadyClock::time_point> made_;
  std::vector<std::atomic<int>> seen_;
  std::vector<double> ms_;  // [watcher * changes + change], -1 for none
  std::atomic<int> current_{-1};
  std::atomic<int> failed_{0};
  std::atomic<int> unexpected_{0};
  std::atomic<int> reconnects_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string first_error_;      // guarded by mu_
  std::string first_reconnect_;  // guarded by mu_
  std::vector<int> last_seen_;
};

struct WatchResults {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  double all_median = 0;  // until every watcher had a change, median over changes
  double connect_s = 0;   // until every watcher waited
  int unexpected = 0;     // answers that carried no change
  int reconnects = 0;     // connections the server closed under a watcher
  std::string first_reconnect;
  double rss_mb = 0;                      // the server's, while the watchers wait
  double rss_after_mb = 0;                // the same after the changes
  double peak_before_mb = 0;              // VmHWM before the watchers connected
  double peak_rss_mb = 0;                 // VmHWM after the changes
  std::vector<double> rss_per_change_mb;  // VmRSS once each change reached every watcher
  // CPU time per change over the changes: the server's, and this process's
  // (the watchers' client: its share of the latency).
  double server_cpu_ms = 0;
  double client_cpu_ms = 0;
  size_t answer_bytes = 0;  // the body of an answer to a watcher
};

// CPU time spent between Start() and Stop(), per change.
class ChangeCpu {
 public:
  explicit ChangeCpu(pid_t server) : server_(server) {}
  void Start() {
    server_before_ = ReadProc(server_).cpu_seconds;
    client_before_ = ReadProc(::getpid()).cpu_seconds;
  }
  void Stop(int changes, WatchResults& res) {
    res.server_cpu_ms = 1000 * (ReadProc(server_).cpu_seconds - server_before_) / changes;
    res.client_cpu_ms = 1000 * (ReadProc(::getpid()).cpu_seconds - client_before_) / changes;
  }

 private:
  pid_t server_;
  double server_before_ = 0;
  double client_before_ = 0;
};

// After the last change: the server's memory, then the watchers stop.
void EndChanges(WatchRun& run, pid_t pid, WatchResults& res) {
  const auto after = ReadProc(pid);
  res.rss_after_mb = after.rss_mb;
  res.peak_rss_mb = after.peak_rss_mb;
  run.Stop();
}

void Summarize(WatchRun& run, WatchResults& res) {
  const std::vector<double> samples = run.samples();
  res.p50 = Percentile(samples, 0.50);
  res.p99 = Percentile(samples, 0.99);
  res.max = Percentile(samples, 1.0);
  res.all_median = Percentile(run.last_ms(), 0.5);
  res.unexpected = run.unexpected();
  res.reconnects = run.reconnects();
  res.first_reconnect = run.first_reconnect();
}

struct Results {
  double registrations = 0;
  Throughput heartbeats;
  Throughput lookups;
  WatchResults watch;
  double eviction_median = 0;
  double eviction_max = 0;
};

// ---------------------------------------------------------------- hived

double HivedBlockedWatchers(httplib::Client& c) {
  auto r = MustSend(c, "GET", "/metrics");
  const std::string key = "\nhive_registry_blocked_watchers ";
  auto pos = r.body.find(key);
  return pos == std::string::npos ? -1 : std::strtod(r.body.c_str() + pos + key.size(), nullptr);
}

void AwaitBlocked(httplib::Client& control, int n, WatchRun& run) {
  auto deadline = SteadyClock::now() + std::chrono::seconds(120);
  double blocked = 0;
  while ((blocked = HivedBlockedWatchers(control)) < n && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (blocked < n) {
    Die("only " + std::to_string(static_cast<int>(blocked)) + " of " + std::to_string(n) +
        " watchers blocked after 120 s; " + run.Errors());
  }
}

std::string HivedRegistration(int ttl_s) {
  return R"({"address":"10.0.0.1","port":8080,"version":"1.0.0","tags":["bench"],"ttl":")" +
         std::to_string(ttl_s) + "s\"}";
}

// An instance of the watched service: `change` goes into its metadata, so
// that re-registering it is a change of the same size.
std::string WatchedRegistration(int change) {
  return R"({"address":"10.0.0.1","port":8080,"version":"1.0.0","tags":["bench"],"ttl":"600s",)"
         R"("metadata":{"change":")" +
         std::to_string(change) + "\"}}";
}

// What every hived watcher shares; declared before the client, so that it
// outlives the client's threads.
struct HivedWatchContext {
  WatchRun* run = nullptr;
  AsyncClient* client = nullptr;
  std::string authority;
  // The blocking query's bytes are query_head + index + query_tail.
  std::string query_head;
  std::string query_tail;
  std::atomic<size_t> answer_bytes{0};  // the body of the first answer
};

// One watcher's loop: a blocking query at `index_`; each answer with a new
// index is a change, and the query goes out again at once. Its answers are
// checked (status 200, an X-Hive-Index) and their bodies read and skipped.
// Declared before the client, so that it outlives the client's threads.
class HivedWatcher final : public hive::bench::AnswerHandler {
 public:
  void Start(const HivedWatchContext& ws, int w, AsyncConnection* c, uint64_t index) {
    ws_ = &ws;
    w_ = w;
    c_ = c;
    index_ = index;
    Query();
  }

  void Answered(AsyncConnection& c, const AnswerView& a) override {
    if (ws_->run->stopping()) return c.Close();
    if (a.status != 200) {
      return ws_->run->Failed(Who() + ": status " + std::to_string(a.status) + ": " +
                              std::string(a.body.substr(0, 200)));
    }
    const std::string_view header = a.Header("X-Hive-Index");
    uint64_t next = 0;
    const auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), next);
    if (header.empty() || ec != std::errc() || end != header.data() + header.size()) {
      return ws_->run->Failed(Who() + ": an answer without an X-Hive-Index (\"" +
                              std::string(header) + "\")");
    }
    if (next != index_) ws_->run->Arrived(w_);
    index_ = next;
    if (!a.keep_alive) {
      c.Close();
      return Reconnect("the answer said Connection: close");
    }
    Query();
  }

  void Failed(AsyncConnection& c, const std::string& error) override {
    c.Close();
    if (ws_->run->stopping()) return;
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - sent_);
    Reconnect(error + ", " + std::to_string(ms.count()) + " ms after the query");
  }

 private:
  // The query at index_, formatted into its thread's buffer (Exchange sends
  // it before it returns).
  void Query() {
    thread_local std::string request;
    char digits[24];
    char* end = std::to_chars(digits, digits + sizeof digits, index_).ptr;
    request.assign(ws_->query_head).append(digits, end).append(ws_->query_tail);
    sent_ = SteadyClock::now();
    c_->Exchange(request, *this);
  }

  std::string Who() const {
    return "watcher " + std::to_string(w_) + " at index " + std::to_string(index_);
  }

  // A connection the server closed is opened again and the query re-sent,
  // as cpp-httplib clients (agents) do; it is counted.
  void Reconnect(const std::string& why) {
    if (ws_->run->stopping()) return;
    ws_->run->Reconnected(Who() + ": " + why);
    ws_->client->OpenMany(
        1, 1,
        [this](int, std::shared_ptr<AsyncConnection> c, AsyncClient::Ready ready) {
          ready();
          c_ = c.get();
          Query();
        },
        [this](int, const std::string& error) {
          ws_->run->Failed("watcher " + std::to_string(w_) + " could not reconnect: " + error);
        });
  }

  const HivedWatchContext* ws_ = nullptr;
  AsyncConnection* c_ = nullptr;  // owned by the client
  int w_ = 0;
  uint64_t index_ = 0;
  SteadyClock::time_point sent_;
};

WatchResults HivedWatchers(const Sizes& z, int port, pid_t pid) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  WatchResults res;
  WatchRun run(z.changes, z.watchers);
  auto control = Client(base);
  for (int i = 0; i < kWatchedInstances; ++i) {
    MustSend(*control, "PUT", "/api/v1/services/watched/instances/w-" + std::to_string(i),
             WatchedRegistration(0));
  }
  res.peak_before_mb = ReadProc(pid).peak_rss_mb;
  HivedWatchContext ws;
  ws.run = &run;
  std::vector<HivedWatcher> watchers(static_cast<size_t>(z.watchers));
  {
    AsyncClient client("127.0.0.1", port, z.watcher_threads);
    ws.client = &client;
    ws.authority = client.authority();
    const std::string query = hive::bench::HttpRequestText(
        "GET", "/api/v1/services/watched?wait=5m&index=", ws.authority);
    const size_t index_at = query.find(" HTTP/1.1\r\n");
    ws.query_head = query.substr(0, index_at);
    ws.query_tail = query.substr(index_at);
    const auto start = SteadyClock::now();
    // Each watcher reads the service once (its index), then blocks on it.
    client.OpenMany(
        z.watchers, z.connect_window,
        [&ws, &watchers](int w, std::shared_ptr<AsyncConnection> c, AsyncClient::Ready ready) {
          c->Exchange(
              hive::bench::HttpRequestText("GET", "/api/v1/services/watched", ws.authority),
              [c, &ws, &watchers, w, ready](const std::string& error, HttpAnswer a) {
                ready();
                ws.answer_bytes = a.body.size();
                if (!error.empty() || a.status != 200) {
                  return ws.run->Failed("first read: " + (error.empty()
                                                              ? "status " + std::to_string(a.status)
                                                              : error));
                }
                watchers[static_cast<size_t>(w)].Start(
                    ws, w, c.get(), std::strtoull(a.Header("X-Hive-Index").c_str(), nullptr, 10));
              });
        },
        [&run](int, const std::string& error) { run.Failed(error); });
    AwaitBlocked(*control, z.watchers, run);
    res.connect_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
    res.answer_bytes = ws.answer_bytes;
    const auto waiting = ReadProc(pid);
    res.rss_mb = waiting.rss_mb;
    Phase("watchers waiting (" + std::to_string(waiting.threads) + " hived threads)");
    ChangeCpu cpu(pid);
    cpu.Start();
    for (int change = 0; change < z.changes; ++change) {
      AwaitBlocked(*control, z.watchers, run);
      run.Making(change);
      MustSend(*control, "PUT",
               "/api/v1/services/watched/instances/w-" + std::to_string(change % kWatchedInstances),
               WatchedRegistration(change + 1));
      run.AwaitSeen(change, z.watchers);
      res.rss_per_change_mb.push_back(ReadProc(pid).rss_mb);
    }
    cpu.Stop(z.changes, res);
    AwaitBlocked(*control, z.watchers, run);
    EndChanges(run, pid, res);
  }
  Summarize(run, res);
  return res;
}

// Eviction: instances heartbeat every second, then stop; how long after the
// last heartbeat until each leaves healthy results.
void HivedEviction(const Sizes& z, const std::string& base, Results& res) {
  auto c = Client(base);
  const std::string evict_body = HivedRegistration(z.lease_ttl_s);
  for (int i = 0; i < z.evictions; ++i) {
    MustSend(*c, "PUT", "/api/v1/services/evict/instances/e-" + std::to_string(i), evict_body);
  }
  for (int round = 0; round < z.lease_ttl_s; ++round) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    for (int i = 0; i < z.evictions; ++i) {
      MustSend(*c, "PUT", "/api/v1/services/evict/instances/e-" + std::to_string(i) + "/heartbeat");
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

// hived's command line: the registry alone, its own data dir, limits high
// enough for every watcher to come from one address (flags the server before
// the event-driven rewrite does not have), and TLS when given.
std::vector<std::string> HivedArgs(const std::string& hived, int port, const std::string& data,
                                   const hive::bench::TlsFiles* tls = nullptr) {
  // Self-preservation is off: the bench's instances go silent after the
  // heartbeat run, which would otherwise (rightly) hold the eviction run.
  std::vector<std::string> args = {hived,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--data-dir",
                                   data,
                                   "--roles",
                                   "registry",
                                   "--access-log",
                                   "none",
                                   "--log-level",
                                   "warn",
                                   "--registry-self-preservation",
                                   "0"};
  if (hive::bench::HivedHasFlag(hived, "--max-connections-per-client")) {
    for (const char* a : {"--max-connections-per-client", "20000", "--max-waits-per-token", "20000",
                          "--max-connections", "20000"}) {
      args.emplace_back(a);
    }
  }
  if (tls != nullptr) {
    for (const std::string& a :
         {std::string("--tls-cert"), tls->cert, std::string("--tls-key"), tls->key}) {
      args.push_back(a);
    }
  }
  return args;
}

// Registrations, heartbeats and lookups against one hived.
void HivedThroughput(const Sizes& z, const std::string& base, const std::string& ca, pid_t pid,
                     Results& res) {
  const std::string body = HivedRegistration(60);
  res.registrations =
      Measure(base, ca, pid, z.threads, 0, z.instances, [&](httplib::Client& c, long i) {
        MustSend(c, "PUT", "/api/v1/services/bench/instances/i-" + std::to_string(i), body);
      }).per_second;
  res.heartbeats = Measure(base, ca, pid, z.threads, z.seconds, 0, [&](httplib::Client& c, long i) {
    MustSend(
        c, "PUT",
        "/api/v1/services/bench/instances/i-" + std::to_string(i % z.instances) + "/heartbeat");
  });
  {
    auto c = Client(base, ca);
    for (int i = 0; i < 10; ++i) {
      MustSend(*c, "PUT", "/api/v1/services/lookup/instances/l-" + std::to_string(i), body);
    }
  }
  res.lookups = Measure(base, ca, pid, z.threads, z.seconds, 0, [&](httplib::Client& c, long) {
    MustSend(c, "GET", "/api/v1/services/lookup?healthy=true");
  });
}

Results BenchHived(const Sizes& z, const std::string& hived, const std::string& dir) {
  const int port = FreePort();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  ChildProcess server(HivedArgs(hived, port, dir + "/hived"), dir + "/hived.log");
  WaitUntilUp(base, "/healthz");
  Results res;
  HivedThroughput(z, base, "", server.pid(), res);
  Phase("hived: " + std::to_string(z.watchers) + " watchers");
  res.watch = HivedWatchers(z, port, server.pid());
  Phase("hived: eviction");
  HivedEviction(z, base, res);
  if (!server.Running()) Die("hived exited during the run (see " + dir + "/hived.log)");
  return res;
}

// What TLS costs: heartbeats and lookups over HTTPS against a hived started
// with --tls-cert/--tls-key (a self-signed certificate the clients verify),
// beside the same run over plain HTTP from the first part.
Results BenchHivedTls(const Sizes& z, const std::string& hived, const std::string& dir) {
  const hive::bench::TlsFiles tls = hive::bench::MakeSelfSignedCert(dir);
  const int port = FreePort();
  const std::string base = "https://127.0.0.1:" + std::to_string(port);
  ChildProcess server(HivedArgs(hived, port, dir + "/hived-tls", &tls), dir + "/hived-tls.log");
  WaitUntilUp(base, "/healthz", tls.cert);
  Results res;
  HivedThroughput(z, base, tls.cert, server.pid(), res);
  if (!server.Running()) Die("hived exited during the run (see " + dir + "/hived-tls.log)");
  return res;
}

// The same watch run against the loopback floor (loopback_floor.h): this
// program again, as a child process, answering with a body of hived's size.
WatchResults BenchFloor(const Sizes& z, const std::string& dir, size_t body_bytes) {
  const int port = FreePort();
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  ChildProcess server({self, "--loopback-floor", std::to_string(port), std::to_string(body_bytes)},
                      dir + "/floor.log");
  WaitUntilUp("http://127.0.0.1:" + std::to_string(port), "/metrics");
  WatchResults res = HivedWatchers(z, port, server.pid());
  if (!server.Running())
    Die("the loopback floor exited during the run (see " + dir + "/floor.log)");
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

std::string EtcdGrant(httplib::Client& c, int ttl_s) {
  json r = json::parse(MustSend(c, "POST", "/v3/lease/grant", json{{"TTL", ttl_s}}.dump()).body);
  return r.at("ID").get<std::string>();
}

void EtcdPut(httplib::Client& c, const std::string& key, const std::string& lease, int change = 0) {
  const std::string value = R"({"address":"10.0.0.1","port":8080,"version":"1.0.0","change":")" +
                            std::to_string(change) + "\"}";
  MustSend(c, "POST", "/v3/kv/put",
           json{{"key", Base64(key)}, {"value", Base64(value)}, {"lease", lease}}.dump());
}

void EtcdKeepAlive(httplib::Client& c, const std::string& lease) {
  MustSend(c, "POST", "/v3/lease/keepalive", json{{"ID", lease}}.dump());
}

// One watcher: a watch stream over the gateway, one JSON object per line:
// {"result":{..."created":true}} first, then {"result":{..."events":[...]}}
// per change. Lines are looked at where they arrived; only a line split
// between two reads is copied. Declared before the client, so that it
// outlives the client's threads.
class EtcdWatcher final : public hive::bench::StreamHandler {
 public:
  void Start(AsyncConnection& c, WatchRun& run, int w, const std::string& request,
             AsyncClient::Ready ready, std::atomic<int>& created) {
    run_ = &run;
    w_ = w;
    ready_ = std::move(ready);
    created_ = &created;
    c.Stream(request, *this);
  }

  bool Data(AsyncConnection&, std::string_view piece) override {
    if (run_->stopping()) return false;
    while (!piece.empty()) {
      const size_t nl = piece.find('\n');
      if (nl == std::string_view::npos) {
        partial_.append(piece);
        break;
      }
      if (partial_.empty()) {
        Line(piece.substr(0, nl));
      } else {
        partial_.append(piece.substr(0, nl));
        Line(partial_);
        partial_.clear();
      }
      piece.remove_prefix(nl + 1);
    }
    return true;
  }

  void Ended(AsyncConnection&, const std::string& error) override {
    ready_();
    run_->Failed("watch stream ended: " + (error.empty() ? "by etcd" : error));
  }

 private:
  void Line(std::string_view line) {
    if (line.find("\"events\"") != std::string_view::npos) return run_->Arrived(w_);
    if (line.find("\"created\":true") != std::string_view::npos) {
      ++*created_;
      ready_();
    }
  }

  WatchRun* run_ = nullptr;
  int w_ = 0;
  AsyncClient::Ready ready_;
  std::atomic<int>* created_ = nullptr;
  std::string partial_;  // a line that goes on in the next read
};

WatchResults EtcdWatchers(const Sizes& z, int port, pid_t pid) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  WatchResults res;
  WatchRun run(z.changes, z.watchers);
  std::atomic<int> created{0};
  auto control = Client(base);
  const std::string lease = EtcdGrant(*control, 600);
  for (int i = 0; i < kWatchedInstances; ++i) {
    EtcdPut(*control, "/services/watched/w-" + std::to_string(i), lease);
  }
  res.peak_before_mb = ReadProc(pid).peak_rss_mb;
  std::vector<EtcdWatcher> watchers(static_cast<size_t>(z.watchers));
  {
    AsyncClient client("127.0.0.1", port, z.watcher_threads);
    const std::string request = hive::bench::HttpRequestText(
        "POST", "/v3/watch", client.authority(),
        json{{"create_request", PrefixRange("/services/watched/")}}.dump(), "application/json");
    const auto start = SteadyClock::now();
    client.OpenMany(
        z.watchers, z.connect_window,
        [&](int w, std::shared_ptr<AsyncConnection> c, AsyncClient::Ready ready) {
          watchers[static_cast<size_t>(w)].Start(*c, run, w, request, std::move(ready), created);
        },
        [&run](int, const std::string& error) { run.Failed(error); });
    auto deadline = SteadyClock::now() + std::chrono::seconds(180);
    while (created.load() + run.failed() < z.watchers && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (created.load() < z.watchers) {
      Die("only " + std::to_string(created.load()) + " etcd watchers started; " + run.Errors());
    }
    res.connect_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
    res.rss_mb = ReadProc(pid).rss_mb;
    Phase("etcd watchers waiting");
    ChangeCpu cpu(pid);
    cpu.Start();
    for (int change = 0; change < z.changes; ++change) {
      run.Making(change);
      EtcdPut(*control, "/services/watched/w-" + std::to_string(change % kWatchedInstances), lease,
              change + 1);
      run.AwaitSeen(change, z.watchers);
      res.rss_per_change_mb.push_back(ReadProc(pid).rss_mb);
    }
    cpu.Stop(z.changes, res);
    EndChanges(run, pid, res);
  }
  Summarize(run, res);
  return res;
}

// Eviction: keys under leases kept alive every second, then left to expire.
void EtcdEviction(const Sizes& z, const std::string& base, Results& res) {
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

Results BenchEtcd(const Sizes& z, const std::string& dir) {
  const int client_port = FreePort();
  const int peer_port = FreePort();
  const std::string base = "http://127.0.0.1:" + std::to_string(client_port);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
  ChildProcess server(
      {"etcd", "--name", "bench", "--data-dir", dir + "/etcd", "--listen-client-urls", base,
       "--advertise-client-urls", base, "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
       peer, "--initial-cluster", "bench=" + peer, "--log-level", "warn"},
      dir + "/etcd.log");
  WaitUntilUp(base, "/health");
  const pid_t pid = server.pid();
  Results res;

  std::vector<std::string> leases(static_cast<size_t>(z.instances));
  res.registrations =
      Measure(base, "", pid, z.threads, 0, z.instances, [&](httplib::Client& c, long i) {
        leases[static_cast<size_t>(i)] = EtcdGrant(c, 60);
        EtcdPut(c, "/services/bench/i-" + std::to_string(i), leases[static_cast<size_t>(i)]);
      }).per_second;
  res.heartbeats = Measure(base, "", pid, z.threads, z.seconds, 0, [&](httplib::Client& c, long i) {
    EtcdKeepAlive(c, leases[static_cast<size_t>(i % z.instances)]);
  });
  {
    auto c = Client(base);
    const std::string lease = EtcdGrant(*c, 600);
    for (int i = 0; i < 10; ++i) EtcdPut(*c, "/services/lookup/l-" + std::to_string(i), lease);
  }
  const std::string range = PrefixRange("/services/lookup/").dump();
  res.lookups = Measure(base, "", pid, z.threads, z.seconds, 0, [&](httplib::Client& c, long) {
    MustSend(c, "POST", "/v3/kv/range", range);
  });
  Phase("etcd: " + std::to_string(z.watchers) + " watchers");
  res.watch = EtcdWatchers(z, client_port, pid);
  Phase("etcd: eviction");
  EtcdEviction(z, base, res);
  return res;
}

// ---------------------------------------------------------------- report

void PrintRow(const std::string& what, double hived, double etcd, const std::string& unit) {
  std::printf("| %-42s | %12.1f | %12.1f | %6.2fx | %s\n", what.c_str(), hived, etcd,
              etcd > 0 ? hived / etcd : 0.0, unit.c_str());
}

void PrintReport(const Sizes& z, const Results& h, const Results& e) {
  const std::string n = std::to_string(z.watchers);
  std::printf("| %-42s | %12s | %12s | %7s | unit\n", "operation", "hived", "etcd", "ratio");
  std::printf("|%s|%s|%s|%s|\n", std::string(44, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str(), std::string(9, '-').c_str());
  PrintRow("registrations", h.registrations, e.registrations, "per s (etcd: lease grant + put)");
  PrintRow("heartbeats", h.heartbeats.per_second, e.heartbeats.per_second,
           "per s (etcd: lease keep-alive)");
  PrintRow("lookups (10 instances)", h.lookups.per_second, e.lookups.per_second,
           "per s (etcd: range over a prefix)");
  PrintRow("watch notification p50 (" + n + " watchers)", h.watch.p50, e.watch.p50, "ms");
  PrintRow("watch notification p99 (" + n + " watchers)", h.watch.p99, e.watch.p99, "ms");
  PrintRow("watch notification max", h.watch.max, e.watch.max, "ms");
  PrintRow("until all had a change, median", h.watch.all_median, e.watch.all_median, "ms");
  PrintRow("server CPU per change", h.watch.server_cpu_ms, e.watch.server_cpu_ms,
           "ms (hived: with its /metrics polled until all wait again)");
  PrintRow("watchers' client CPU per change", h.watch.client_cpu_ms, e.watch.client_cpu_ms,
           "ms (this process, " + std::to_string(z.watcher_threads) + " threads)");
  PrintRow("time to connect the watchers", h.watch.connect_s, e.watch.connect_s, "s");
  PrintRow("server RSS with the watchers", h.watch.rss_mb, e.watch.rss_mb, "MiB");
  PrintRow("server RSS after the changes", h.watch.rss_after_mb, e.watch.rss_after_mb,
           "MiB (watchers waiting again)");
  PrintRow("server peak RSS before the watchers", h.watch.peak_before_mb, e.watch.peak_before_mb,
           "MiB (VmHWM after the throughput runs)");
  PrintRow("server peak RSS after the changes", h.watch.peak_rss_mb, e.watch.peak_rss_mb,
           "MiB (VmHWM)");
  PrintRow("eviction delay, median", h.eviction_median, e.eviction_median,
           "s after the last renewal");
  PrintRow("eviction delay, max", h.eviction_max, e.eviction_max, "s");
  for (const auto& [name, w] : {std::pair{"hived", &h.watch}, std::pair{"etcd", &e.watch}}) {
    std::printf("%s RSS (MiB) once each change reached every watcher:", name);
    for (double mb : w->rss_per_change_mb) std::printf(" %.0f", mb);
    std::printf("\n");
  }
  if (h.watch.reconnects > 0) {
    std::printf("hived closed %d watchers' connections (they reconnected); the first: %s\n",
                h.watch.reconnects, h.watch.first_reconnect.c_str());
  }
  if (h.watch.unexpected + e.watch.unexpected > 0) {
    std::printf("answers that carried no change: hived %d, etcd %d\n", h.watch.unexpected,
                e.watch.unexpected);
  }
}

void PrintTlsReport(const Results& plain, const Results& tls) {
  std::printf("\nTLS cost (hived; cpp-httplib clients, TLS verified against the bench's CA)\n");
  std::printf("| %-42s | %12s | %12s | %7s |\n", "operation", "HTTP", "HTTPS", "ratio");
  std::printf("|%s|%s|%s|%s|\n", std::string(44, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str(), std::string(9, '-').c_str());
  auto row = [](const char* what, double a, double b, const char* format) {
    std::printf(format, what, a, b, a > 0 ? b / a : 0.0);
  };
  const char* kRate = "| %-42s | %12.1f | %12.1f | %6.2fx |\n";
  const char* kCores = "| %-42s | %12.2f | %12.2f | %6.2fx |\n";
  row("registrations/s", plain.registrations, tls.registrations, kRate);
  row("heartbeats/s", plain.heartbeats.per_second, tls.heartbeats.per_second, kRate);
  row("hived CPU during heartbeats (cores)", plain.heartbeats.server_cores,
      tls.heartbeats.server_cores, kCores);
  row("lookups/s (10 instances)", plain.lookups.per_second, tls.lookups.per_second, kRate);
  row("hived CPU during lookups (cores)", plain.lookups.server_cores, tls.lookups.server_cores,
      kCores);
}

void PrintFloorReport(const Sizes& z, const WatchResults& h, const WatchResults& f) {
  std::printf(
      "\nhived beside the loopback floor (%d watchers, %zu-byte answers, the same client)\n",
      z.watchers, h.answer_bytes);
  std::printf("| %-42s | %12s | %12s | %7s |\n", "operation", "hived", "floor", "ratio");
  std::printf("|%s|%s|%s|%s|\n", std::string(44, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str(), std::string(9, '-').c_str());
  auto row = [](const char* what, double a, double b) {
    std::printf("| %-42s | %12.1f | %12.1f | %6.2fx |\n", what, a, b, b > 0 ? a / b : 0.0);
  };
  row("watch notification p50 (ms)", h.p50, f.p50);
  row("watch notification p99 (ms)", h.p99, f.p99);
  row("watch notification max (ms)", h.max, f.max);
  row("until all had a change, median (ms)", h.all_median, f.all_median);
  row("server CPU per change (ms)", h.server_cpu_ms, f.server_cpu_ms);
  row("watchers' client CPU per change (ms)", h.client_cpu_ms, f.client_cpu_ms);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--loopback-floor") {
    return hive::bench::RunLoopbackFloor(std::atoi(argv[2]), std::atoi(argv[3]));
  }
  const Sizes z = ChooseSizes();
  const std::string hived = argc > 1 ? argv[1] : HIVED_PATH;
  const unsigned long files = hive::bench::RaiseOpenFileLimit();
  if (files < static_cast<unsigned long>(z.watchers) + 256) {
    Die("the open-file limit (" + std::to_string(files) + ") is too low for " +
        std::to_string(z.watchers) + " watchers");
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("hive-registry-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "hived");
  std::filesystem::create_directories(dir / "etcd");
  std::printf(
      "registry_bench: %d instances, %d client threads, %.0f s per throughput run, "
      "%d watchers on %d client threads x %d changes, %d evictions (lease %d s, renewals every "
      "1 s)\nhived: %s\n",
      z.instances, z.threads, z.seconds, z.watchers, z.watcher_threads, z.changes, z.evictions,
      z.lease_ttl_s, hived.c_str());
  std::fflush(stdout);
  Phase("hived");
  const Results h = BenchHived(z, hived, dir.string());
  Phase("loopback floor: " + std::to_string(z.watchers) + " watchers");
  const WatchResults floor = BenchFloor(z, dir.string(), h.watch.answer_bytes);
  std::optional<Results> t;
  if (hive::bench::HivedHasFlag(hived, "--tls-cert")) {
    Phase("hived over TLS");
    t = BenchHivedTls(z, hived, dir.string());
  }
  Phase("etcd");
  const Results e = BenchEtcd(z, dir.string());
  Phase("done");
  PrintReport(z, h, e);
  PrintFloorReport(z, h.watch, floor);
  if (t) PrintTlsReport(h, *t);
  if (std::getenv("HIVE_BENCH_KEEP") != nullptr) {
    std::printf("servers' logs kept in %s\n", dir.c_str());
  } else {
    std::filesystem::remove_all(dir);
  }
  return 0;
}
