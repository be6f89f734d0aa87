#include "hive/collector/metrics_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include "temp_dir.h"

namespace hive::collector {
namespace {

using std::chrono::seconds;

class MetricsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { store_.reset(); }
  void Open(MetricSeriesLimits limits = {}, Clock* clock = nullptr) {
    store_.reset();
    MetricsStoreOptions o;
    o.path = dir_ / "metrics.db";
    o.clock = clock != nullptr ? clock : &clock_;
    o.limits = limits;
    auto s = MetricsStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Appends `text`; what was stored and refused.
  AppendSummary Append(std::string_view service, std::string_view instance, std::string_view text) {
    Result<ParsedExposition> parsed = ParsePrometheusText(text);
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    if (!parsed.ok()) return {};
    Result<AppendSummary> stored = store_->Append(service, instance, *parsed);
    EXPECT_TRUE(stored.ok()) << stored.status().ToString();
    return stored.ok() ? *stored : AppendSummary{};
  }
  // Appends `text`, which must be stored whole.
  void Push(std::string_view service, std::string_view instance, std::string_view text) {
    AppendSummary summary = Append(service, instance, text);
    EXPECT_TRUE(summary.refusal.ok()) << summary.refusal.ToString();
  }
  Result<std::vector<QueriedSeries>> QueryLast(std::string name, std::string_view matchers) {
    MetricsQuery q;
    q.name = std::move(name);
    q.start_ms = q.end_ms = NowMs();
    Result<std::vector<LabelMatcher>> m = ParseLabelMatchers(matchers);
    if (!m.ok()) return m.status();
    q.matchers = *m;
    return store_->Query(q);
  }
  int64_t NowMs() const { return ToUnixNanos(clock_.Now()) / 1'000'000; }

  hive::testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<MetricsStore> store_;
};

TEST_F(MetricsStoreTest, QueriesByNameAndMatchersWithSteps) {
  int64_t t0 = NowMs();
  for (int i = 0; i < 4; ++i) {
    Push(
        "orders", "orders-1",
        "# TYPE temp gauge\ntemp{room=\"a\"} " + std::to_string(10 + i) + "\ntemp{room=\"b\"} 1\n");
    Push("payments", "payments-1", "# TYPE temp gauge\ntemp{room=\"a\"} 99\n");
    clock_.Advance(seconds(15));
  }
  MetricsQuery q;
  q.name = "temp";
  q.start_ms = t0;
  q.end_ms = t0 + 45'000;
  q.step_ms = 15'000;
  auto m = ParseLabelMatchers("{service=\"orders\", room=~\"a|c\"}");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  q.matchers = *m;
  Result<std::vector<QueriedSeries>> r = store_->Query(q);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].labels,
            (Labels{{"instance", "orders-1"}, {"room", "a"}, {"service", "orders"}}));
  ASSERT_EQ((*r)[0].points.size(), 4u);
  EXPECT_EQ((*r)[0].points[0].ts_ms, t0);
  EXPECT_EQ((*r)[0].points[0].value, 10);
  EXPECT_EQ((*r)[0].points[3].value, 13);

  q.matchers = *ParseLabelMatchers("service!=\"orders\"");
  r = store_->Query(q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].points[2].value, 99);

  q.matchers = *ParseLabelMatchers("room!~\"a\"");
  r = store_->Query(q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].labels[1], (std::pair<std::string, std::string>{"room", "b"}));

  q.rate = true;
  EXPECT_TRUE(store_->Query(q).status().IsInvalidArgument()) << "rate of a gauge";
}

