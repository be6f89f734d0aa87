#include "hive/agent/log_shipper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fake_control_plane.h"
#include "hive/agent/tailer.h"
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

class LogShipperTest : public ::testing::Test {
 protected:
  void SetUp() override { log::SetLevel(log::Level::kError); }

  AgentConfig Config() { return ShipperConfig(fake_.url(), dir_.path()); }

  static AgentOptions Options() {
    AgentOptions o = FastAgentOptions();
    o.drain_timeout = std::chrono::milliseconds(300);
    o.rotate_wait = std::chrono::milliseconds(0);
    return o;
  }

  // The offset saved for `path`, or -1.
  int64_t SavedOffset(const std::string& path) {
    auto p = PositionStore(dir_ / "spool/positions.json").Load();
    if (!p.ok()) return -1;
    for (const auto& f : *p) {
      if (f.path == path) return static_cast<int64_t>(f.offset);
    }
    return -1;
  }

  std::vector<std::string> Messages() {
    std::vector<std::string> out;
    for (const auto& e : fake_.events()) out.push_back(e.value("message", ""));
    return out;
  }

  static std::string Line(const std::string& msg) {
    return json{{"msg", msg}, {"trace_id", "t-" + msg}}.dump() + "\n";
  }

  TempDir dir_;
  FakeControlPlane fake_;
  AgentMetrics metrics_;
};

TEST_F(LogShipperTest, SavesPositionsAfterAckAndResumesWithoutDuplicates) {
  const std::string log = dir_ / "app.log";
  AppendFile(log, Line("l1") + Line("l2") + Line("l3"));
  {
    LogShipper shipper(Config(), Options(), metrics_);
    ASSERT_TRUE(shipper.Start().ok());
    ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 3; }));
    const auto size = static_cast<int64_t>(std::filesystem::file_size(log));
    ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return SavedOffset(log) == size; }));
    shipper.Stop();
  }
  EXPECT_EQ(fake_.events()[0]["trace_id"], "t-l1");
  EXPECT_EQ(fake_.events()[0]["service"], "orders");
  EXPECT_EQ(fake_.events()[0]["instance"], "orders-1");

  AppendFile(log, Line("l4") + Line("l5"));
  LogShipper again(Config(), Options(), metrics_);
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() >= 5; }));
  again.Stop();
  EXPECT_EQ(Messages(), (std::vector<std::string>{"l1", "l2", "l3", "l4", "l5"}));
  EXPECT_EQ(SavedOffset(log), static_cast<int64_t>(std::filesystem::file_size(log)));
  EXPECT_EQ(metrics_.Read().lines_read, 5u);
  EXPECT_EQ(metrics_.Read().lines_shipped, 5u);
}

TEST_F(LogShipperTest, UnacknowledgedLinesAreSentAgainAfterRestart) {
  const std::string log = dir_ / "app.log";
  AppendFile(log, Line("a") + Line("b"));
  fake_.SetIngestStatus(503);
  {
    LogShipper shipper(Config(), Options(), metrics_);
    ASSERT_TRUE(shipper.Start().ok());
    ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.ingest_requests() >= 3; }));
    shipper.Stop();
  }
  // Every retry carried the same batch id.
  const auto ids = fake_.batch_ids();
  ASSERT_GE(ids.size(), 3u);
  for (const auto& id : ids) EXPECT_EQ(id, ids.front());
  EXPECT_FALSE(ids.front().empty());
  EXPECT_GE(metrics_.Read().ship_retries, 2u);
  EXPECT_LE(SavedOffset(log), 0);
  EXPECT_TRUE(fake_.events().empty());

  fake_.SetIngestStatus(0);
  LogShipper again(Config(), Options(), metrics_);
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() >= 2; }));
  again.Stop();
  EXPECT_EQ(Messages(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(LogShipperTest, ShutdownShipsWhatWasAlreadyRead) {
  const std::string log = dir_ / "app.log";
  AppendFile(log, Line("x"));
  AgentOptions o = Options();
  o.batch_linger = std::chrono::hours(1);  // only Stop() can send this batch
  LogShipper shipper(Config(), o, metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return metrics_.Read().lines_read == 1; }));
  EXPECT_EQ(fake_.ingest_requests(), 0);
  shipper.Stop();
  EXPECT_EQ(Messages(), (std::vector<std::string>{"x"}));
  EXPECT_EQ(SavedOffset(log), static_cast<int64_t>(std::filesystem::file_size(log)));
}

