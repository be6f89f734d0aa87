// The agent's delivery promises end to end against the fake control plane
// (which de-duplicates by X-Hive-Batch-Id like the real collector): the
// collector down and back, a full spool, restarts mid-stream, rotation of
// both kinds under load, malformed and huge lines — each ending with every
// line at the collector exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "fake_control_plane.h"
#include "hive/agent/log_shipper.h"
#include "hive/core/log.h"
#include "temp_dir.h"

namespace hive::agent {
namespace {

using hive::testing::AppendFile;
using hive::testing::ReadFile;
using hive::testing::TempDir;
using nlohmann::json;
using testing::FakeControlPlane;
using testing::FastAgentOptions;
using testing::ShipperConfig;

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override { log::SetLevel(log::Level::kError); }

  AgentConfig Config() { return ShipperConfig(fake_.url(), dir_.path()); }

  static AgentOptions Options() {
    AgentOptions o = FastAgentOptions();
    o.drain_timeout = std::chrono::milliseconds(500);
    o.rotate_wait = std::chrono::milliseconds(0);
    o.max_batch_lines = 200;
    return o;
  }

  // Every message at the collector, and whether each arrived exactly once.
  std::multiset<std::string> Messages() {
    std::multiset<std::string> out;
    for (const auto& e : fake_.events()) out.insert(e.value("message", ""));
    return out;
  }

  static std::set<std::string> Numbered(int from, int to) {
    std::set<std::string> out;
    for (int i = from; i < to; ++i) out.insert("line " + std::to_string(i));
    return out;
  }

  // Waits until the collector holds exactly `expected` (each once).
  ::testing::AssertionResult ArrivedExactlyOnce(
      const std::set<std::string>& expected,
      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    FakeControlPlane::WaitFor([&] { return fake_.events().size() >= expected.size(); }, timeout);
    const auto got = Messages();
    for (const auto& m : got) {
      if (got.count(m) != 1) return ::testing::AssertionFailure() << "'" << m << "' arrived twice";
      if (!expected.contains(m)) return ::testing::AssertionFailure() << "unexpected '" << m << "'";
    }
    if (got.size() != expected.size()) {
      std::string missing;
      for (const auto& m : expected) {
        if (!got.contains(m) && missing.size() < 200) missing += m + ", ";
      }
      return ::testing::AssertionFailure()
             << got.size() << " of " << expected.size() << " lines arrived; missing: " << missing;
    }
    return ::testing::AssertionSuccess();
  }

  static std::string Line(int i) {
    // Numbers first, so every file starts with different bytes.
    return "{\"seq\":" + std::to_string(i) + ",\"msg\":\"line " + std::to_string(i) + "\"}\n";
  }

  TempDir dir_;
  FakeControlPlane fake_;
  AgentMetrics metrics_;
};

TEST_F(DeliveryTest, CollectorDownThenBackDeliversEveryLineOnce) {
  fake_.SetIngestStatus(503);
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  std::string text;
  for (int i = 0; i < 3000; ++i) text += json{{"msg", "line " + std::to_string(i)}}.dump() + "\n";
  AppendFile(dir_ / "app.log", text);
  // Reading goes on while the collector is down: the lines pile up in the spool.
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return metrics_.Read().lines_read == 3000; }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return metrics_.Read().spool_records >= 15; }));
  EXPECT_TRUE(fake_.events().empty());
  EXPECT_GT(metrics_.Read().ship_retries, 0u);
  fake_.SetIngestStatus(0);
  EXPECT_TRUE(ArrivedExactlyOnce(Numbered(0, 3000)));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return metrics_.Read().spool_records == 0; }));
  // Order is kept: batches leave the spool oldest first.
  const auto events = fake_.events();
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i]["message"], "line " + std::to_string(i));
  }
}

TEST_F(DeliveryTest, FullSpoolPausesTailingAndTheFilesKeepTheRest) {
  fake_.SetIngestStatus(503);
  AgentConfig c = Config();
  c.spool_max_bytes = 64 * 1024;
  LogShipper shipper(c, Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  std::string text;
  for (int i = 0; i < 4000; ++i) text += json{{"msg", "line " + std::to_string(i)}}.dump() + "\n";
  AppendFile(dir_ / "app.log", text);
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return metrics_.Read().spool_bytes > 40 * 1024; }));
  // Give the reader thread time to overrun if it were going to.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LE(metrics_.Read().spool_bytes, 64u * 1024 + 32 * 1024);
  EXPECT_LT(metrics_.Read().lines_read, 4000u);
  EXPECT_EQ(metrics_.Read().lines_dropped, 0u);
  fake_.SetIngestStatus(0);
  EXPECT_TRUE(ArrivedExactlyOnce(Numbered(0, 4000)));
}

