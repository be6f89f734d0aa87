// MetricsStore: scraped Prometheus samples pushed by agents
// (POST /api/v1/ingest/metrics), kept in SQLite with retention by age, queried
// by name and label matchers over a time range with a step (optionally as a
// per-second rate for counters), and exported in the text format for a real
// Prometheus to scrape.
//
// Every series carries the labels service and instance of the agent that
// pushed it; a scraped label with one of those names is kept as
// exported_service / exported_instance (as Prometheus does on conflicts).
//
// Memory holds the series index (each series' labels and latest sample), so
// what ingest may add is capped (MetricSeriesLimits): past a cap a new
// series is refused while the series already stored keep being updated. A
// series whose latest sample is older than the retention leaves the index.
//
// Thread-safe: one mutex over the connection and the in-memory series index.
// A query compiles its matchers and matches labels without holding it (on a
// snapshot of the candidate series), so no pattern can hold up ingest.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hive/collector/prometheus_text.h"
#include "hive/core/clock.h"
#include "hive/core/sqlite.h"
#include "hive/core/status.h"

namespace re2 {
class RE2;
}

namespace hive::collector {

enum class MatchOp { kEqual, kNotEqual, kRegex, kNotRegex };

struct LabelMatcher {
  std::string name;
  MatchOp op = MatchOp::kEqual;
  std::string value;  // a regex (matched against the whole value) for kRegex/kNotRegex
};

// Parses one matcher as in PromQL: name="v", name!="v", name=~"re",
// name!~"re". Also accepts a selector "{a="x",b=~"y"}" holding several.
Result<std::vector<LabelMatcher>> ParseLabelMatchers(std::string_view text);

// Label matchers ready to match: each regex compiled once with RE2 (linear
// time, no backreferences) and fully anchored, as Prometheus anchors =~ and
// !~. Immutable after Compile, so one selector may match on several threads.
class LabelSelector {
 public:
  // InvalidArgument naming the label for a regex RE2 does not support or
  // one that compiles to more than 10,000 instructions (docs/API.md).
  static Result<LabelSelector> Compile(std::vector<LabelMatcher> matchers);
  LabelSelector(LabelSelector&&) noexcept;
  LabelSelector& operator=(LabelSelector&&) noexcept;
  ~LabelSelector();

  // Whether `labels` satisfy every matcher; an absent label reads as "".
  bool Matches(const Labels& labels) const;

 private:
  struct Compiled;
  explicit LabelSelector(std::vector<Compiled> matchers);
  std::vector<Compiled> matchers_;  // equality matchers first: they are cheaper
};

// The longest metric or label name a new series may carry.
inline constexpr size_t kMaxLabelNameBytes = 256;

// What ingest may add to the store (hived's --metrics-* flags; docs/API.md).
// Each cap refuses new series only: series already stored are kept and
// updated even when a cap is lowered below what the store holds.
struct MetricSeriesLimits {
  size_t max_series = 100'000;  // in the whole store
  size_t max_series_per_service = 10'000;
  size_t max_labels = 32;  // per series, service and instance included
  size_t max_label_value_bytes = 2048;
};

// Why a new series was refused; the `reason` label of
// hive_collector_metric_series_refused_total. Label limits come first.
enum class SeriesRefusal {
  kTooManyLabels,
  kNameTooLong,
  kValueTooLong,
  kServiceLimit,
  kStoreLimit,
};
inline constexpr size_t kSeriesRefusalCount = 5;
std::string_view SeriesRefusalName(SeriesRefusal reason);

struct MetricsStoreOptions {
  std::string path;  // the SQLite file; its directory must exist
  hive::Clock* clock = &hive::Clock::System();
  Duration retention = std::chrono::hours(24 * 7);
  // Export only series with a sample this recent (Prometheus' staleness).
  Duration staleness = std::chrono::minutes(5);
  MetricSeriesLimits limits;
  // A query whose label matching takes longer is refused: RE2 runs in linear
  // time, but a pattern that defeats its DFA costs up to its program size per
  // byte, over every candidate series.
  Duration match_timeout = std::chrono::seconds(10);
};

// What one Append stored and which new series it refused.
struct AppendSummary {
  size_t stored = 0;  // samples written
  // Distinct new series refused, by SeriesRefusal.
  std::array<size_t, kSeriesRefusalCount> refused{};
  // OK when nothing was refused. Otherwise InvalidArgument when a series'
  // labels were past a limit (the sender must change them), else
  // ResourceExhausted (a series cap), with the counts and the first reason.
  Status refusal;
};

struct MetricsQuery {
  std::string name;  // a sample name, e.g. http_requests_total or x_bucket
  std::vector<LabelMatcher> matchers;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t step_ms = 15'000;
  // Per-second rate over `range_ms` before each step (counter resets handled).
  bool rate = false;
  int64_t range_ms = 300'000;
};

struct MetricPoint {
  int64_t ts_ms = 0;
  double value = 0;
};

struct QueriedSeries {
  std::string name;
  Labels labels;  // including service and instance
  std::vector<MetricPoint> points;
};

inline constexpr int64_t kMaxQueryPoints = 11'000;
inline constexpr size_t kMaxQuerySeries = 1'000;

class MetricsStore {
 public:
  // FailedPrecondition with the path when the file cannot be opened.
  static Result<std::unique_ptr<MetricsStore>> Open(MetricsStoreOptions options);