TEST_F(LogShipperTest, BatchRefusedAsAWholeGoesToDeadLetterFile) {
  const std::string log = dir_ / "app.log";
  AppendFile(log, Line("poison"));
  fake_.SetIngestStatus(400);
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  ASSERT_TRUE(
      FakeControlPlane::WaitFor([&] { return metrics_.Read().batches_dead_lettered == 1; }));
  ASSERT_TRUE(FakeControlPlane::WaitFor(
      [&] { return SavedOffset(log) == static_cast<int64_t>(std::filesystem::file_size(log)); }));
  fake_.SetIngestStatus(0);
  AppendFile(log, Line("fine"));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 1; }));
  shipper.Stop();
  EXPECT_EQ(Messages(), (std::vector<std::string>{"fine"}));
  const auto dead = json::parse(ReadFile(dir_ / "spool/dead-letter.ndjson"));
  EXPECT_EQ(dead["message"], "poison");
  EXPECT_EQ(dead["trace_id"], "t-poison");
  EXPECT_EQ(fake_.ingest_requests(), 2);
}

TEST_F(LogShipperTest, CountsLinesRejectedOneByOne) {
  AppendFile(dir_ / "app.log", Line("good") + Line("bad") + Line("good2"));
  fake_.RejectMessage("bad");
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return metrics_.Read().lines_rejected == 1; }));
  shipper.Stop();
  EXPECT_EQ(Messages(), (std::vector<std::string>{"good", "good2"}));
  EXPECT_EQ(metrics_.Read().lines_shipped, 2u);
  EXPECT_EQ(fake_.ingest_requests(), 1);
}

TEST_F(LogShipperTest, SplitsLargeVolumesIntoBatchesInOrder) {
  std::string lines;
  for (int i = 0; i < 2500; ++i) lines += Line(std::to_string(i));
  AppendFile(dir_ / "app.log", lines);
  AgentOptions o = Options();
  o.max_batch_lines = 1000;
  LogShipper shipper(Config(), o, metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 2500; }));
  shipper.Stop();
  const auto msgs = Messages();
  for (int i = 0; i < 2500; ++i) ASSERT_EQ(msgs[i], std::to_string(i));
  EXPECT_GE(fake_.ingest_requests(), 3);
  const auto ids = fake_.batch_ids();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

TEST_F(LogShipperTest, FollowsRotationWhileShipping) {
  const std::string log = dir_ / "app.log";
  AppendFile(log, Line("before"));
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 1; }));
  AppendFile(log, Line("last-of-old"));
  ASSERT_EQ(::rename(log.c_str(), (dir_ / "app.log.1").c_str()), 0);
  AppendFile(log, Line("first-of-new"));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 3; }));
  shipper.Stop();
  EXPECT_EQ(Messages(), (std::vector<std::string>{"before", "last-of-old", "first-of-new"}));
}

// The spool holds the service's log lines: its directories are created
// owner-only, and so is every file in them.
TEST_F(LogShipperTest, KeepsItsStateOwnerOnly) {
  auto mode_of = [](const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  };
  AppendFile(dir_ / "app.log", Line("kept"));
  fake_.SetIngestStatus(503);
  LogShipper shipper(Config(), Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.ingest_requests() >= 1; }));
  EXPECT_EQ(mode_of(dir_ / "spool"), 0700u);
  EXPECT_EQ(mode_of(dir_ / "spool/spool"), 0700u);
  size_t records = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "spool/spool")) {
    EXPECT_EQ(mode_of(e.path()), 0600u) << e.path();
    ++records;
  }
  EXPECT_EQ(records, 1u);
  fake_.SetIngestStatus(400);
  ASSERT_TRUE(
      FakeControlPlane::WaitFor([&] { return metrics_.Read().batches_dead_lettered == 1; }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return SavedOffset(dir_ / "app.log") > 0; }));
  shipper.Stop();
  EXPECT_EQ(mode_of(dir_ / "spool/dead-letter.ndjson"), 0600u);
  EXPECT_EQ(mode_of(dir_ / "spool/positions.json"), 0600u);
}