TEST_F(DeliveryTest, BatchesGoAsZstdAndAsGzipToACollectorWithoutIt) {
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  std::string text;
  for (int i = 0; i < 400; ++i) text += Line(i);
  AppendFile(dir_ / "app.log", text);
  ASSERT_TRUE(ArrivedExactlyOnce(Numbered(0, 400)));
  const auto before = fake_.ingest_codings();
  ASSERT_FALSE(before.empty());
  for (const auto& c : before) EXPECT_EQ(c, "zstd");
  // A hived from before zstd answers 415: the same batch goes again as gzip
  // at once (not dead-lettered, not retried later), and so do the next.
  fake_.RefuseZstd();
  text.clear();
  for (int i = 400; i < 800; ++i) text += Line(i);
  AppendFile(dir_ / "app.log", text);
  EXPECT_TRUE(ArrivedExactlyOnce(Numbered(0, 800)));
  const auto after = fake_.ingest_codings();
  ASSERT_GE(after.size(), before.size() + 2);
  EXPECT_EQ(after[before.size()], "zstd");
  for (size_t i = before.size() + 1; i < after.size(); ++i) EXPECT_EQ(after[i], "gzip") << i;
  EXPECT_EQ(metrics_.Read().ship_retries, 0u);
  EXPECT_EQ(metrics_.Read().lines_dead_lettered, 0u);
}

TEST_F(DeliveryTest, RetryAfterIsHonoured) {
  fake_.SetIngestStatus(429);
  fake_.SetRetryAfter("1");
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  AppendFile(dir_ / "app.log", "{\"msg\":\"line 0\"}\n");
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.ingest_requests() >= 1; }));
  const auto start = std::chrono::steady_clock::now();
  // Backoff alone (20–100 ms) would retry several times within 600 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(fake_.ingest_requests(), 1);
  fake_.SetIngestStatus(0);
  EXPECT_TRUE(ArrivedExactlyOnce(Numbered(0, 1)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(400));
}

TEST_F(DeliveryTest, MalformedAndHugeLinesArriveOnceOrGoToTheDeadLetterFile) {
  fake_.RejectMessage("poison");
  AgentConfig c = Config();
  c.logs[0].max_line_bytes = 1024;
  LogShipper shipper(c, Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  AppendFile(dir_ / "app.log", "{\"msg\":\"line 0\"}\n{\"msg\":\"poison\"}\n{not json at all\n" +
                                   std::string(300 * 1024, 'h') + "\n\xff\xfe broken utf8\n" +
                                   "{\"msg\":\"line 1\"}\n");
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 5; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto events = fake_.events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0]["message"], "line 0");
  EXPECT_EQ(events[1]["message"], "{not json at all");
  EXPECT_EQ(events[2]["message"].get<std::string>().size(), 1024u);
  EXPECT_EQ(events[2]["attrs"]["truncated"], true);
  EXPECT_EQ(events[4]["message"], "line 1");
  EXPECT_EQ(metrics_.Read().lines_truncated, 1u);
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return metrics_.Read().lines_dead_lettered == 1; }));
  const std::string dead = ReadFile(dir_ / "spool/dead-letter.ndjson");
  EXPECT_NE(dead.find("poison"), std::string::npos);
  EXPECT_EQ(dead.find("line 0"), std::string::npos);
}