TEST_F(MetricsStoreTest, RateHandlesCounterResets) {
  int64_t t0 = NowMs();
  for (int v : {100, 130, 160, 10, 40}) {  // reset after 160
    Push("orders", "orders-1", "# TYPE req_total counter\nreq_total " + std::to_string(v) + "\n");
    clock_.Advance(seconds(10));
  }
  MetricsQuery q;
  q.name = "req_total";
  q.start_ms = t0 + 40'000;
  q.end_ms = t0 + 40'000;
  q.rate = true;
  q.range_ms = 60'000;
  Result<std::vector<QueriedSeries>> r = store_->Query(q);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].points.size(), 1u);
  // Increases 30 + 30 + 10 (after the reset) + 30 = 100 over 40 s.
  EXPECT_DOUBLE_EQ((*r)[0].points[0].value, 2.5);
}

TEST_F(MetricsStoreTest, ExplicitTimestampsAndOldSamplesLeaveGaps) {
  int64_t t0 = NowMs();
  Push("svc", "", "g 1 " + std::to_string(t0 - 600'000) + "\n");
  MetricsQuery q;
  q.name = "g";
  q.start_ms = t0 - 600'000;
  q.end_ms = t0;
  q.step_ms = 300'000;
  Result<std::vector<QueriedSeries>> r = store_->Query(q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  // The sample counts for 5 minutes after it, like Prometheus' lookback.
  ASSERT_EQ((*r)[0].points.size(), 1u);
  EXPECT_EQ((*r)[0].points[0].ts_ms, t0 - 600'000);
}

TEST_F(MetricsStoreTest, RejectsBadQueries) {
  MetricsQuery q;
  q.name = "x";
  q.start_ms = 0;
  q.end_ms = 1'000'000'000;
  q.step_ms = 1;
  EXPECT_TRUE(store_->Query(q).status().IsInvalidArgument()) << "too many points";
  q.step_ms = 1'000'000;
  q.name = "bad name";
  EXPECT_TRUE(store_->Query(q).status().IsInvalidArgument());
  q.name = "x";
  Push("svc", "", "x 1\n");
  q.matchers = *ParseLabelMatchers("service=~\"(\"");
  EXPECT_TRUE(store_->Query(q).status().IsInvalidArgument()) << "bad regex";
  EXPECT_FALSE(ParseLabelMatchers("service==\"x\"").ok());
  EXPECT_FALSE(ParseLabelMatchers("service=x").ok());
  EXPECT_FALSE(ParseLabelMatchers("{service=\"x\"").ok());
  EXPECT_FALSE(ParseLabelMatchers("a=\"1\" b=\"2\"").ok());
}

TEST_F(MetricsStoreTest, ServiceAndInstanceLabelsAreAddedAndConflictsRenamed) {
  Push("orders", "orders-1", "x{service=\"inner\",instance=\"i\"} 1\n");
  std::string out = store_->Export();
  EXPECT_NE(out.find("x{exported_instance=\"i\",exported_service=\"inner\",instance=\"orders-1\","
                     "service=\"orders\"} 1\n"),
            std::string::npos)
      << out;
  ParsedExposition empty;
  EXPECT_TRUE(store_->Append("Bad Service", "", empty).status().IsInvalidArgument());
}

TEST_F(MetricsStoreTest, ExportGroupsFamiliesAndDropsStaleSeries) {
  Push("orders", "orders-1",
       "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
       "lat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"+Inf\"} 2\n"
       "lat_seconds_sum 0.3\nlat_seconds_count 2\n"
       "# HELP up_total Ups.\n# TYPE up_total counter\nup_total 5\n");
  std::string out = store_->Export();
  EXPECT_EQ(out,
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{instance=\"orders-1\",le=\"0.1\",service=\"orders\"} 1\n"
            "lat_seconds_bucket{instance=\"orders-1\",le=\"+Inf\",service=\"orders\"} 2\n"
            "lat_seconds_sum{instance=\"orders-1\",service=\"orders\"} 0.3\n"
            "lat_seconds_count{instance=\"orders-1\",service=\"orders\"} 2\n"
            "# HELP up_total Ups.\n# TYPE up_total counter\n"
            "up_total{instance=\"orders-1\",service=\"orders\"} 5\n");
  EXPECT_TRUE(ParsePrometheusText(out).ok());
  clock_.Advance(std::chrono::minutes(6));
  EXPECT_EQ(store_->Export(), "");
}

TEST_F(MetricsStoreTest, SurvivesReopen) {
  Push("orders", "orders-1", "# HELP up_total Ups.\n# TYPE up_total counter\nup_total 5\n");
  EXPECT_EQ(store_->series_count(), 1u);
  Open();
  EXPECT_EQ(store_->series_count(), 1u);
  EXPECT_EQ(store_->Export(),
            "# HELP up_total Ups.\n# TYPE up_total counter\n"
            "up_total{instance=\"orders-1\",service=\"orders\"} 5\n");
  Push("orders", "orders-1", "up_total 6\n");
  EXPECT_EQ(store_->series_count(), 1u);
}

std::vector<std::string> ValuesOf(const Result<std::vector<QueriedSeries>>& r,
                                  const std::string& label) {
  std::vector<std::string> out;
  if (!r.ok()) return out;
  for (const QueriedSeries& s : *r) {
    for (const auto& [n, v] : s.labels) {
      if (n == label) out.push_back(v);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(MetricsStoreTest, RegexMatchersAreRe2AndFullyAnchored) {
  Push("orders", "orders-1", "# TYPE temp gauge\ntemp{room=\"ab\"} 1\ntemp{room=\"a\"} 2\n");
  using V = std::vector<std::string>;
  EXPECT_EQ(ValuesOf(QueryLast("temp", R"(room=~"a")"), "room"), V{"a"});
  EXPECT_EQ(ValuesOf(QueryLast("temp", R"(room=~"a.*")"), "room"), (V{"a", "ab"}));
  EXPECT_EQ(ValuesOf(QueryLast("temp", R"(room!~"a")"), "room"), V{"ab"});
  EXPECT_EQ(ValuesOf(QueryLast("temp", R"(room=~"b")"), "room"), V{});
  EXPECT_EQ(ValuesOf(QueryLast("temp", R"({room=~"a|ab",room!="a"})"), "room"), V{"ab"});
  // An absent label reads as "".
  EXPECT_EQ(ValuesOf(QueryLast("temp", R"(zone=~"")"), "room"), (V{"a", "ab"}));

  for (std::string_view unsupported : {R"m(room=~"(a)\\1")m", R"m(room=~"(?=a)")m"}) {
    auto r = QueryLast("temp", unsupported);
    EXPECT_TRUE(r.status().IsInvalidArgument()) << unsupported;
    EXPECT_NE(r.status().message().find("label 'room': bad regex"), std::string::npos)
        << r.status().ToString();
  }
  auto large = QueryLast("temp", R"(room=~".{1000}.{1000}")");
  EXPECT_TRUE(large.status().IsInvalidArgument());
  EXPECT_NE(large.status().message().find("instructions"), std::string::npos)
      << large.status().ToString();
}

// Issue 12: under std::regex, (.*)*Z ran past 20 s (holding the store's lock)
// and a 100 KB value against (a|b)* overflowed the stack.
TEST_F(MetricsStoreTest, PathologicalPatternsMatchInLinearTime) {
  MetricSeriesLimits limits;
  limits.max_label_value_bytes = 128 << 10;
  Open(limits);
  std::string text = "# TYPE g gauge\n";
  for (int i = 0; i < 2'000; ++i) {
    text += "g{path=\"/" + std::string(2'000, 'a') + std::to_string(i) + "\"} 1\n";
  }
  std::string ab(100'000, 'a');
  for (size_t i = 0; i < ab.size(); i += 3) ab[i] = 'b';
  text += "g{path=\"" + ab + "\"} 1\n";
  Push("svc", "", text);

  auto none = QueryLast("g", R"(path=~"(.*)*Z")");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  auto ab_only = QueryLast("g", R"(path=~"(a|b)*")");
  ASSERT_TRUE(ab_only.ok()) << ab_only.status().ToString();
  EXPECT_EQ(ValuesOf(ab_only, "path"), std::vector<std::string>{ab});
}

// A clock that, once armed, runs `during` at its second read on the arming
// thread. A query reads its clock once for its deadline, then as it matches
// each series (for the match timeout), so `during` runs mid-match.
class MidQueryClock final : public Clock {
 public:
  MidQueryClock(Clock* base, std::function<void()> during)
      : base_(base), during_(std::move(during)) {}
  // REQUIRES: before any other thread reads the clock.
  void Arm() {
    thread_ = std::this_thread::get_id();
    armed_ = true;
  }
  TimePoint Now() const override {
    if (armed_ && std::this_thread::get_id() == thread_ && reads_.fetch_add(1) == 1) during_();
    return base_->Now();
  }

 private:
  Clock* base_;
  std::function<void()> during_;
  std::thread::id thread_;
  std::atomic<bool> armed_{false};
  mutable std::atomic<int> reads_{0};
};

// Issue 12: a query held the store's lock while it matched, so ingest (and
// shutdown) waited for the slowest pattern. Now ingest completes while a
// query is in the middle of matching.
TEST_F(MetricsStoreTest, IngestCompletesWhileAQueryMatches) {
  std::thread ingest;
  std::promise<void> ingested;
  bool ingested_mid_query = false;
  MidQueryClock clock(&clock_, [&] {
    ingest = std::thread([&] {
      Push("late", "", "g{x=\"new\"} 1\n");
      ingested.set_value();
    });
    // Generous: only a store that holds its lock while matching waits here
    // (and then finishes the query, letting the ingest through).
    ingested_mid_query =
        ingested.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  });
  Open({}, &clock);
  std::string text;
  for (int i = 0; i < 100; ++i) text += "g{x=\"" + std::to_string(i) + "\"} 1\n";
  Push("svc", "", text);
  MetricsQuery q;
  q.name = "g";
  q.start_ms = q.end_ms = NowMs();
  q.matchers = *ParseLabelMatchers(R"(x=~"(.*)*Z")");
  clock.Arm();
  Result<std::vector<QueriedSeries>> r = store_->Query(q);
  ASSERT_TRUE(ingest.joinable());
  ingest.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(ingested_mid_query);
  EXPECT_EQ(store_->series_count(), 101u);
}

// A clock that moves one second at every read.
class TickingClock final : public Clock {
 public:
  TimePoint Now() const override {
    return TimePoint(std::chrono::seconds(1'700'000'000 + ticks_++));
  }

 private:
  mutable std::atomic<int64_t> ticks_{0};
};

TEST_F(MetricsStoreTest, MatchingPastTheTimeoutIsRefused) {
  TickingClock clock;
  Open({}, &clock);
  std::string text;
  for (int i = 0; i < 20; ++i) text += "g{x=\"" + std::to_string(i) + "\"} 1\n";
  Push("svc", "", text);
  MetricsQuery q;
  q.name = "g";
  q.start_ms = q.end_ms = ToUnixNanos(clock.Now()) / 1'000'000;
  q.matchers = *ParseLabelMatchers(R"(x=~".+")");
  Result<std::vector<QueriedSeries>> r = store_->Query(q);
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_NE(r.status().message().find("took over 10s"), std::string::npos) << r.status().ToString();
}

TEST_F(MetricsStoreTest, NewSeriesPastACapAreRefusedOldOnesKeepUpdating) {
  MetricSeriesLimits limits;
  limits.max_series = 5;
  limits.max_series_per_service = 3;
  Open(limits);
  const auto service_limit = static_cast<size_t>(SeriesRefusal::kServiceLimit);
  AppendSummary first = Append("a", "", "g{i=\"1\"} 1\ng{i=\"2\"} 1\ng{i=\"3\"} 1\ng{i=\"4\"} 1\n");
  EXPECT_EQ(first.stored, 3u);
  EXPECT_EQ(first.refused[service_limit], 1u);
  EXPECT_EQ(first.refusal.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(first.refusal.message().find("service 'a' has 3 series"), std::string::npos)
      << first.refusal.ToString();
  EXPECT_EQ(store_->series_count(), 3u);

  AppendSummary second = Append("a", "", "g{i=\"1\"} 7\ng{i=\"5\"} 1\n");
  EXPECT_EQ(second.stored, 1u);
  EXPECT_EQ(second.refused[service_limit], 1u);
  EXPECT_NE(store_->Export().find("g{i=\"1\",service=\"a\"} 7\n"), std::string::npos);

  AppendSummary other = Append("b", "", "g{i=\"1\"} 1\ng{i=\"2\"} 1\ng{i=\"3\"} 1\n");
  EXPECT_EQ(other.stored, 2u);
  EXPECT_EQ(other.refused[static_cast<size_t>(SeriesRefusal::kStoreLimit)], 1u);
  EXPECT_EQ(other.refusal.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(store_->series_count(), 5u);

  // The counts survive a restart.
  Open(limits);
  EXPECT_EQ(Append("a", "", "g{i=\"9\"} 1\n").refused[service_limit], 1u);
  EXPECT_EQ(Append("a", "", "g{i=\"2\"} 3\n").stored, 1u);
}

TEST_F(MetricsStoreTest, LabelsPastALimitAreTheSendersToFix) {
  std::string many = "g{";
  for (int i = 0; i < 31; ++i) many += "l" + std::to_string(i) + "=\"v\",";
  many += "last=\"v\"} 1\n";  // 32 scraped labels and service: 33
  AppendSummary too_many = Append("a", "", many);
  EXPECT_EQ(too_many.refused[static_cast<size_t>(SeriesRefusal::kTooManyLabels)], 1u);
  EXPECT_TRUE(too_many.refusal.IsInvalidArgument()) << too_many.refusal.ToString();
  EXPECT_NE(too_many.refusal.message().find("more than 32 labels"), std::string::npos);

  AppendSummary long_value = Append("a", "", "g{v=\"" + std::string(2049, 'x') + "\"} 1\nok 1\n");
  EXPECT_EQ(long_value.refused[static_cast<size_t>(SeriesRefusal::kValueTooLong)], 1u);
  EXPECT_EQ(long_value.stored, 1u);
  EXPECT_TRUE(long_value.refusal.IsInvalidArgument());
  EXPECT_EQ(Append("a", "", "g{v=\"" + std::string(2048, 'x') + "\"} 1\n").stored, 1u);

  AppendSummary long_name = Append("a", "", "g{" + std::string(257, 'n') + "=\"v\"} 1\n");
  EXPECT_EQ(long_name.refused[static_cast<size_t>(SeriesRefusal::kNameTooLong)], 1u);
  EXPECT_EQ(store_->series_count(), 2u);
}

TEST_F(MetricsStoreTest, SeriesPastTheRetentionLeaveAndMakeRoom) {
  MetricSeriesLimits limits;
  limits.max_series_per_service = 2;
  Open(limits);
  Push("a", "", "# HELP g G.\n# TYPE g gauge\ng{i=\"1\"} 1\ng{i=\"2\"} 1\n");
  EXPECT_EQ(Append("a", "", "g{i=\"3\"} 1\n").stored, 0u);
  clock_.Advance(std::chrono::hours(24 * 7) + std::chrono::minutes(2));
  AppendSummary later = Append("a", "", "g{i=\"3\"} 1\n");
  EXPECT_EQ(later.stored, 1u);
  EXPECT_TRUE(later.refusal.ok()) << later.refusal.ToString();
  EXPECT_EQ(store_->series_count(), 1u);
  Open(limits);
  EXPECT_EQ(store_->series_count(), 1u);
  // The family left with its series: g's HELP and TYPE are gone.
  EXPECT_EQ(store_->Export(), "# TYPE g untyped\ng{i=\"3\",service=\"a\"} 1\n");
}

}  // namespace
}  // namespace hive::collector