// What once crashed hive-agent (and again after each restart, reading the
// same line): a 50 KB plain line under docs/agent.md's regex pattern. Lines
// up to a max_line_bytes of 1 MiB of every format, a line past it, JSON
// nested 100,000 deep and bytes that are not UTF-8 are all shipped; the ones
// no parser could read are flagged and counted.
TEST_F(LogShipperTest, ShipsEveryFormatsLongestAndWorstLines) {
  constexpr size_t kMax = 1u << 20;
  AgentConfig c = Config();
  c.logs.clear();
  for (const char* name : {"json", "logfmt", "regex", "multiline"}) {
    LogSourceConfig s;
    s.path = dir_ / (std::string(name) + ".log");
    s.max_line_bytes = kMax;
    c.logs.push_back(s);
  }
  c.logs[1].format.format = LogFormat::kLogfmt;
  c.logs[2].format.format = LogFormat::kRegex;
  c.logs[2].format.pattern = R"((?<ts>\S+) (?<level>\w+) (?<message>.*)$)";
  // (?s): '.' takes the '\n' of a joined event too.
  c.logs[3].format.format = LogFormat::kRegex;
  c.logs[3].format.pattern = R"((?s)(?<ts>\S+) (?<level>\w+) (?<message>.*)$)";
  c.logs[3].format.multiline_start = R"(^\d{4}-\d{2}-\d{2})";
  auto words = [](size_t bytes) {
    std::string w;
    while (w.size() < bytes) w += "handled request 42 for customer 7 ";
    w.resize(bytes);
    return w;
  };
  const std::string head = "2026-11-22T10:00:00Z WARN ";
  AppendFile(dir_ / "json.log", R"({"level":"warn","msg":")" + words(kMax - 40) + "\"}\n" +
                                    R"({"msg":)" + std::string(100'000, '[') +
                                    std::string(100'000, ']') + "}\n");
  AppendFile(dir_ / "logfmt.log", "level=warn msg=\"" + words(kMax - 40) + "\"\n");
  AppendFile(dir_ / "regex.log", head + words(50'000) + "\n" + head + words(kMax - head.size()) +
                                     "\n" + head + words(kMax) + "\n" + head + "caf\xE9\n");
  AppendFile(dir_ / "multiline.log",
             head + words(kMax / 2) + "\n  at " + words(kMax / 2 - 200) + "\n" + head + "end\n");
  LogShipper shipper(c, Options(), metrics_);
  ASSERT_TRUE(shipper.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 9; },
                                        std::chrono::seconds(60)))
      << fake_.events().size();
  shipper.Stop();
  std::vector<std::pair<size_t, std::string>> got;  // message size, parse_error
  for (const auto& e : fake_.events()) {
    const json attrs = e.value("attrs", json::object());
    got.emplace_back(e.value("message", "").size(),
                     attrs.value("parse_error", "") + (attrs.contains("truncated") ? "+cut" : ""));
  }
  std::sort(got.begin(), got.end());
  const std::vector<std::pair<size_t, std::string>> want = {
      {3, ""},                             // the event after the joined one
      {head.size() + 6, "invalid UTF-8"},  // the whole line, \xE9 as U+FFFD
      {50'000, ""},
      {8 + 200'000, "JSON nested deeper than 64 levels"},
      {kMax / 2 + 6 + kMax / 2 - 200, ""},  // the joined event after its head
      {kMax - 40, ""},                      // json
      {kMax - 40, ""},                      // logfmt
      {kMax - head.size(), ""},             // regex, exactly max_line_bytes
      {kMax - head.size(), "+cut"},         // regex, cut to max_line_bytes
  };
  EXPECT_EQ(got.size(), 9u);
  for (const auto& w : want) {
    EXPECT_NE(std::find(got.begin(), got.end(), w), got.end()) << w.first << " " << w.second;
  }
  EXPECT_EQ(metrics_.Read().lines_unparsed, 2u);
  EXPECT_EQ(metrics_.Read().lines_truncated, 1u);
}

}  // namespace
}  // namespace hive::agent