TEST_F(DeliveryTest, RestartsMidStreamLoseAndDuplicateNothing) {
  std::atomic<bool> writing = true;
  std::thread writer([&] {
    for (int i = 0; i < 6000; ++i) {
      AppendFile(dir_ / "app.log", Line(i));
      if (i % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
    writing = false;
  });
  AgentOptions o = Options();
  o.drain_timeout = std::chrono::milliseconds(0);  // stop with batches left in the spool
  for (int round = 0; round < 4; ++round) {
    // The collector flaps so some batches are sent but not acknowledged.
    fake_.SetIngestStatus(round % 2 == 1 ? 503 : 0);
    LogShipper shipper(Config(), o, metrics_);
    ASSERT_TRUE(shipper.Start().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  writer.join();
  fake_.SetIngestStatus(0);
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  EXPECT_TRUE(ArrivedExactlyOnce(Numbered(0, 6000), std::chrono::seconds(30)));
  EXPECT_FALSE(writing);
}

TEST_F(DeliveryTest, RotationOfBothKindsUnderLoadLosesAndDuplicatesNothing) {
  const std::string log = dir_ / "app.log";
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  constexpr int kLines = 12000;
  std::thread writer([&] {
    for (int i = 0; i < kLines; ++i) {
      AppendFile(log, Line(i));
      if (i > 0 && i % 1000 == 0) {
        if ((i / 1000) % 2 == 0) {
          // logrotate's default: rename, then the service opens a new file.
          std::filesystem::rename(log, dir_ / ("app.log." + std::to_string(i)));
        } else {
          // copytruncate: copy, then truncate the file the service keeps open.
          std::filesystem::copy_file(log, dir_ / ("app.log." + std::to_string(i)));
          std::filesystem::resize_file(log, 0);
        }
      }
      if (i > 1 && i % 1000 == 1) {
        // Rotations are minutes apart in life; here a few scan intervals
        // after the service reopened, so the agent has seen each new file
        // before it is rotated in turn.
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
      }
      if (i % 200 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  writer.join();
  EXPECT_TRUE(ArrivedExactlyOnce(Numbered(0, kLines), std::chrono::seconds(30)));
}

TEST_F(DeliveryTest, MultilineEventsAndFormatsAreJoinedAndParsed) {
  AgentConfig c = Config();
  c.logs[0].format.format = LogFormat::kRegex;
  c.logs[0].format.pattern = R"(^(?<ts>\S+) (?<level>\w+) (?<message>(.|\n)*)$)";
  c.logs[0].format.multiline_start = R"(^\d{4}-)";
  c.logs[0].format.multiline_timeout = std::chrono::milliseconds(100);
  LogSourceConfig lf;
  lf.path = dir_ / "*.logfmt";
  lf.format.format = LogFormat::kLogfmt;
  c.logs.push_back(lf);
  LogShipper shipper(c, Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  AppendFile(dir_ / "app.log",
             "2026-11-22T10:00:00Z ERROR payment failed\n"
             "java.lang.IllegalStateException: card declined\n"
             "\tat Payments.charge(Payments.java:42)\n"
             "2026-11-22T10:00:01Z INFO recovered\n");
  AppendFile(dir_ / "b.logfmt", "level=warn msg=\"slow disk\" trace_id=t-9 disk=sda\n");
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 3; }));
  std::map<std::string, json> by_message;
  for (const auto& e : fake_.events()) by_message[e.value("message", "")] = e;
  const std::string trace =
      "payment failed\njava.lang.IllegalStateException: card declined\n"
      "\tat Payments.charge(Payments.java:42)";
  ASSERT_TRUE(by_message.contains(trace));
  EXPECT_EQ(by_message[trace]["level"], "error");
  EXPECT_EQ(by_message[trace]["ts"], 1795341600000000000);
  ASSERT_TRUE(by_message.contains("recovered"));  // flushed by the timeout
  ASSERT_TRUE(by_message.contains("slow disk"));
  EXPECT_EQ(by_message["slow disk"]["level"], "warn");
  EXPECT_EQ(by_message["slow disk"]["trace_id"], "t-9");
  EXPECT_EQ(by_message["slow disk"]["attrs"]["disk"], "sda");
}

TEST_F(DeliveryTest, ChildOutputIsShippedWithItsStreamAndDroppedOldestFirstWhenFull) {
  AgentConfig c = Config();
  c.logs.clear();
  AgentOptions o = Options();
  o.stream_buffer_bytes = 1000;
  fake_.SetIngestStatus(503);
  LogShipper shipper(c, o, metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  shipper.AddOutputLine(false, R"({"msg":"hello","level":"warn"})");
  shipper.AddOutputLine(true, "plain stderr line");
  shipper.AddOutputLine(true, std::string(100, 'c'), true);
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return metrics_.Read().spool_records >= 1; }));
  fake_.SetIngestStatus(0);
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 3; }));
  const auto events = fake_.events();
  EXPECT_EQ(events[0]["message"], "hello");
  EXPECT_EQ(events[0]["level"], "warn");
  EXPECT_EQ(events[0]["attrs"]["stream"], "stdout");
  EXPECT_EQ(events[1]["attrs"]["stream"], "stderr");
  EXPECT_EQ(events[2]["attrs"]["truncated"], true);

  // More output than the buffer holds at once: the oldest lines go, counted.
  shipper.Stop();
  LogShipper full(c, o, metrics_);
  for (int i = 0; i < 50; ++i) full.AddOutputLine(false, std::string(99, 'x'));
  EXPECT_GE(metrics_.Read().lines_dropped, 40u);
}

}  // namespace
}  // namespace hive::agent
