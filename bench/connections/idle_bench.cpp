// idle_bench: what idle keep-alive connections cost hived. 2,000 connections
// from one event-driven client each make one request (GET /healthz) and then
// stay open and silent, as agents between their calls; over a window (10 s)
// hived's CPU time is read from /proc/<pid>/stat (utime + stime, as a share of
// one core), while a probe opens a new connection every 100 ms for a
// /healthz of its own and times it. Three rows per hived:
//   no connections                 what hived spends on its own (reaper, ...)
//   idle, silent                   the target: <= 2 % of a core
//   idle, a request every 2 s      the server before the event-driven rewrite
//                                  (cpp-httplib) closes a connection after 5 s
//                                  without a request; one /healthz every 2 s
//                                  per connection is meant to keep them open
//                                  there (the margin is wide because that
//                                  server's polling starves the machine), so
//                                  this row compares the two servers
// Each row says how many connections were open at the end and how many the
// server closed during the window.
//
// Usage: idle_bench <hived> [<another hived, e.g. the old server's>]
// HIVE_BENCH_QUICK=1: 3 s windows.
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "async_http.h"
#include "bench_support.h"

namespace {

using hive::bench::AsyncClient;
using hive::bench::AsyncConnection;
using hive::bench::Die;
using hive::bench::HttpAnswer;
using hive::bench::Percentile;
using hive::bench::Phase;
using hive::bench::ReadProc;
using hive::bench::SteadyClock;

struct Sizes {
  int connections = 2000;
  double window_s = 10;
  std::chrono::milliseconds probe_every{100};
  std::chrono::milliseconds ping_every{2000};
};

struct Row {
  std::string state;
  int open = 0;
  int closed_by_server = 0;
  int failed = 0;     // connects or first requests that failed
  double open_s = 0;  // until every connection had its first answer
  double cpu_percent = 0;
  double probe_p50_ms = 0;
  double probe_p99_ms = 0;
  double probe_max_ms = 0;
  int probe_errors = 0;
  double rss_mb = 0;
  int threads = 0;
  std::string first_error;
};

// hived's CPU over `seconds` and /healthz on a new connection every
// `probe_every` meanwhile.
void MeasureWindow(pid_t pid, int port, const Sizes& z, Row& row) {
  std::vector<double> latencies;
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(z.window_s));
  const hive::bench::ProcStat before = ReadProc(pid);
  for (auto next = start; next < end; next += z.probe_every) {
    std::this_thread::sleep_until(next);
    httplib::Client probe("127.0.0.1", port);  // no keep-alive: a new connection each time
    probe.set_connection_timeout(30, 0);
    probe.set_read_timeout(30, 0);
    const auto sent = SteadyClock::now();
    auto r = probe.Get("/healthz");
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count();
    if (!r || r->status != 200) {
      ++row.probe_errors;
      if (row.first_error.empty()) {
        row.first_error =
            "probe: " + (r ? "status " + std::to_string(r->status) : httplib::to_string(r.error()));
      }
    }
    latencies.push_back(ms);
  }
  const hive::bench::ProcStat after = ReadProc(pid);
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  row.cpu_percent = 100 * (after.cpu_seconds - before.cpu_seconds) / elapsed;
  row.probe_p50_ms = Percentile(latencies, 0.50);
  row.probe_p99_ms = Percentile(latencies, 0.99);
  row.probe_max_ms = Percentile(latencies, 1.0);
  row.rss_mb = after.rss_mb;
  row.threads = after.threads;
}

// The connections of one row and what happened to them; touched by the
// client's I/O thread and read after it stopped.
struct Idlers {
  std::atomic<int> open{0};
  std::atomic<int> failed{0};
  std::atomic<int> closed_by_server{0};
  std::mutex mu;
  std::string first_error;  // guarded by mu

  void Error(const std::string& e) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = e;
  }
  void Closed(AsyncConnection& c, const std::string& why) {
    ++closed_by_server;
    --open;
    Error("an idle connection ended: " + why);
    c.Close();
  }
};

// Notices when the server closes `c`; with a `ping` period, also sends
// GET /healthz on it after `delay` and then every period.
void KeepIdle(std::shared_ptr<AsyncConnection> c, Idlers& idlers, const std::string& healthz,
              std::chrono::milliseconds ping, std::chrono::milliseconds delay) {
  c->AwaitClose([&idlers, c](const std::string& why) { idlers.Closed(*c, why); });
  if (ping.count() == 0) return;
  c->After(delay, [c, &idlers, healthz, ping] {
    c->Exchange(healthz, [c, &idlers, healthz, ping](const std::string& error, HttpAnswer a) {
      if (!error.empty() || a.status != 200) {
        return idlers.Closed(*c, error.empty() ? "status " + std::to_string(a.status) : error);
      }
      KeepIdle(c, idlers, healthz, ping, ping);
    });
  });
}

