// The attacks on hived's HTTP server, each against a real hived process:
// a flood of header lines, thousands of idle keep-alive connections, clients
// that send their head one line at a time, and a web page that reaches a
// loopback hived through DNS rebinding or a cross-site form. Each of these
// hurt the thread-per-connection server; none may now.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "hive/core/http_client.h"
#include "hive/core/process.h"
#include "hive_processes.h"
#include "raw_http.h"

namespace hive::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A field of /proc/<pid>/status ("VmRSS", "Threads"), as its first number.
long ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int PortOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

// How long one GET takes, or a minute when it fails.
milliseconds Latency(HttpClient& c, const std::string& target) {
  const auto start = std::chrono::steady_clock::now();
  auto r = c.Get(target);
  if (!r.ok() || r->status != 200) return seconds(60);
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

class HivedLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>();
    RaiseOpenFileLimit();
  }
  void Start(std::vector<std::string> args) {
    hived_ = std::make_unique<HivedProcess>(dir_->path(), std::move(args));
    ASSERT_FALSE(hived_->url().empty()) << hived_->process().Stderr();
  }
  pid_t pid() { return hived_->process().pid(); }
  int port() { return PortOf(hived_->url()); }
  void TearDown() override {
    if (hived_) {
      EXPECT_EQ(hived_->process().Signal(SIGTERM, seconds(15)), 0) << hived_->process().Stderr();
    }
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<HivedProcess> hived_;
};

