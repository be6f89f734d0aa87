// bench/ingest: collector log ingest with durable acknowledgements, through
// HTTP into a real hived (--roles collector, port 0), from several client
// threads; and, beside it on the same machine, the anchor: the same events
// ingested into SQLite with one row per event and a B-tree index on trace_id,
// one transaction per batch at synchronous=FULL (the same durability).
//
// Prints events/s, MB/s of NDJSON, hived's CPU (cores) and peak RSS, and the
// ratio to the anchor. HIVE_BENCH_QUICK=1: a few seconds in all.
//
// Usage: ingest_bench <path to hived>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hive/collector/ndjson.h"
#include "hive/core/http_client.h"
#include "hive/core/sqlite.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  bool quick = false;
  int threads = 4;
  int events_per_batch = 1000;
  double seconds = 20;
  double anchor_seconds = 10;
};

// ~300-byte lines like a service's JSON logs: a W3C trace id shared by a few
// lines, attributes, and a message with some variety.
std::vector<std::string> MakeBodies(int count, int events_per_batch, size_t* bytes_per_body) {
  std::mt19937_64 rng(42);
  static constexpr const char* kServices[] = {"gateway", "orders", "inventory", "payments"};
  static constexpr const char* kLevels[] = {"info", "info", "info", "debug", "warn", "error"};
  std::vector<std::string> bodies;
  size_t total = 0;
  for (int b = 0; b < count; ++b) {
    std::string body;
    char trace[33] = {0};
    for (int e = 0; e < events_per_batch; ++e) {
      if (e % 8 == 0)
        std::snprintf(trace, sizeof trace, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                      static_cast<unsigned long long>(rng()));
      const char* service = kServices[rng() % 4];
      char line[512];
      std::snprintf(
          line, sizeof line,
          "{\"ts\":%lld,\"service\":\"%s\",\"instance\":\"%s-%d\",\"level\":\"%s\","
          "\"message\":\"handled request %llu for customer %llu in %llu ms\","
          "\"trace_id\":\"%s\",\"span_id\":\"%016llx\",\"attrs\":{\"http.method\":\"GET\","
          "\"http.status_code\":%d,\"http.route\":\"/api/v1/orders/{id}\",\"retry\":false}}\n",
          1'763'800'000'000'000'000LL + b * 1'000'000LL + e, service, service,
          static_cast<int>(rng() % 3), kLevels[rng() % 6],
          static_cast<unsigned long long>(rng() % 1'000'000),
          static_cast<unsigned long long>(rng() % 50'000),
          static_cast<unsigned long long>(rng() % 900), trace,
          static_cast<unsigned long long>(rng()), rng() % 10 == 0 ? 503 : 200);
      body += line;
    }
    total += body.size();
    bodies.push_back(std::move(body));
  }
  *bytes_per_body = total / bodies.size();
  return bodies;
}

struct ProcStat {
  double cpu_seconds = 0;
  double rss_mb = 0;
  double peak_rss_mb = 0;
};

ProcStat ReadProc(pid_t pid) {
  ProcStat s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name; utime and stime are 14 and 15.
  std::istringstream rest(content.substr(content.rfind(')') + 2));
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
  }
  return s;
}

