// bench/query: the log store's queries over a large corpus (10 M events;
// HIVE_BENCH_QUICK=1: 200 k). The corpus is written straight through the
// store API (durable appends of 5,000-event batches from two threads), then
// the store is reopened (open time and index memory are reported) and timed:
//   - trace lookup (GET /api/v1/traces/{id}'s query: every event of a trace
//     id, oldest first) for random stored trace ids and for absent ones;
//   - text search, newest first, limit 100: a term in every event, a rare
//     term (1 in 100,000 events: scans everything), and a regex.
// Prints p50/p99 per query kind against the target (trace p99 <= 50 ms).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hive/collector/segment_log_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using hive::collector::LogBatch;
using hive::collector::LogEvent;
using hive::collector::LogFilter;
using hive::collector::LogLevel;
using hive::collector::LogStore;

constexpr int kBatch = 5000;
constexpr int kEventsPerTrace = 8;
constexpr int kNeedleEvery = 100'000;

double RssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024;
  }
  return 0;
}

std::string Hex(std::mt19937_64& rng) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

LogBatch MakeBatch(std::mt19937_64& rng, uint64_t first, std::vector<std::string>* sample) {
  static constexpr const char* kServices[] = {"gateway", "orders", "inventory", "payments"};
  LogBatch b;
  b.events.reserve(kBatch);
  std::string trace;
  for (int i = 0; i < kBatch; ++i) {
    const uint64_t n = first + i;
    if (i % kEventsPerTrace == 0) {
      trace = Hex(rng);
      if (rng() % 64 == 0) sample->push_back(trace);
    }
    LogEvent e;
    e.ts_ns = 1'763'800'000'000'000'000LL + static_cast<int64_t>(n) * 10'000;
    e.service = kServices[n % 4];
    e.instance = e.service + "-" + std::to_string(n % 3);
    e.level = n % 50 == 0 ? LogLevel::kError : LogLevel::kInfo;
    e.message = "handled request " + std::to_string(rng() % 1'000'000) + " for customer " +
                std::to_string(rng() % 50'000) + " in " + std::to_string(rng() % 900) + " ms";
    if (n % kNeedleEvery == 0) e.message += " needle-7f3a";
    e.trace_id = trace;
    e.span_id = Hex(rng).substr(0, 16);
    e.attrs = {{"http.status_code", int64_t{n % 10 == 0 ? 503 : 200}},
               {"http.route", std::string("/api/v1/orders/{id}")}};
    b.events.push_back(std::move(e));
  }
  return b;
}

struct Latency {
  std::vector<double> ms;
  double P(double q) {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  }
};

template <typename F>
double TimeMs(F f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main() {
  const bool quick = std::getenv("HIVE_BENCH_QUICK") != nullptr;
  const uint64_t total = quick ? 200'000 : 10'000'000;
  char tmpl[] = "/tmp/hive-bench-query-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  hive::collector::SegmentLogStoreOptions options;
  options.dir = dir + "/collector";
  options.max_age = std::chrono::nanoseconds(0);
  options.max_bytes = 0;

  // Build the corpus.
  std::vector<std::string> traces;
  double build_s = 0;
  {
    auto store = hive::collector::OpenSegmentLogStore(options);
    if (!store.ok()) {
      std::cerr << "query_bench: " << store.status().ToString() << "\n";
      return 1;
    }
    std::atomic<uint64_t> next{0};
    std::vector<std::vector<std::string>> samples(2);
    const auto start = Clock::now();
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t) {
      writers.emplace_back([&, t] {
        std::mt19937_64 rng(100 + t);
        for (uint64_t first; (first = next.fetch_add(kBatch)) < total;) {
          auto r = (*store)->Append(MakeBatch(rng, first, &samples[t]));
          if (!r.ok()) std::cerr << "append: " << r.status().ToString() << "\n";
        }
      });
    }
    for (auto& w : writers) w.join();
    build_s = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& s : samples) traces.insert(traces.end(), s.begin(), s.end());
  }
  const double rss_before_open = RssMb();
  std::unique_ptr<LogStore> store;
  const double open_ms = TimeMs([&] {
    auto opened = hive::collector::OpenSegmentLogStore(options);
    if (opened.ok()) store = std::move(*opened);
  });
  if (!store) {
    std::cerr << "query_bench: reopening the store failed\n";
    return 1;
  }
  const auto stats = store->Stats();

  std::mt19937_64 rng(9);
  std::shuffle(traces.begin(), traces.end(), rng);
  traces.resize(std::min<size_t>(traces.size(), quick ? 200 : 1000));
  Latency found, absent;
  size_t wrong = 0;
  for (const std::string& t : traces) {
    LogFilter f;
    f.trace_id = t;
    f.limit = 10'000;
    f.newest_first = false;
    size_t n = 0;
    found.ms.push_back(TimeMs([&] { n = store->Query(f)->size(); }));
    if (n != kEventsPerTrace) ++wrong;
  }
  for (int i = 0; i < (quick ? 100 : 300); ++i) {
    LogFilter f;
    f.trace_id = Hex(rng);
    f.limit = 10'000;
    f.newest_first = false;
    absent.ms.push_back(TimeMs([&] { wrong += store->Query(f)->size(); }));
  }
  auto search = [&](LogFilter f, int runs) {
    Latency l;
    for (int i = 0; i < runs; ++i) l.ms.push_back(TimeMs([&] { (void)store->Search(f); }));
    return l;
  };
  LogFilter common;
  common.message_contains = "customer";
  LogFilter rare;
  rare.message_contains = "needle-7f3a";
  LogFilter regex;
  regex.message_regex = "customer 4999[0-9] in [0-9]+ ms";
  regex.service = "payments";
  Latency common_l = search(common, 20), rare_l = search(rare, quick ? 5 : 3),
          regex_l = search(regex, quick ? 5 : 3);
  const double rss = RssMb();
  store.reset();
  std::filesystem::remove_all(dir);

  std::printf(
      "bench/query (%s): %llu events in %llu blocks, built in %.1f s (%.0f events/s "
      "through the store API, durable)\n",
      quick ? "quick" : "full", static_cast<unsigned long long>(stats.events),
      static_cast<unsigned long long>(stats.blocks), build_s, static_cast<double>(total) / build_s);
  std::printf(
      "store on disk %.1f MB; reopen %.0f ms; index memory %.1f MB; process RSS %.1f MB "
      "(%.1f MB before reopen)\n",
      static_cast<double>(stats.disk_bytes) / 1e6, open_ms,
      static_cast<double>(stats.memory_bytes) / 1e6, rss, rss_before_open);
  std::printf("%-46s %8s %10s %10s\n", "query", "runs", "p50 ms", "p99 ms");
  auto row = [](const char* name, Latency& l) {
    const size_t runs = l.ms.size();
    std::printf("%-46s %8zu %10.2f %10.2f\n", name, runs, l.P(0.5), l.P(0.99));
  };
  row("trace lookup, stored trace id (8 events)", found);
  row("trace lookup, absent trace id", absent);
  row("text q=, term in every event, limit 100", common_l);
  row("text q=, rare term (scans all), limit 100", rare_l);
  row("regex + service, limit 100", regex_l);
  std::printf("target: trace lookup p99 <= 50 ms over 10 M events; wrong answers: %zu\n", wrong);
  return wrong == 0 ? 0 : 1;
}