Row IdleRow(pid_t pid, int port, const Sizes& z, std::chrono::milliseconds ping) {
  Row row;
  Idlers idlers;
  {
    AsyncClient client("127.0.0.1", port, 1);
    const std::string healthz = hive::bench::HttpRequestText("GET", "/healthz", client.authority());
    std::mt19937 rng(7);
    std::vector<std::chrono::milliseconds> first_ping(static_cast<size_t>(z.connections));
    for (auto& d : first_ping) {
      d = std::chrono::milliseconds(ping.count() > 0 ? rng() % ping.count() : 0);
    }
    const auto start = SteadyClock::now();
    client.OpenMany(
        z.connections, 200,
        [&](int i, std::shared_ptr<AsyncConnection> c, AsyncClient::Ready ready) {
          c->Exchange(healthz, [&, c, ready, i](const std::string& error, HttpAnswer a) {
            ready();
            if (!error.empty() || a.status != 200) {
              ++idlers.failed;
              idlers.Error(error.empty() ? "status " + std::to_string(a.status) : error);
              return c->Close();
            }
            ++idlers.open;
            // The first ping at a random point of the period, so that they
            // spread over it rather than come all at once.
            KeepIdle(c, idlers, healthz, ping, first_ping[static_cast<size_t>(i)]);
          });
        },
        [&](int, const std::string& error) {
          ++idlers.failed;
          idlers.Error(error);
        });
    const auto deadline = SteadyClock::now() + std::chrono::seconds(120);
    while (idlers.open + idlers.failed + idlers.closed_by_server < z.connections &&
           SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    row.open_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
    std::this_thread::sleep_for(std::chrono::seconds(1));  // let the connects' work settle
    const int closed_before = idlers.closed_by_server;
    MeasureWindow(pid, port, z, row);
    row.open = idlers.open;
    row.closed_by_server = idlers.closed_by_server - closed_before;
  }
  row.failed = idlers.failed;
  if (row.first_error.empty()) row.first_error = idlers.first_error;
  return row;
}

void WaitUntilUp(int port) {
  const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  while (SteadyClock::now() < deadline) {
    httplib::Client c("127.0.0.1", port);
    if (auto r = c.Get("/healthz"); r && r->status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Die("hived did not come up on port " + std::to_string(port));
}

std::vector<Row> BenchHived(const std::string& hived, const std::string& dir, const Sizes& z) {
  const int port = hive::bench::FreePort();
  std::vector<std::string> args = {
      hived,         "--listen",     "127.0.0.1:" + std::to_string(port),
      "--data-dir",  dir + "/data",  "--roles",
      "registry",    "--access-log", "none",
      "--log-level", "warn"};
  // The event-driven server limits connections per client address (512 by
  // default); every connection here comes from 127.0.0.1.
  if (hive::bench::HivedHasFlag(hived, "--max-connections-per-client")) {
    for (const char* a : {"--max-connections", "20000", "--max-connections-per-client", "20000"}) {
      args.emplace_back(a);
    }
  }
  hive::bench::ChildProcess server(args, dir + "/hived.log");
  WaitUntilUp(port);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<Row> rows;
  Phase("no connections");
  rows.emplace_back();
  rows.back().state = "no connections";
  MeasureWindow(server.pid(), port, z, rows.back());
  Phase(std::to_string(z.connections) + " idle, silent");
  rows.push_back(IdleRow(server.pid(), port, z, std::chrono::milliseconds(0)));
  rows.back().state = std::to_string(z.connections) + " idle, silent";
  const std::string pinged = std::to_string(z.connections) + " idle, GET every " +
                             std::to_string(z.ping_every.count() / 1000) + " s";
  Phase(pinged);
  rows.push_back(IdleRow(server.pid(), port, z, z.ping_every));
  rows.back().state = pinged;
  if (!server.Running()) Die("hived exited during the run (see " + dir + "/hived.log)");
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: idle_bench <hived> [<another hived>]\n");
    return 2;
  }
  Sizes z;
  const char* quick = std::getenv("HIVE_BENCH_QUICK");
  if (quick != nullptr && std::string(quick) == "1") z.window_s = 3;
  const unsigned long files = hive::bench::RaiseOpenFileLimit();
  if (files < static_cast<unsigned long>(z.connections) + 100) {
    Die("the open-file limit (" + std::to_string(files) + ") is below " +
        std::to_string(z.connections + 100));
  }
  std::printf(
      "idle_bench: %d keep-alive connections from one client thread, %.0f s windows, "
      "/healthz on a new connection every %lld ms\n",
      z.connections, z.window_s, static_cast<long long>(z.probe_every.count()));
  std::printf(
      "| %-40s | %-30s | %6s | %5s | %6s | %6s | %8s | %8s | %8s | %8s | %6s | %7s | %7s |\n",
      "hived", "state", "open s", "open", "closed", "failed", "CPU %", "p50 ms", "p99 ms", "max ms",
      "errors", "RSS MiB", "threads");
  std::fflush(stdout);
  int errors = 0;
  for (int a = 1; a < argc; ++a) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("hive-idle-bench-" + std::to_string(::getpid()) + "-" + std::to_string(a));
    std::filesystem::create_directories(dir);
    Phase(argv[a]);
    for (const Row& r : BenchHived(argv[a], dir.string(), z)) {
      std::printf(
          "| %-40s | %-30s | %6.1f | %5d | %6d | %6d | %8.2f | %8.2f | %8.2f | %8.2f | %6d | "
          "%7.1f | %7d |\n",
          argv[a], r.state.c_str(), r.open_s, r.open, r.closed_by_server, r.failed, r.cpu_percent,
          r.probe_p50_ms, r.probe_p99_ms, r.probe_max_ms, r.probe_errors, r.rss_mb, r.threads);
      if (!r.first_error.empty()) std::printf("    first error: %s\n", r.first_error.c_str());
      errors += r.failed + r.probe_errors;
      std::fflush(stdout);
    }
    std::filesystem::remove_all(dir);
  }
  std::printf(
      "open s: time to open the connections; open: still open at the end of the window; closed: "
      "closed by the server during the window; failed: connects or first requests that failed; "
      "CPU %%: hived's utime+stime over the window as a share of one core; p50/p99/max: "
      "/healthz on a new connection; errors: probes that failed\n");
  return errors == 0 ? 0 : 1;
}