  // Stores one scrape of service/instance durably (one synchronous commit);
  // samples without a timestamp are stamped now. A sample of a new series
  // past a limit is not stored and the summary says why; the other samples
  // are. InvalidArgument for a bad service or instance name; Unavailable when
  // the write failed (nothing stored).
  Result<AppendSummary> Append(std::string_view service, std::string_view instance,
                               const ParsedExposition& exposition);

  // Series named q.name matching every matcher, with one point per step from
  // start to end: the latest sample at most 5 minutes old (or, with rate,
  // the per-second increase over range_ms; steps without data are left out).
  // InvalidArgument for a bad range, a bad regex, too many points, rate on
  // a gauge or matching past match_timeout.
  Result<std::vector<QueriedSeries>> Query(const MetricsQuery& q);

  // The latest sample of every fresh series, grouped by family with HELP and
  // TYPE, in the text exposition format (no timestamps).
  std::string Export();

  size_t series_count() const;

 private:
  struct SeriesInfo {
    int64_t id = 0;
    std::string name;
    std::string family;
    std::string service;  // the pushing service (its `service` label)
    // Shared with query snapshots, which match them without the lock.
    std::shared_ptr<const Labels> labels;
    int64_t last_ts_ms = 0;
    double last_value = 0;
    bool has_sample = false;
  };
  struct AppendPlan;
  struct Candidate;
  MetricsStore(MetricsStoreOptions options, std::unique_ptr<SqliteDb> db)
      : options_(std::move(options)), db_(std::move(db)) {}
  Status LoadLocked();
  // Which samples go to which series, and which new series are refused.
  AppendPlan PlanLocked(std::string_view service, std::string_view instance,
                        const ParsedExposition& exposition, int64_t now_ms);
  // Nullopt when a new series with `labels` is within the limits.
  std::optional<SeriesRefusal> RefusalLocked(std::string_view service, std::string_view name,
                                             const Labels& labels, size_t new_in_batch) const;
  // One transaction: the families, the new series (their ids set) and the
  // samples of `plan`. Unavailable (nothing written) when it fails.
  Status WriteLocked(AppendPlan& plan, const ParsedExposition& exposition);
  void ApplyLocked(AppendPlan& plan, const ParsedExposition& exposition);
  // Drops samples past the retention, then the series left without one
  // and the families left without a series.
  void PruneLocked(TimePoint now);
  // The series named `name`, with what matching needs: a snapshot.
  std::vector<Candidate> CandidatesOf(const std::string& name) const;
  // The points of the selected series (the store's lock held while reading).
  Result<std::vector<QueriedSeries>> ReadSeries(const MetricsQuery& q,
                                                const std::vector<Candidate>& selected);

  MetricsStoreOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;                        // GUARDED_BY(mu_)
  std::unordered_map<std::string, SeriesInfo> series_;  // by "name{labels}"; GUARDED_BY(mu_)
  std::unordered_map<std::string, size_t> series_per_service_;  // GUARDED_BY(mu_)
  std::map<std::string, MetricFamily> families_;                // GUARDED_BY(mu_)
  TimePoint last_prune_{};                                      // GUARDED_BY(mu_)
};

}  // namespace hive::collector
