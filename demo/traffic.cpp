// hive-demo-traffic: load for the demo shop's gateway.
//
//   hive-demo-traffic --target http://127.0.0.1:8080 --rps 20 [--duration 0] [--workers 4]
//
// Sends GET /checkout?item=sku-N at --rps over --workers keep-alive clients.
// Every 5 s it prints one summary line for the last interval:
//   t=5s sent=100 2xx=98 4xx=0 5xx=2 errors=0 p50=12.3ms p99=40.1ms
// and for each failed request one line with its correlation id:
//   failed: 502 trace_id=4bf92f3577b34da6a3ce929d0e0e4736
//   failed: error (Connection) trace_id=-
// At the end: "total: sent=... 2xx=... 4xx=... 5xx=... errors=...".
// Stops on SIGTERM/SIGINT or after --duration seconds (0: run until signalled).
//
// Thread model: main() reports and owns the stop flag, one thread takes
// signals with sigwait(), each worker owns its httplib client.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "trace_context.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kReportInterval = std::chrono::seconds(5);
// Matches DemoService: reconnect rather than reuse a connection the server may
// be closing.
constexpr auto kClientMaxIdle = std::chrono::milliseconds(1000);

// Counts for one reporting interval (or the whole run, without latencies).
struct Tally {
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t client_errors = 0;
  uint64_t server_errors = 0;
  uint64_t transport_errors = 0;
  std::vector<double> latencies_ms;

  void Add(const Tally& other) {
    sent += other.sent;
    ok += other.ok;
    client_errors += other.client_errors;
    server_errors += other.server_errors;
    transport_errors += other.transport_errors;
  }
};

double Percentile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  size_t index = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
  index = std::min(index, values.size() - 1);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

class TrafficGenerator {
 public:
  TrafficGenerator(std::string target, double rps, int workers, int items)
      : target_(std::move(target)), rps_(rps), workers_(workers), items_(items) {}

  // Runs until Stop() or `duration` (zero: no limit); prints as it goes.
  void Run(std::chrono::duration<double> duration) {
    Clock::time_point start = Clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < workers_; ++i) threads.emplace_back([this, i, start] { Work(i, start); });