// Starts hived and reads its port from the "listening" log line.
pid_t StartHived(const std::string& hived, const std::string& dir, int* port) {
  const std::string err_path = dir + "/hived.err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<std::string> args = {hived,        "--listen",     "127.0.0.1:0",
                                   "--data-dir", dir + "/data",  "--roles",
                                   "collector",  "--access-log", "none"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, hived.c_str(), &actions, nullptr, argv.data(), environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&actions);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::ifstream in(err_path);
    std::string line;
    while (std::getline(in, line)) {
      auto at = line.find("\"addr\":\"127.0.0.1:");
      if (line.find("listening") != std::string::npos && at != std::string::npos) {
        *port = std::atoi(line.c_str() + at + 18);
        return pid;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  return -1;
}

struct IngestResult {
  uint64_t events = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  uint64_t failures = 0;
};

IngestResult RunHttp(int port, const std::vector<std::string>& bodies, const Config& cfg) {
  std::atomic<uint64_t> events{0}, bytes{0}, failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < cfg.threads; ++t) {
    threads.emplace_back([&, t] {
      hive::HttpClientOptions o;
      o.base_url = "http://127.0.0.1:" + std::to_string(port);
      auto client = hive::HttpClient::Create(o);
      if (!client.ok()) return;
      for (size_t i = t; !stop; i += cfg.threads) {
        const std::string& body = bodies[i % bodies.size()];
        auto r = (*client)->Send("POST", "/api/v1/ingest/logs", body, "application/x-ndjson");
        if (!r.ok() || r->status != 200) {
          ++failures;
          continue;
        }
        events += cfg.events_per_batch;
        bytes += body.size();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  return {events, bytes, std::chrono::duration<double>(Clock::now() - start).count(), failures};
}

// The anchor: row per event, B-tree on trace_id, a transaction per batch.
IngestResult RunSqliteAnchor(const std::string& dir, const std::vector<std::string>& bodies,
                             const Config& cfg) {
  auto db = hive::SqliteDb::Open(dir + "/anchor.db", {hive::Durability::kFull});
  if (!db.ok()) return {};
  if (!(*db)
           ->Exec("CREATE TABLE logs(ts INTEGER, service TEXT, instance TEXT, level INTEGER, "
                  "message TEXT, trace_id TEXT, span_id TEXT, attrs TEXT);"
                  "CREATE INDEX logs_trace ON logs(trace_id);")
           .ok()) {
    return {};
  }
  std::mutex mu;  // SQLite has one writer
  std::atomic<uint64_t> events{0}, bytes{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < cfg.threads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; !stop; i += cfg.threads) {
        const std::string& body = bodies[i % bodies.size()];
        auto parsed = hive::collector::ParseNdjsonLogs(body, std::chrono::system_clock::now());
        std::lock_guard lock(mu);
        hive::Transaction txn(**db);
        auto ins = (*db)->Prepare("INSERT INTO logs VALUES (?,?,?,?,?,?,?,?)");
        if (!ins.ok()) return;
        std::string attrs;
        for (const auto& e : parsed.events) {
          attrs.clear();
          for (const auto& [k, v] : e.attrs) {
            attrs += k;
            attrs += '=';
            if (const auto* str = std::get_if<std::string>(&v)) attrs += *str;
            attrs += ';';
          }
          ins->Reset();
          ins->Bind(1, e.ts_ns)
              .Bind(2, e.service)
              .Bind(3, e.instance)
              .Bind(4, static_cast<int64_t>(e.level))
              .Bind(5, e.message)
              .Bind(6, e.trace_id)
              .Bind(7, e.span_id)
              .Bind(8, attrs);
          if (!ins->Run().ok()) return;
        }
        if (!txn.Commit().ok()) return;
        events += parsed.events.size();
        bytes += body.size();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.anchor_seconds));
  stop = true;
  for (auto& th : threads) th.join();
  return {events, bytes, std::chrono::duration<double>(Clock::now() - start).count(), 0};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: ingest_bench <path to hived>\n";
    return 2;
  }
  Config cfg;
  cfg.quick = std::getenv("HIVE_BENCH_QUICK") != nullptr;
  if (cfg.quick) {
    cfg.seconds = 3;
    cfg.anchor_seconds = 2;
  }
  char tmpl[] = "/tmp/hive-bench-ingest-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;

  size_t body_bytes = 0;
  const auto bodies = MakeBodies(cfg.quick ? 16 : 64, cfg.events_per_batch, &body_bytes);

  int port = 0;
  pid_t pid = StartHived(argv[1], dir, &port);
  if (pid < 0) {
    std::cerr << "ingest_bench: hived did not start (see " << dir << "/hived.err)\n";
    return 1;
  }
  const ProcStat before = ReadProc(pid);
  const IngestResult hive = RunHttp(port, bodies, cfg);
  const ProcStat after = ReadProc(pid);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);

  const IngestResult anchor = RunSqliteAnchor(dir, bodies, cfg);
  std::filesystem::remove_all(dir);

  const double hive_eps = static_cast<double>(hive.events) / hive.seconds;
  const double anchor_eps = static_cast<double>(anchor.events) / anchor.seconds;
  std::printf(
      "bench/ingest (%s): %d client threads, %d events (%zu bytes) per batch, durable acks\n",
      cfg.quick ? "quick" : "full", cfg.threads, cfg.events_per_batch, body_bytes);
  std::printf("%-44s %12s %9s %10s %10s\n", "path", "events/s", "MB/s", "CPU cores", "RSS MB");
  std::printf("%-44s %12.0f %9.1f %10.2f %10.1f\n", "hived HTTP -> WAL + blocks (this store)",
              hive_eps, static_cast<double>(hive.bytes) / hive.seconds / 1e6,
              (after.cpu_seconds - before.cpu_seconds) / hive.seconds, after.peak_rss_mb);
  std::printf("%-44s %12.0f %9.1f %10s %10s\n", "anchor: SQLite row/event + trace_id B-tree",
              anchor_eps, static_cast<double>(anchor.bytes) / anchor.seconds / 1e6, "-", "-");
  std::printf("ratio hive / anchor: %.1fx   target: >= 200000 events/s   failed requests: %llu\n",
              anchor_eps > 0 ? hive_eps / anchor_eps : 0.0,
              static_cast<unsigned long long>(hive.failures));
  return hive.failures == 0 && hive.events > 0 ? 0 : 1;
}