// The old server took 300,000 header lines into memory before it checked
// anything: +600 MB, kept.
TEST_F(HivedLimitsTest, AFloodOfHeaderLinesWithoutATokenCostsNoMemory) {
  std::ofstream(dir_->path() + "/tokens.yaml")
      << "tokens:\n  - name: ops\n    role: operator\n    token: s3cret-operator-token\n";
  Start({"--tokens-file", dir_->path() + "/tokens.yaml"});
  auto c = ClientFor(hived_->url(), "s3cret-operator-token");
  ASSERT_EQ(c->Get("/healthz")->status, 200);
  const long rss_before_kb = ProcStatus(pid(), "VmRSS");
  RawConnection flood(port());
  ASSERT_TRUE(flood.Send("GET /api/v1/services HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  std::string lines;
  for (int i = 0; i < 1000; ++i) lines += "X-A: b\r\n";
  for (int sent = 0; sent < 300 && flood.Send(lines); ++sent) {
  }
  EXPECT_EQ(StatusOf(flood.ReadResponse(seconds(10))), 431);
  const long grown_kb = ProcStatus(pid(), "VmRSS") - rss_before_kb;
  EXPECT_LT(grown_kb, 32 * 1024) << "hived grew by " << grown_kb << " KiB";
  // Which limit comes first (bytes or count) depends on how the lines arrive.
  const std::string metrics = c->Get("/metrics")->body;
  EXPECT_TRUE(
      metrics.find("hive_http_rejected_total{reason=\"header_too_large\"} 1") != std::string::npos ||
      metrics.find("hive_http_rejected_total{reason=\"too_many_headers\"} 1") != std::string::npos);
}

// The old server spent 1.8 cores on 2,000 idle keep-alive connections and
// took up to 5 s to answer /healthz meanwhile.
TEST_F(HivedLimitsTest, ThousandsOfIdleConnectionsCostNoThreadAndLittleCpu) {
  Start({"--max-connections-per-client", "5000"});
  const int connections =
      static_cast<int>(std::min<uint64_t>(2000, RaiseOpenFileLimit() > 400 ? RaiseOpenFileLimit() - 200 : 0));
  ASSERT_GE(connections, 500) << "the open-file limit is too low for this test";
  std::vector<RawConnection> idle;
  idle.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    idle.emplace_back(port());
    ASSERT_TRUE(idle.back().Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  }
  for (auto& c : idle) ASSERT_EQ(StatusOf(c.ReadResponse(seconds(10))), 200);
  const long threads = ProcStatus(pid(), "Threads");
  EXPECT_LT(threads, 100) << "hived runs " << threads << " threads";
  const double cpu_before = CpuSeconds(pid());
  auto c = ClientFor(hived_->url());
  milliseconds worst{0};
  for (int i = 0; i < 20; ++i) {
    worst = std::max(worst, Latency(*c, "/healthz"));
    std::this_thread::sleep_for(milliseconds(100));
  }
  const double cpu = CpuSeconds(pid()) - cpu_before;
  EXPECT_LT(worst, seconds(1));
  // Two seconds of idling, with twenty /healthz: well under a tenth of a core.
  EXPECT_LT(cpu, 0.2) << "hived used " << cpu << " s of CPU in 2 s";
}

// Twenty clients each sending one header line at a time held every worker
// of a 16-thread server; now each gets 408 at the head deadline and others
// are served meanwhile.
TEST_F(HivedLimitsTest, SlowHeaderClientsAreCutAtTheHeadDeadlineAndHoldNothing) {
  Start({"--http-threads", "2", "--head-timeout", "2s"});
  std::vector<RawConnection> slow;
  for (int i = 0; i < 20; ++i) {
    slow.emplace_back(port());
    ASSERT_TRUE(slow.back().Send("GET /api/v1/services HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  }
  auto c = ClientFor(hived_->url());
  const auto start = std::chrono::steady_clock::now();
  std::vector<int> statuses(slow.size(), 0);
  int answered = 0;
  for (int round = 0; answered < 20 && round < 100; ++round) {
    EXPECT_LT(Latency(*c, "/api/v1/services"), seconds(1));
    for (size_t i = 0; i < slow.size(); ++i) {
      if (statuses[i] != 0) continue;
      slow[i].Send("X-Drip-" + std::to_string(round) + ": 1\r\n");
      statuses[i] = StatusOf(slow[i].ReadResponse(milliseconds(5)));
      if (statuses[i] != 0) ++answered;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(answered, 20);
  for (int s : statuses) EXPECT_EQ(s, 408);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(8));
}

class HivedBrowserTest : public HivedLimitsTest {
 protected:
  void SetUp() override {
    HivedLimitsTest::SetUp();
    std::ofstream(dir_->path() + "/secrets.key") << std::string(64, 'a') << "\n";
    std::filesystem::permissions(dir_->path() + "/secrets.key",
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    Start({"--secrets-key-file", dir_->path() + "/secrets.key"});
    auto c = ClientFor(hived_->url());
    for (const char* body : {R"({"db.password":"{secret}hunter2","failure_rate":0.02})",
                             R"({"db.password":"{secret}hunter2","failure_rate":0.3})"}) {
      auto r = c->Send("PUT", "/api/v1/config/payments/prod", body);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->status, 200) << r->body;
    }
  }

  int Version() {
    auto r = ClientFor(hived_->url())->Get("/api/v1/config/payments/prod");
    return r.ok() ? json::parse(r->body)["version"].get<int>() : -1;
  }
};

// A page on attacker.example whose name the attacker re-points at 127.0.0.1
// reads what the browser fetches from "its own" origin.
TEST_F(HivedBrowserTest, ADnsRebindingPageCannotReadASecret) {
  RawConnection page(port());
  ASSERT_TRUE(page.Send(
      "GET /api/v1/config/payments/prod HTTP/1.1\r\nHost: attacker.example:" +
      std::to_string(port()) + "\r\nUser-Agent: Mozilla/5.0\r\n\r\n"));
  const std::string r = page.ReadResponse(seconds(5));
  EXPECT_EQ(StatusOf(r), 403) << r;
  EXPECT_EQ(r.find("hunter2"), std::string::npos);
  // The same request by its loopback name is the anonymous admin's, in clear.
  RawConnection local(port());
  ASSERT_TRUE(local.Send("GET /api/v1/config/payments/prod HTTP/1.1\r\nHost: 127.0.0.1:" +
                         std::to_string(port()) + "\r\n\r\n"));
  EXPECT_NE(local.ReadResponse(seconds(5)).find("hunter2"), std::string::npos);
}

// A form or a text/plain fetch from any site needs no CORS preflight.
TEST_F(HivedBrowserTest, ACrossSitePostCannotRollAConfigurationBack) {
  ASSERT_EQ(Version(), 2);
  const std::string host = "Host: 127.0.0.1:" + std::to_string(port()) + "\r\n";
  for (const std::string& from :
       {std::string("Origin: http://attacker.example\r\n"), std::string("Origin: null\r\n"),
        std::string()}) {
    RawConnection page(port());
    ASSERT_TRUE(page.Send("POST /api/v1/config/payments/prod/rollback HTTP/1.1\r\n" + host + from +
                          "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
                          "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 2\r\n\r\n{}"));
    EXPECT_EQ(StatusOf(page.ReadResponse(seconds(5))), 403) << from;
  }
  EXPECT_EQ(Version(), 2);
  // The dashboard (same origin) and hivectl still can.
  RawConnection dashboard(port());
  ASSERT_TRUE(dashboard.Send("POST /api/v1/config/payments/prod/rollback HTTP/1.1\r\n" + host +
                             "Origin: http://127.0.0.1:" + std::to_string(port()) +
                             "\r\nUser-Agent: Mozilla/5.0\r\nContent-Type: application/json\r\n"
                             "Content-Length: 2\r\n\r\n{}"));
  EXPECT_EQ(StatusOf(dashboard.ReadResponse(seconds(5))), 200);
  EXPECT_EQ(Version(), 3);
}

}  // namespace
}  // namespace hive::testing
