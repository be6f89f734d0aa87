// bench/ingest: collector log ingest with durable acknowledgements, through
// HTTP into a real hived (--roles collector, port 0), from several client
// threads; and, beside it on the same machine, the anchor: the same events
// ingested into SQLite with one row per event and a B-tree index on trace_id,
// one transaction per batch at synchronous=FULL (the same durability).
//
// Then the same run against a hived serving HTTPS (--tls-cert/--tls-key, a
// self-signed certificate made with the openssl CLI, which the clients
// verify), for what TLS costs. The clients are cpp-httplib keep-alive
// clients (as hive::HttpClient configures them), plain or TLS.
//
// Prints events/s, MB/s of NDJSON, hived's CPU (cores) and peak RSS, and the
// ratio to the anchor. HIVE_BENCH_QUICK=1: a few seconds in all.
//
// Usage: ingest_bench <path to hived>
#include <fcntl.h>
#include <httplib.h>
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
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "hive/collector/ndjson.h"
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

using hive::bench::ProcStat;
using hive::bench::ReadProc;

// Starts hived (with `tls`, serving HTTPS) and reads its port from the
// "listening" log line.
pid_t StartHived(const std::string& hived, const std::string& dir, const std::string& name,
                 const hive::bench::TlsFiles* tls, int* port) {
  const std::string err_path = dir + "/" + name + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<std::string> args = {hived,        "--listen",       "127.0.0.1:0",
                                   "--data-dir", dir + "/" + name, "--roles",
                                   "collector",  "--access-log",   "none"};
  if (tls != nullptr) {
    for (const std::string& a :
         {std::string("--tls-cert"), tls->cert, std::string("--tls-key"), tls->key}) {
      args.push_back(a);
    }
  }
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

// `base` is http://127.0.0.1:<port> or https://…; `ca_file` verifies the
// latter.
IngestResult RunHttp(const std::string& base, const std::string& ca_file,
                     const std::vector<std::string>& bodies, const Config& cfg) {
  std::atomic<uint64_t> events{0}, bytes{0}, failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < cfg.threads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client(base);
      client.set_connection_timeout(3, 0);
      client.set_read_timeout(30, 0);
      client.set_write_timeout(30, 0);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      if (!ca_file.empty()) {
        client.set_ca_cert_path(ca_file);
        client.enable_server_certificate_verification(true);
      }
      for (size_t i = t; !stop; i += cfg.threads) {
        const std::string& body = bodies[i % bodies.size()];
        auto r = client.Post("/api/v1/ingest/logs", body, "application/x-ndjson");
        if (!r || r->status != 200) {
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

// One hived run: the ingest result and hived's CPU (cores) and peak RSS.
struct HivedRun {
  IngestResult ingest;
  double cores = 0;
  double peak_rss_mb = 0;
};

HivedRun RunAgainstHived(const std::string& hived, const std::string& dir, const std::string& name,
                         const hive::bench::TlsFiles* tls, const std::vector<std::string>& bodies,
                         const Config& cfg) {
  int port = 0;
  pid_t pid = StartHived(hived, dir, name, tls, &port);
  if (pid < 0) {
    std::cerr << "ingest_bench: hived did not start (see " << dir << "/" << name << ".err)\n";
    std::exit(1);
  }
  const std::string base =
      std::string(tls != nullptr ? "https" : "http") + "://127.0.0.1:" + std::to_string(port);
  HivedRun run;
  const ProcStat before = ReadProc(pid);
  run.ingest = RunHttp(base, tls != nullptr ? tls->cert : "", bodies, cfg);
  const ProcStat after = ReadProc(pid);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  run.cores = (after.cpu_seconds - before.cpu_seconds) / run.ingest.seconds;
  run.peak_rss_mb = after.peak_rss_mb;
  return run;
}

void PrintHivedRow(const char* path, const HivedRun& r) {
  std::printf("%-44s %12.0f %9.1f %10.2f %10.1f\n", path,
              static_cast<double>(r.ingest.events) / r.ingest.seconds,
              static_cast<double>(r.ingest.bytes) / r.ingest.seconds / 1e6, r.cores, r.peak_rss_mb);
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

  const HivedRun plain = RunAgainstHived(argv[1], dir, "hived", nullptr, bodies, cfg);
  std::optional<HivedRun> tls;
  if (hive::bench::HivedHasFlag(argv[1], "--tls-cert")) {
    const hive::bench::TlsFiles files = hive::bench::MakeSelfSignedCert(dir);
    tls = RunAgainstHived(argv[1], dir, "hived-tls", &files, bodies, cfg);
  }
  const IngestResult anchor = RunSqliteAnchor(dir, bodies, cfg);
  std::filesystem::remove_all(dir);

  const double hive_eps = static_cast<double>(plain.ingest.events) / plain.ingest.seconds;
  const double anchor_eps = static_cast<double>(anchor.events) / anchor.seconds;
  std::printf(
      "bench/ingest (%s): %d client threads, %d events (%zu bytes) per batch, durable acks\n",
      cfg.quick ? "quick" : "full", cfg.threads, cfg.events_per_batch, body_bytes);
  std::printf("%-44s %12s %9s %10s %10s\n", "path", "events/s", "MB/s", "CPU cores", "RSS MB");
  PrintHivedRow("hived HTTP -> WAL + blocks (this store)", plain);
  if (tls) PrintHivedRow("hived HTTPS (TLS) -> WAL + blocks", *tls);
  std::printf("%-44s %12.0f %9.1f %10s %10s\n", "anchor: SQLite row/event + trace_id B-tree",
              anchor_eps, static_cast<double>(anchor.bytes) / anchor.seconds / 1e6, "-", "-");
  uint64_t failures = plain.ingest.failures;
  std::printf("ratio hive / anchor: %.1fx   target: >= 200000 events/s   failed requests: %llu\n",
              anchor_eps > 0 ? hive_eps / anchor_eps : 0.0,
              static_cast<unsigned long long>(plain.ingest.failures));
  if (tls) {
    const double tls_eps = static_cast<double>(tls->ingest.events) / tls->ingest.seconds;
    std::printf(
        "ratio HTTPS / HTTP: %.2fx events/s, %.2fx hived CPU per event   failed: %llu\n",
        hive_eps > 0 ? tls_eps / hive_eps : 0.0,
        plain.cores > 0 && tls_eps > 0 ? (tls->cores / tls_eps) / (plain.cores / hive_eps) : 0.0,
        static_cast<unsigned long long>(tls->ingest.failures));
    failures += tls->ingest.failures;
  }
  return failures == 0 && plain.ingest.events > 0 ? 0 : 1;
}
