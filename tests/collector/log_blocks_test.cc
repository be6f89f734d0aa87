// The log store's block layer: sealing into compressed blocks, bloom-filtered
// lookups, cursors, regex, live tails, retention, and crash recovery.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "hive/collector/segment_log_store.h"
#include "hive/core/clock.h"
#include "temp_dir.h"

namespace hive::collector {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int64_t kSecond = 1'000'000'000;

LogEvent Event(int64_t ts_ns, std::string message, std::string service = "orders",
               std::string trace_id = "", std::string instance = "") {
  LogEvent e;
  e.ts_ns = ts_ns;
  e.message = std::move(message);
  e.service = std::move(service);
  e.trace_id = std::move(trace_id);
  e.instance = std::move(instance);
  return e;
}

LogBatch Batch(std::vector<LogEvent> events, std::string batch_id = "") {
  LogBatch b;
  b.events = std::move(events);
  b.batch_id = std::move(batch_id);
  return b;
}

std::vector<std::string> Messages(const std::vector<LogEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.message);
  return out;
}

// Hard-to-compress text, so a few events fill a block.
std::string Noise(std::mt19937_64& rng, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n, ' ');
  for (char& c : s) c = kHex[rng() % 16];
  return s;
}

// Polls `done` every few ms until it holds or 10 s pass.
template <typename F>
bool WaitFor(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

class LogBlocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.dir = dir_ / "collector";
    options_.segment_bytes = 4096;
    options_.part_bytes = 4096;
    options_.clock = &clock_;
  }
  void TearDown() override { store_.reset(); }

  void Open() {
    store_.reset();
    auto s = OpenSegmentLogStore(options_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  void Append(LogBatch b) {
    auto r = store_->Append(std::move(b));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  std::vector<LogEvent> Find(LogFilter f) {
    auto r = store_->Query(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<LogEvent>{};
  }

  std::vector<fs::path> Files(std::string_view ext) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(options_.dir)) {
      if (entry.path().extension() == ext) out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Every cut block is sealed: only the active WAL segment is left.
  bool AllSealed() {
    return WaitFor([&] { return Files(".log").size() == 1; });
  }

  uint64_t PartBytes() {
    uint64_t n = 0;
    for (const auto& p : Files(".dat")) n += fs::file_size(p);
    return n;
  }

  hive::testing::TempDir dir_;
  FakeClock clock_;
  SegmentLogStoreOptions options_;
  std::unique_ptr<LogStore> store_;
};

TEST_F(LogBlocksTest, TraceLookupThroughBloomFiltersMatchesBruteForce) {
  Open();
  std::mt19937_64 rng(7);
  const int64_t base = ToUnixNanos(clock_.Now());
  std::map<std::string, std::vector<std::string>> by_trace;  // in (ts, ingest) order
  std::map<std::string, size_t> by_instance;
  for (int b = 0; b < 150; ++b) {
    std::vector<LogEvent> events;
    for (int e = 0; e < 20; ++e) {
      const int n = b * 20 + e;
      std::string trace = "trace-" + std::to_string(rng() % 400);
      std::string instance = "orders-" + std::to_string(n % 7);
      std::string msg = "event " + std::to_string(n) + " " + Noise(rng, 40);
      events.push_back(Event(base + n * kSecond, msg, "orders", trace, instance));
      by_trace[trace].push_back(msg);
      ++by_instance[instance];
    }
    Append(Batch(std::move(events)));
  }
  ASSERT_TRUE(AllSealed());
  ASSERT_GT(store_->Stats().blocks, 10u);
  auto check = [&] {
    for (const auto& [trace, messages] : by_trace) {
      LogFilter f;
      f.trace_id = trace;
      f.limit = 10'000;
      f.newest_first = false;
      EXPECT_EQ(Messages(Find(f)), messages) << trace;
    }
    for (const auto& [instance, count] : by_instance) {
      LogFilter f;
      f.instance = instance;
      f.limit = 10'000;
      EXPECT_EQ(Find(f).size(), count) << instance;
    }
    LogFilter missing;
    missing.trace_id = "no-such-trace";
    EXPECT_TRUE(Find(missing).empty());
    missing.trace_id.clear();
    missing.service = "payments";
    EXPECT_TRUE(Find(missing).empty());
  };
  check();
  Open();  // the filters come back from the catalog
  check();
  EXPECT_EQ(store_->Stats().events, 3000u);
  EXPECT_LT(store_->Stats().memory_bytes, 1u << 20);
}

TEST_F(LogBlocksTest, CursorPagesAreStableWhileNewerEventsArrive) {
  Open();
  const int64_t base = ToUnixNanos(clock_.Now());
  std::vector<std::string> expected;  // newest first
  for (int b = 0; b < 40; ++b) {
    std::vector<LogEvent> events;
    // Three events per second: ties in ts are ordered by ingest.
    for (int e = 0; e < 5; ++e) {
      int n = b * 5 + e;
      events.push_back(Event(base + (n / 3) * kSecond, "m" + std::to_string(n)));
    }
    Append(Batch(std::move(events)));
  }
  for (int n = 199; n >= 0; --n) expected.push_back("m" + std::to_string(n));

  LogFilter f;
  f.limit = 7;
  std::vector<std::string> got;
  int newer = 0;
  while (true) {
    auto page = store_->Search(f);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& e : page->events) got.push_back(e.message);
    if (page->next.empty()) break;
    f.cursor = page->next;
    // Newer events between pages must not shift the pages.
    Append(Batch({Event(base + 1000 * kSecond + newer, "newer" + std::to_string(newer))}));
    ++newer;
  }
  EXPECT_EQ(got, expected);

  LogFilter oldest;
  oldest.limit = 9;
  oldest.newest_first = false;
  oldest.until_ns = base + 1000 * kSecond;
  got.clear();
  while (true) {
    auto page = store_->Search(oldest);
    ASSERT_TRUE(page.ok());
    for (const auto& e : page->events) got.push_back(e.message);
    if (page->next.empty()) break;
    oldest.cursor = page->next;
  }
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(got, expected);

  LogFilter bad;
  bad.cursor = "not-a-cursor";
  EXPECT_TRUE(store_->Search(bad).status().IsInvalidArgument());
  bad.cursor = oldest.cursor;  // an oldest-first cursor on a newest-first query
  bad.newest_first = true;
  EXPECT_TRUE(store_->Search(bad).status().IsInvalidArgument());
}

TEST_F(LogBlocksTest, RegexSearchIsBoundedAndValidated) {
  Open();
  const int64_t base = ToUnixNanos(clock_.Now());
  Append(
      Batch({Event(base + 1, "GET /api/v1/orders 200"), Event(base + 2, "GET /api/v2/orders 500"),
             Event(base + 3, "POST /api/v1/orders 201"), Event(base + 4, "get /health 200")}));
  auto find = [&](std::string re, std::string q = "") {
    LogFilter f;
    f.message_regex = std::move(re);
    f.message_contains = std::move(q);
    return Messages(Find(f));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(find("^GET /api/v[0-9]+/"), (V{"GET /api/v2/orders 500", "GET /api/v1/orders 200"}));
  EXPECT_EQ(find(" 5\\d\\d$"), (V{"GET /api/v2/orders 500"}));
  EXPECT_EQ(find("(?i)^get "),
            (V{"get /health 200", "GET /api/v2/orders 500", "GET /api/v1/orders 200"}));
  EXPECT_EQ(find("orders", "post"), (V{"POST /api/v1/orders 201"}));
  LogFilter bad;
  bad.message_regex = "(unclosed";
  auto r = store_->Search(bad);
  ASSERT_TRUE(r.status().IsInvalidArgument());
  EXPECT_NE(r.status().message().find("regex"), std::string::npos);
  bad.message_regex = std::string(kMaxRegexBytes + 1, 'a');
  EXPECT_TRUE(store_->Search(bad).status().IsInvalidArgument());
}

TEST_F(LogBlocksTest, TailReturnsOnlyNewMatchingEventsInIngestOrder) {
  Open();
  const int64_t base = ToUnixNanos(clock_.Now());
  Append(Batch({Event(base, "before")}));
  auto start = store_->LastSequence();
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(*start, 1u);
  // Every append that makes events visible wakes the subscribers.
  std::mutex mu;
  std::condition_variable appended;
  std::atomic<uint64_t> wakes{0};
  Subscription sub = store_->SubscribeAppends([&] {
    std::lock_guard lock(mu);
    ++wakes;
    appended.notify_all();
  });

  std::thread writer([&] {
    // Older timestamps than "before": a tail follows ingest, not ts.
    for (int i = 0; i < 300; ++i) {
      Append(Batch({Event(base - i, "t" + std::to_string(i), i % 2 ? "payments" : "orders")}));
    }
  });
  LogFilter f;
  f.service = "orders";
  f.after_seq = *start;
  f.limit = 17;
  std::vector<std::string> got;
  for (int polls = 0; got.size() < 150 && polls < 1000; ++polls) {
    {
      std::unique_lock lock(mu);
      appended.wait_for(lock, milliseconds(1000), [&] {
        auto latest = store_->LastSequence();
        return !latest.ok() || *latest > *f.after_seq;
      });
    }
    auto page = store_->Search(f);
    ASSERT_TRUE(page.ok());
    for (const auto& e : page->events) got.push_back(e.message);
    ASSERT_GE(page->last_seq, *f.after_seq);
    f.after_seq = page->last_seq;
  }
  writer.join();
  std::vector<std::string> expected;
  for (int i = 0; i < 300; i += 2) expected.push_back("t" + std::to_string(i));
  EXPECT_EQ(got, expected);
  EXPECT_GE(wakes.load(), 1u);
  const uint64_t before_close = wakes.load();
  store_->Close();
  EXPECT_TRUE(store_->LastSequence().status().IsUnavailable());
  EXPECT_EQ(wakes.load(), before_close + 1);  // closing wakes the tails, which then end
}

TEST_F(LogBlocksTest, RetentionByAgeDropsExpiredPartsOnFakeClockTime) {
  options_.max_age = std::chrono::hours(1);
  Open();
  std::mt19937_64 rng(1);
  const int64_t t0 = ToUnixNanos(clock_.Now());
  for (int i = 0; i < 100; ++i) Append(Batch({Event(t0 + i, "old " + Noise(rng, 200))}));
  ASSERT_TRUE(AllSealed());
  const uint64_t blocks = store_->Stats().blocks;
  ASSERT_GT(blocks, 3u);
  ASSERT_TRUE(store_->EnforceRetention().ok());
  EXPECT_EQ(store_->Stats().blocks, blocks);  // not old yet

  clock_.Advance(std::chrono::minutes(61));
  ASSERT_TRUE(store_->EnforceRetention().ok());
  EXPECT_EQ(store_->Stats().blocks, 0u);
  EXPECT_TRUE(Files(".dat").empty());
  const size_t unsealed = Find({}).size();  // the open block is not retention's
  EXPECT_LT(unsealed, 100u);
  const int64_t t1 = ToUnixNanos(clock_.Now());
  Append(Batch({Event(t1, "new")}));
  Open();
  EXPECT_EQ(Find({}).size(), unsealed + 1);
  EXPECT_EQ(Find({})[0].message, "new");
}

TEST_F(LogBlocksTest, RetentionRunsInTheBackground) {
  options_.max_age = std::chrono::hours(1);
  options_.retention_interval = milliseconds(5);
  Open();
  std::mt19937_64 rng(2);
  const int64_t t0 = ToUnixNanos(clock_.Now());
  for (int i = 0; i < 40; ++i) Append(Batch({Event(t0 + i, Noise(rng, 200))}));
  ASSERT_TRUE(AllSealed());
  ASSERT_GT(store_->Stats().blocks, 0u);
  clock_.Advance(std::chrono::hours(2));
  EXPECT_TRUE(WaitFor([&] { return store_->Stats().blocks == 0; }));
}

TEST_F(LogBlocksTest, RetentionBySizeKeepsTheNewestParts) {
  options_.max_bytes = 16 << 10;
  Open();
  std::mt19937_64 rng(3);
  const int64_t t0 = ToUnixNanos(clock_.Now());
  for (int i = 0; i < 400; ++i) {
    Append(Batch({Event(t0 + i, "m" + std::to_string(i) + " " + Noise(rng, 200))}));
  }
  ASSERT_TRUE(AllSealed());
  ASSERT_GT(PartBytes(), options_.max_bytes);
  ASSERT_TRUE(store_->EnforceRetention().ok());
  EXPECT_LE(PartBytes(), options_.max_bytes);
  EXPECT_GT(PartBytes(), options_.max_bytes / 2);
  LogFilter f;
  f.limit = 1;
  EXPECT_EQ(Find(f)[0].message.substr(0, 5), "m399 ");
  f.newest_first = false;
  EXPECT_NE(Find(f)[0].message.substr(0, 3), "m0 ");
  Open();
  EXPECT_LE(PartBytes(), options_.max_bytes);
}

// Cuts the only WAL segment at many offsets: each open repairs the tail and
// keeps exactly the whole records before the cut.
TEST_F(LogBlocksTest, WalTruncatedAnywhereOpensToAPrefixOfBatches) {
  options_.segment_bytes = 1 << 20;
  Open();
  std::vector<uint64_t> ends;  // WAL size after each batch
  fs::path wal = Files(".log").at(0);
  for (int b = 0; b < 6; ++b) {
    Append(Batch({Event(1 + b, "b" + std::to_string(b) + "-x"),
                  Event(1 + b, "b" + std::to_string(b) + "-y")},
                 "batch-" + std::to_string(b)));
    ends.push_back(fs::file_size(wal));
  }
  store_.reset();
  const fs::path copy = dir_ / "wal-copy";
  fs::copy_file(wal, copy);
  const uint64_t size = fs::file_size(copy);
  for (uint64_t cut = 0; cut <= size; cut += 11) {
    fs::copy_file(copy, wal, fs::copy_options::overwrite_existing);
    fs::resize_file(wal, cut);
    Open();
    const size_t whole =
        std::count_if(ends.begin(), ends.end(), [&](uint64_t e) { return e <= cut; });
    LogFilter f;
    f.newest_first = false;
    f.limit = 100;
    std::vector<std::string> want;
    for (size_t b = 0; b < whole; ++b) {
      want.push_back("b" + std::to_string(b) + "-x");
      want.push_back("b" + std::to_string(b) + "-y");
    }
    ASSERT_EQ(Messages(Find(f)), want) << "cut at " << cut;
    // A lost batch may be sent again; a kept one is a duplicate.
    auto again = store_->Append(Batch({Event(1, "retry")}, "batch-0"));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->duplicate, whole > 0) << "cut at " << cut;
    store_.reset();
  }
}

TEST_F(LogBlocksTest, UncataloguedPartTailAndSealedWalSegmentsAreDroppedAtOpen) {
  Open();
  std::mt19937_64 rng(4);
  for (int i = 0; i < 50; ++i) Append(Batch({Event(i, "e" + std::to_string(i) + Noise(rng, 150))}));
  ASSERT_TRUE(AllSealed());
  const size_t total = Find({.limit = 1000}).size();
  ASSERT_EQ(total, 50u);
  store_.reset();
  // A crash between writing a block and cataloguing it; and one between
  // cataloguing and deleting its WAL segment (seq 1 was sealed long ago).
  fs::path last_part = Files(".dat").back();
  const uint64_t part_size = fs::file_size(last_part);
  {
    std::ofstream out(last_part, std::ios::binary | std::ios::app);
    out << Noise(rng, 3000);
  }
  {
    std::ofstream out(options_.dir + "/segment-0000000000000001.log", std::ios::binary);
    out << "HIVELOG1" << Noise(rng, 100);
  }
  Open();
  EXPECT_EQ(fs::file_size(last_part), part_size);
  EXPECT_FALSE(fs::exists(options_.dir + "/segment-0000000000000001.log"));
  EXPECT_EQ(Find({.limit = 1000}).size(), total);
  for (int i = 50; i < 80; ++i)
    Append(Batch({Event(i, "f" + std::to_string(i) + Noise(rng, 150))}));
  ASSERT_TRUE(AllSealed());
  Open();
  auto all = Find({.limit = 1000});
  ASSERT_EQ(all.size(), 80u);
  EXPECT_EQ(all[0].message.substr(0, 3), "f79");
}

// A real kill -9: a child process appends and reports each acknowledged
// batch; the parent kills it mid-stream and checks every acknowledged batch
// is whole after reopening, over several rounds on the same directory.
TEST_F(LogBlocksTest, KillNineLosesNothingAcknowledged) {
  options_.segment_bytes = 8192;
  options_.part_bytes = 16384;
  int next_batch = 0;
  std::set<int> acked;
  int in_flight_kept = 0;
  for (int round = 0; round < 4; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const int first = next_batch;
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto store = OpenSegmentLogStore(options_);
      if (!store.ok()) ::_exit(3);
      for (int b = first;; ++b) {
        std::vector<LogEvent> events;
        for (int e = 0; e < 10; ++e) {
          events.push_back(Event(
              b * 100 + e, "b" + std::to_string(b) + "-" + std::to_string(e) + std::string(40, '.'),
              "load", "trace-" + std::to_string(b)));
        }
        auto r = (*store)->Append(Batch(std::move(events), "batch-" + std::to_string(b)));
        if (!r.ok()) ::_exit(4);
        if (::write(fds[1], &b, sizeof b) != sizeof b) ::_exit(5);
      }
    }
    ::close(fds[1]);
    const int want = 5 + round * 37;
    int b = 0, got = 0;
    while (got < want && ::read(fds[0], &b, sizeof b) == sizeof b) {
      acked.insert(b);
      ++got;
    }
    ASSERT_EQ(got, want);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    // Acks written before the kill but not yet read.
    while (::read(fds[0], &b, sizeof b) == sizeof b) acked.insert(b);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);

    Open();
    std::map<std::string, int> per_trace;
    for (const auto& e : Find({.limit = 100'000})) ++per_trace[e.trace_id];
    for (int a : acked) EXPECT_EQ(per_trace["trace-" + std::to_string(a)], 10) << "batch " << a;
    // Batches are whole or absent; at most the one in flight is extra.
    int extra = 0;
    for (const auto& [trace, count] : per_trace) {
      EXPECT_EQ(count, 10) << trace;
      if (!acked.contains(std::stoi(trace.substr(6)))) ++extra;
    }
    EXPECT_LE(extra, in_flight_kept + 1);
    in_flight_kept = extra;
    next_batch = *acked.rbegin() + 2;
    store_.reset();
  }
}

}  // namespace
}  // namespace hive::collector