    Tally total;
    Clock::time_point next_report = start + kReportInterval;
    bool limited = duration.count() > 0;
    Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(duration);
    {
      std::unique_lock lock(mu_);
      while (!stopping_) {
        Clock::time_point wake = limited ? std::min(next_report, deadline) : next_report;
        cv_.wait_until(lock, wake, [this] { return stopping_; });
        Clock::time_point now = Clock::now();
        if (now >= next_report) {
          Report(std::chrono::duration_cast<std::chrono::seconds>(now - start).count(), &total);
          next_report += kReportInterval;
        }
        if (limited && now >= deadline) stopping_ = true;
      }
    }
    cv_.notify_all();
    for (std::thread& thread : threads) thread.join();
    std::lock_guard lock(mu_);
    if (interval_.sent > 0) {
      Report(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count(),
             &total);
    }
    std::printf("total: sent=%llu 2xx=%llu 4xx=%llu 5xx=%llu errors=%llu\n",
                static_cast<unsigned long long>(total.sent),
                static_cast<unsigned long long>(total.ok),
                static_cast<unsigned long long>(total.client_errors),
                static_cast<unsigned long long>(total.server_errors),
                static_cast<unsigned long long>(total.transport_errors));
    std::fflush(stdout);
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }

 private:
  // Worker i sends requests i, i + workers, i + 2 * workers, ... of an even
  // schedule at rps_, so together the workers keep the rate.
  void Work(int worker, Clock::time_point start) {
    httplib::Client client(target_);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    client.set_connection_timeout(std::chrono::seconds(2));
    client.set_read_timeout(std::chrono::seconds(10));
    auto interval =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(workers_ / rps_));
    Clock::time_point next = start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(worker / rps_));
    Clock::time_point last_used = Clock::now();
    while (true) {
      {
        std::unique_lock lock(mu_);
        if (cv_.wait_until(lock, next, [this] { return stopping_; })) return;
      }
      Clock::time_point now = Clock::now();
      // After a slow answer, do not burst to catch up.
      next = std::max(next + interval, now - interval);
      if (now - last_used > kClientMaxIdle) client.stop();

      std::string path = "/checkout?item=sku-" + std::to_string(hive::demo::RandomInt(1, items_));
      Clock::time_point sent_at = Clock::now();
      httplib::Result result = client.Get(path);
      last_used = Clock::now();
      double ms = std::chrono::duration<double, std::milli>(last_used - sent_at).count();
      Record(result, ms);
    }
  }

  void Record(const httplib::Result& result, double ms) {
    std::lock_guard lock(mu_);
    ++interval_.sent;
    if (!result) {
      ++interval_.transport_errors;
      std::printf("failed: error (%s) trace_id=-\n", httplib::to_string(result.error()).c_str());
      std::fflush(stdout);
      return;
    }
    interval_.latencies_ms.push_back(ms);
    int status = result->status;
    if (status >= 200 && status < 300) {
      ++interval_.ok;
      return;
    }
    if (status >= 500) {
      ++interval_.server_errors;
    } else {
      ++interval_.client_errors;
    }
    std::string trace_id = result->get_header_value("X-Trace-Id");
    std::printf("failed: %d trace_id=%s\n", status, trace_id.empty() ? "-" : trace_id.c_str());
    std::fflush(stdout);
  }

  // REQUIRES: mu_ held.
  void Report(long long elapsed_s, Tally* total) {
    double p50 = Percentile(interval_.latencies_ms, 0.50);
    double p99 = Percentile(interval_.latencies_ms, 0.99);
    std::printf("t=%llds sent=%llu 2xx=%llu 4xx=%llu 5xx=%llu errors=%llu p50=%.1fms p99=%.1fms\n",
                elapsed_s, static_cast<unsigned long long>(interval_.sent),
                static_cast<unsigned long long>(interval_.ok),
                static_cast<unsigned long long>(interval_.client_errors),
                static_cast<unsigned long long>(interval_.server_errors),
                static_cast<unsigned long long>(interval_.transport_errors), p50, p99);
    std::fflush(stdout);
    total->Add(interval_);
    interval_ = Tally{};
  }

  const std::string target_;
  const double rps_;
  const int workers_;
  const int items_;

  std::mutex mu_;  // guards stopping_, interval_ and stdout
  std::condition_variable cv_;
  bool stopping_ = false;
  Tally interval_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hive demo traffic generator: GET /checkout on the demo gateway"};
  std::string target;
  double rps = 20;
  double duration_s = 0;
  int workers = 4;
  int items = 50;
  app.add_option("--target", target, "gateway base URL, http://HOST:PORT")->required();
  app.add_option("--rps", rps, "requests per second")->capture_default_str();
  app.add_option("--duration", duration_s, "seconds to run; 0 runs until SIGTERM/SIGINT")
      ->capture_default_str();
  app.add_option("--workers", workers, "concurrent keep-alive clients")->capture_default_str();
  app.add_option("--items", items, "distinct SKUs, sku-1 .. sku-N")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  static const std::regex kUrl(R"(^http://[A-Za-z0-9.-]+:[0-9]{1,5}$)");
  if (!std::regex_match(target, kUrl)) {
    std::cerr << "hive-demo-traffic: --target must be http://HOST:PORT, got '" << target << "'\n";
    return 2;
  }
  if (!(rps > 0 && rps <= 100000) || !(duration_s >= 0) || workers < 1 || workers > 256 ||
      items < 1) {
    std::cerr << "hive-demo-traffic: need 0 < --rps <= 100000, --duration >= 0, "
                 "1 <= --workers <= 256, --items >= 1\n";
    return 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // internal: wakes the signal thread at the end
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  TrafficGenerator generator(target, rps, workers, items);
  std::thread signal_thread([&] {
    int signal = 0;
    while (sigwait(&signals, &signal) != 0) {
    }
    generator.Stop();
  });
  generator.Run(std::chrono::duration<double>(duration_s));
  kill(getpid(), SIGUSR1);
  signal_thread.join();
  return 0;
}
