#include "hive/collector/segment_log_store.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fault_env.h"
#include "temp_dir.h"

namespace hive::collector {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBase = 1'700'000'000'000'000'000;  // ns
constexpr int64_t kSecond = 1'000'000'000;

LogEvent Event(int64_t ts_s, std::string message, std::string service = "orders",
               LogLevel level = LogLevel::kInfo, std::string trace_id = "") {
  LogEvent e;
  e.ts_ns = kBase + ts_s * kSecond;
  e.message = std::move(message);
  e.service = std::move(service);
  e.level = level;
  e.trace_id = std::move(trace_id);
  return e;
}

LogBatch Batch(std::vector<LogEvent> events, std::string batch_id = "", uint64_t rejected = 0) {
  LogBatch b;
  b.events = std::move(events);
  b.batch_id = std::move(batch_id);
  b.rejected = rejected;
  return b;
}

std::vector<std::string> Messages(const std::vector<LogEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.message);
  return out;
}

class SegmentLogStoreTest : public ::testing::Test {
 protected:
  void TearDown() override { store_.reset(); }

  void Open(uint64_t segment_bytes = 64u << 20) {
    store_.reset();
    SegmentLogStoreOptions o;
    o.dir = dir_ / "collector";
    o.segment_bytes = segment_bytes;
    o.metrics = registry_;
    o.env = &env_;
    auto s = OpenSegmentLogStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  AppendResult Append(LogBatch b) {
    auto r = store_->Append(std::move(b));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : AppendResult{};
  }

  std::vector<LogEvent> All(bool newest_first = true) {
    LogFilter f;
    f.limit = 100000;
    f.newest_first = newest_first;
    auto r = store_->Query(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<LogEvent>{};
  }

  std::vector<fs::path> Segments() {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir_ / "collector")) {
      if (entry.path().extension() == ".log") out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  double Gauge(const std::string& name) {
    for (const auto& family : registry_->Collect()) {
      if (family.name == name && !family.metric.empty()) return family.metric[0].gauge.value;
    }
    return -1;
  }

  double Counter(const std::string& name) {
    for (const auto& family : registry_->Collect()) {
      if (family.name == name && !family.metric.empty()) return family.metric[0].counter.value;
    }
    return -1;
  }

  // Waits up to 10 s for `done`.
  template <class Done>
  bool Eventually(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  hive::testing::TempDir dir_;
  hive::testing::FaultEnv env_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<LogStore> store_;
};

TEST_F(SegmentLogStoreTest, AppendedEventsSurviveReopen) {
  Open();
  LogEvent rich = Event(1, "first", "orders", LogLevel::kWarn, "abc123");
  rich.instance = "orders-1";
  rich.span_id = "s1";
  rich.parent_span_id = "p1";
  rich.attrs = {{"code", int64_t{503}}, {"ok", false}, {"ratio", 0.5}, {"path", std::string("/x")}};
  AppendResult r = Append(Batch({rich, Event(2, "second")}, "", 3));
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_EQ(r.rejected, 3u);
  EXPECT_FALSE(r.duplicate);
  Append(Batch({Event(3, "third")}));
  store_->Close();
  Open();
  std::vector<LogEvent> all = All();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(Messages(all), (std::vector<std::string>{"third", "second", "first"}));
  EXPECT_EQ(all[2], rich);
  EXPECT_EQ(Gauge("hive_collector_segments"), 1);
  EXPECT_GT(Gauge("hive_collector_store_bytes"), 8);
}

TEST_F(SegmentLogStoreTest, GarbageAfterTheLastRecordIsTruncated) {
  Open();
  for (int i = 0; i < 3; ++i) Append(Batch({Event(i, "m" + std::to_string(i))}));
  store_.reset();
  fs::path seg = Segments().back();
  const auto good_size = fs::file_size(seg);
  {
    // Claims a 19-byte payload, whose CRC cannot match.
    const char garbage[] =
        "\x13\x00\x00\x00"
        "garbage that is not a record";
    std::ofstream out(seg, std::ios::binary | std::ios::app);
    out.write(garbage, sizeof garbage - 1);
  }
  Open();
  EXPECT_EQ(Messages(All()), (std::vector<std::string>{"m2", "m1", "m0"}));
  EXPECT_EQ(fs::file_size(seg), good_size);
  Append(Batch({Event(9, "after repair")}));
  Open();
  EXPECT_EQ(Messages(All()), (std::vector<std::string>{"after repair", "m2", "m1", "m0"}));
}

TEST_F(SegmentLogStoreTest, RecordCutMidwayIsDropped) {
  Open();
  for (int i = 0; i < 3; ++i)
    Append(Batch({Event(i, "m" + std::to_string(i)), Event(i, "n" + std::to_string(i))}));
  store_.reset();
  fs::path seg = Segments().back();
  fs::resize_file(seg, fs::file_size(seg) - 7);
  Open();
  EXPECT_EQ(Messages(All()), (std::vector<std::string>{"n1", "m1", "n0", "m0"}));
  Append(Batch({Event(5, "new")}));
  Open();
  EXPECT_EQ(All().size(), 5u);
}

TEST_F(SegmentLogStoreTest, FlippedByteInTheTailFailsItsCrc) {
  Open();
  Append(Batch({Event(0, "kept")}));
  Append(Batch({Event(1, "corrupted")}));
  store_.reset();
  fs::path seg = Segments().back();
  {
    std::fstream f(seg, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(fs::file_size(seg) - 3));
    f.put('\xff');
  }
  Open();
  EXPECT_EQ(Messages(All()), (std::vector<std::string>{"kept"}));
}

TEST_F(SegmentLogStoreTest, BatchIdsDeduplicateAcrossReopen) {
  Open();
  AppendResult first = Append(Batch({Event(0, "a"), Event(1, "b")}, "batch-1", 4));
  EXPECT_FALSE(first.duplicate);
  AppendResult again = Append(Batch({Event(0, "a"), Event(1, "b")}, "batch-1", 0));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.accepted, 2u);
  EXPECT_EQ(again.rejected, 4u);
  Open();
  AppendResult after_reopen = Append(Batch({Event(0, "a")}, "batch-1"));
  EXPECT_TRUE(after_reopen.duplicate);
  EXPECT_EQ(after_reopen.accepted, 2u);
  EXPECT_EQ(after_reopen.rejected, 4u);
  EXPECT_FALSE(Append(Batch({Event(2, "c")}, "batch-2")).duplicate);
  EXPECT_EQ(All().size(), 3u);
}

TEST_F(SegmentLogStoreTest, ConcurrentAppendsAreAllDurableAndDuplicatesCountOnce) {
  Open();
  constexpr int kThreads = 6, kBatches = 40, kEvents = 10;
  std::atomic<int> non_duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<LogEvent> events;
        for (int e = 0; e < kEvents; ++e) {
          events.push_back(Event(b, "t" + std::to_string(t), "orders", LogLevel::kInfo,
                                 "trace-" + std::to_string(t)));
        }
        auto r = store_->Append(
            Batch(std::move(events), "t" + std::to_string(t) + "-b" + std::to_string(b)));
        ASSERT_TRUE(r.ok());
        // Every thread also sends the same shared batch id once per round.
        auto shared = store_->Append(Batch({Event(b, "shared")}, "shared-" + std::to_string(b)));
        ASSERT_TRUE(shared.ok());
        if (!shared->duplicate) ++non_duplicates;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(non_duplicates.load(), kBatches);
  Open();
  for (int t = 0; t < kThreads; ++t) {
    LogFilter f;
    f.trace_id = "trace-" + std::to_string(t);
    f.limit = 100000;
    auto r = store_->Query(f);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->size(), static_cast<size_t>(kBatches * kEvents));
  }
  EXPECT_EQ(All().size(), static_cast<size_t>(kThreads * kBatches * kEvents + kBatches));
}

TEST_F(SegmentLogStoreTest, SegmentsRollIntoSealedBlocksAndAreAllReadBack) {
  Open(4096);
  for (int i = 0; i < 60; ++i) {
    Append(Batch({Event(i, "message number " + std::to_string(i) + std::string(100, '.'), "orders",
                        LogLevel::kInfo, "t")}));
  }
  // Each cut block is sealed in the background and its WAL segment deleted.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Gauge("hive_collector_blocks") < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(store_->Stats().blocks, 2u);
  EXPECT_GE(Gauge("hive_collector_blocks"), 2);
  EXPECT_TRUE(fs::exists(dir_ / "collector/catalog.db"));
  EXPECT_EQ(store_->Stats().events, 60u);
  Open(4096);
  std::vector<LogEvent> all = All(/*newest_first=*/false);
  ASSERT_EQ(all.size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(all[i].ts_ns, kBase + i * kSecond);
  LogFilter f;
  f.trace_id = "t";
  f.limit = 1000;
  EXPECT_EQ(store_->Query(f)->size(), 60u);
}

TEST_F(SegmentLogStoreTest, TraceQueryIsInTimeOrderThenIngestOrder) {
  Open();
  Append(Batch({Event(5, "late", "payments", LogLevel::kInfo, "t1"),
                Event(1, "other", "orders", LogLevel::kInfo, "t2")}));
  Append(Batch({Event(2, "early", "gateway", LogLevel::kInfo, "t1"),
                Event(5, "late-tie", "orders", LogLevel::kError, "t1")}));
  Append(Batch({Event(3, "middle", "orders", LogLevel::kInfo, "t1")}));
  LogFilter f;
  f.trace_id = "t1";
  f.limit = 100;
  f.newest_first = false;
  EXPECT_EQ(Messages(*store_->Query(f)),
            (std::vector<std::string>{"early", "middle", "late", "late-tie"}));
  f.newest_first = true;
  f.limit = 2;
  EXPECT_EQ(Messages(*store_->Query(f)), (std::vector<std::string>{"late-tie", "late"}));
  f.trace_id = "missing";
  EXPECT_TRUE(store_->Query(f)->empty());
}

TEST_F(SegmentLogStoreTest, FiltersCombine) {
  Open();
  Append(Batch({Event(1, "Connection Timeout to db", "orders", LogLevel::kError),
                Event(2, "request ok", "orders", LogLevel::kInfo),
                Event(3, "retrying", "payments", LogLevel::kWarn)}));
  Append(Batch({Event(4, "fatal timeout", "payments", LogLevel::kFatal),
                Event(5, "debug details", "orders", LogLevel::kDebug)}));
  LogEvent other_instance = Event(6, "from the second instance", "orders");
  other_instance.instance = "orders-2";
  Append(Batch({other_instance}));
  auto query = [&](auto set) {
    LogFilter f;
    set(f);
    auto r = store_->Query(f);
    EXPECT_TRUE(r.ok());
    return Messages(*r);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(query([](LogFilter& f) { f.service = "payments"; }), (V{"fatal timeout", "retrying"}));
  EXPECT_EQ(query([](LogFilter& f) { f.instance = "orders-2"; }), (V{"from the second instance"}));
  EXPECT_EQ(query([](LogFilter& f) { f.min_level = LogLevel::kWarn; }),
            (V{"fatal timeout", "retrying", "Connection Timeout to db"}));
  EXPECT_EQ(query([](LogFilter& f) {
              f.min_level = LogLevel::kError;
              f.service = "orders";
            }),
            (V{"Connection Timeout to db"}));
  EXPECT_EQ(query([](LogFilter& f) { f.message_contains = "TIMEOUT"; }),
            (V{"fatal timeout", "Connection Timeout to db"}));
  EXPECT_EQ(query([](LogFilter& f) {
              f.since_ns = kBase + 2 * kSecond;
              f.until_ns = kBase + 5 * kSecond;
            }),
            (V{"fatal timeout", "retrying", "request ok"}));
  EXPECT_EQ(query([](LogFilter& f) { f.limit = 2; }),
            (V{"from the second instance", "debug details"}));
  EXPECT_EQ(query([](LogFilter& f) {
              f.limit = 2;
              f.newest_first = false;
            }),
            (V{"Connection Timeout to db", "request ok"}));
  EXPECT_TRUE(query([](LogFilter& f) { f.service = "nobody"; }).empty());
}

TEST_F(SegmentLogStoreTest, NewestFirstIsByTimestampNotArrival) {
  Open();
  // A late batch carrying old events must not push newer ones out.
  Append(Batch({Event(10, "new-a"), Event(11, "new-b")}));
  Append(Batch({Event(1, "old-a"), Event(2, "old-b")}));
  LogFilter f;
  f.limit = 3;
  EXPECT_EQ(Messages(*store_->Query(f)), (std::vector<std::string>{"new-b", "new-a", "old-b"}));
}

TEST_F(SegmentLogStoreTest, UnwritableDirectoryIsAClearError) {
  std::string file = dir_ / "a-file";
  std::ofstream(file) << "x";
  SegmentLogStoreOptions o;
  o.dir = file + "/collector";
  auto s = OpenSegmentLogStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find(o.dir), std::string::npos);
}

TEST_F(SegmentLogStoreTest, DirectoryInUseIsRefused) {
  Open();
  SegmentLogStoreOptions o;
  o.dir = dir_ / "collector";
  auto second = OpenSegmentLogStore(o);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST_F(SegmentLogStoreTest, ForeignFileIsNotTakenForASegment) {
  fs::create_directories(dir_ / "collector");
  std::ofstream(dir_ / "collector/segment-0000000000000001.log") << "this is not a segment";
  SegmentLogStoreOptions o;
  o.dir = dir_ / "collector";
  auto s = OpenSegmentLogStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not a hive log segment"), std::string::npos);
}

TEST_F(SegmentLogStoreTest, AppendAfterCloseIsUnavailableAndEmptyBatchInvalid) {
  Open();
  EXPECT_TRUE(store_->Append(Batch({})).status().IsInvalidArgument());
  Append(Batch({Event(0, "before")}));
  store_->Close();
  store_->Close();
  EXPECT_TRUE(store_->Append(Batch({Event(1, "after")})).status().IsUnavailable());
  EXPECT_EQ(Messages(All()), (std::vector<std::string>{"before"}));
}

// fdatasync failing on the WAL: the batch is not acknowledged, the store
// refuses every later write (the kernel may have dropped the dirty pages)
// and says so, queries go on; reopening replays the WAL and writes again.
TEST_F(SegmentLogStoreTest, FailedFdatasyncStopsWritesUntilReopen) {
  Open();
  Append(Batch({Event(0, "kept")}));
  EXPECT_TRUE(store_->Health().ok());
  EXPECT_EQ(Gauge("hive_collector_store_failed"), 0);

  env_.Fail(hive::testing::FaultEnv::Op::kFdatasync, "segment-", EIO);
  Result<AppendResult> failed = store_->Append(Batch({Event(1, "unacknowledged")}));
  ASSERT_TRUE(failed.status().IsUnavailable()) << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("fdatasync"), std::string::npos);
  env_.Heal();
  EXPECT_TRUE(store_->Append(Batch({Event(2, "refused")})).status().IsUnavailable());
  EXPECT_TRUE(store_->Health().IsUnavailable());
  EXPECT_NE(store_->Health().message().find("fdatasync"), std::string::npos);
  EXPECT_EQ(Gauge("hive_collector_store_failed"), 1);
  EXPECT_EQ(Messages(All()), (std::vector<std::string>{"kept"}));

  Open();
  EXPECT_TRUE(store_->Health().ok());
  Append(Batch({Event(3, "after restart")}));
  const std::vector<std::string> after = Messages(All(/*newest_first=*/false));
  ASSERT_GE(after.size(), 2u);
  EXPECT_EQ(after.front(), "kept");
  EXPECT_EQ(after.back(), "after restart");
}

// A failed WAL write is undone and refused; the store goes on.
TEST_F(SegmentLogStoreTest, FailedWriteIsRefusedAndTheStoreGoesOn) {
  Open();
  Append(Batch({Event(0, "first")}));
  env_.Fail(hive::testing::FaultEnv::Op::kWrite, "segment-", ENOSPC);
  Result<AppendResult> failed = store_->Append(Batch({Event(1, "no space")}));
  ASSERT_TRUE(failed.status().IsUnavailable()) << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("No space"), std::string::npos);
  EXPECT_TRUE(store_->Health().ok());
  env_.Heal();
  Append(Batch({Event(2, "third")}));
  Open();
  EXPECT_EQ(Messages(All(/*newest_first=*/false)), (std::vector<std::string>{"first", "third"}));
}

// A block that cannot be sealed (its part's fdatasync fails) stays in the
// WAL and readable, is counted and retried; nothing is lost.
TEST_F(SegmentLogStoreTest, FailedSealIsRetriedAndCounted) {
  env_.Fail(hive::testing::FaultEnv::Op::kFdatasync, "blocks-", EIO);
  Open(4096);
  for (int i = 0; i < 40; ++i)
    Append(Batch({Event(i, "event " + std::to_string(i) + std::string(200, 'x'))}));
  ASSERT_TRUE(Eventually([&] { return Counter("hive_collector_seal_errors_total") >= 1; }));
  EXPECT_EQ(Gauge("hive_collector_blocks"), 0);
  EXPECT_TRUE(store_->Health().ok());
  EXPECT_EQ(All().size(), 40u);
  env_.Heal();
  ASSERT_TRUE(Eventually([&] { return Gauge("hive_collector_blocks") >= 1; }));
  EXPECT_EQ(All().size(), 40u);
  Open(4096);
  EXPECT_EQ(All().size(), 40u);
}

}  // namespace
}  // namespace hive::collector
