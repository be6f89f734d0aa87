#include "hive/collector/metrics_store.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <set>
#include <unordered_set>

#include "hive/core/text.h"
#include "user_regex.h"

namespace hive::collector {
namespace {

constexpr std::array<std::string_view, 1> kMigrations = {
    "CREATE TABLE families (name TEXT PRIMARY KEY, type TEXT NOT NULL, help TEXT NOT NULL);"
    "CREATE TABLE series ("
    "  id INTEGER PRIMARY KEY,"
    "  key TEXT NOT NULL UNIQUE,"
    "  family TEXT NOT NULL);"
    "CREATE TABLE samples ("
    "  series_id INTEGER NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  value REAL NOT NULL,"
    "  PRIMARY KEY (series_id, ts_ms)"
    ") WITHOUT ROWID;"
    "CREATE INDEX samples_by_ts ON samples (ts_ms);"};

constexpr auto kPruneEvery = std::chrono::minutes(1);
constexpr int64_t kLookbackMs = 300'000;

std::string SeriesKey(std::string_view name, const Labels& labels) {
  std::string line;
  AppendSampleLine(line, name, labels, 0);
  return line.substr(0, line.size() - 3);  // drop " 0\n"
}

// Reads back a SeriesKey.
Result<std::pair<std::string, Labels>> ParseSeriesKey(const std::string& key) {
  Result<ParsedExposition> parsed = ParsePrometheusText(key + " 0\n");
  if (!parsed.ok() || parsed->samples.size() != 1) {
    return Status::Internal("a stored series key does not parse: " + key);
  }
  ParsedSample& s = parsed->samples.front();
  return std::make_pair(std::move(s.name), std::move(s.labels));
}

Labels WithOrigin(const Labels& scraped, std::string_view service, std::string_view instance) {
  Labels labels;
  labels.reserve(scraped.size() + 2);
  for (const auto& [name, value] : scraped) {
    if (name == "service" || name == "instance") {
      labels.emplace_back("exported_" + name, value);
    } else {
      labels.emplace_back(name, value);
    }
  }
  labels.emplace_back("service", std::string(service));
  if (!instance.empty()) labels.emplace_back("instance", std::string(instance));
  std::sort(labels.begin(), labels.end());
  return labels;
}

// The value of label `name` ("" when absent).
std::string_view ValueOf(const Labels& labels, std::string_view name) {
  for (const auto& [n, v] : labels) {
    if (n == name) return v;
  }
  return {};
}

// "service 'orders' has 10000 series, the most allowed (--metrics-max-series-per-service)"
std::string RefusalReason(SeriesRefusal reason, std::string_view service,
                          const MetricSeriesLimits& limits) {
  switch (reason) {
    case SeriesRefusal::kTooManyLabels:
      return "a series has more than " + std::to_string(limits.max_labels) +
             " labels, service and instance included (--metrics-max-labels)";
    case SeriesRefusal::kNameTooLong:
      return "a metric or label name is longer than " + std::to_string(kMaxLabelNameBytes) +
             " bytes";
    case SeriesRefusal::kValueTooLong:
      return "a label value is longer than " + std::to_string(limits.max_label_value_bytes) +
             " bytes (--metrics-max-label-value)";
    case SeriesRefusal::kServiceLimit:
      return "service '" + std::string(service) + "' has " +
             std::to_string(limits.max_series_per_service) +
             " series, the most allowed (--metrics-max-series-per-service)";
    case SeriesRefusal::kStoreLimit:
      return "the store holds " + std::to_string(limits.max_series) +
             " series, the most allowed (--metrics-max-series)";
  }
  return "";
}

bool IsCap(SeriesRefusal reason) {
  return reason == SeriesRefusal::kServiceLimit || reason == SeriesRefusal::kStoreLimit;
}

// The AppendSummary::refusal for what was refused, naming the first reason
// in SeriesRefusal's order: labels past a limit are the sender's to fix
// (400) and come before the caps (a full store or service, 429).
Status RefusalStatus(const AppendSummary& summary, std::string_view service,
                     const MetricSeriesLimits& limits) {
  size_t total = 0;
  std::optional<SeriesRefusal> named;
  for (size_t i = 0; i < kSeriesRefusalCount; ++i) {
    if (summary.refused[i] == 0) continue;
    total += summary.refused[i];
    if (!named) named = static_cast<SeriesRefusal>(i);
  }
  if (!named) return Status::Ok();
  std::string message = "refused " + std::to_string(total) + " new series (stored " +
                        std::to_string(summary.stored) +
                        " samples of the others): " + RefusalReason(*named, service, limits);
  if (IsCap(*named)) return Status::ResourceExhausted(std::move(message));
  return Status::InvalidArgument(std::move(message));
}

// A family seen without TYPE or HELP keeps what an earlier scrape said of it.
bool Unannotated(const MetricFamily& f) { return f.type == MetricType::kUntyped && f.help.empty(); }

// Export order within a family: by labels other than le/quantile, then
// the family's own samples (quantiles), buckets, sum, count; buckets and
// quantiles by their bound.
struct ExportKey {
  std::string family;
  Labels others;
  int part = 0;
  double bound = 0;
  bool operator<(const ExportKey& o) const {
    return std::tie(family, others, part, bound) < std::tie(o.family, o.others, o.part, o.bound);
  }
};

ExportKey ExportKeyOf(const std::string& family, const std::string& name, const Labels& labels) {
  ExportKey key{family, {}, 0, 0};
  for (const auto& [n, v] : labels) {
    if (n == "le" || n == "quantile") {
      key.bound = std::strtod(v.c_str(), nullptr);  // "+Inf" included; junk sorts as 0
    } else {
      key.others.emplace_back(n, v);
    }
  }
  if (name != family) {
    std::string_view suffix = std::string_view(name).substr(family.size());
    key.part = suffix == "_bucket" ? 1 : suffix == "_sum" ? 2 : 3;
  }
  return key;
}

// Per-second increase of the samples in order, counting a drop as a reset.
double RateOf(const std::vector<MetricPoint>& s, size_t first, size_t last) {
  double increase = 0;
  for (size_t i = first + 1; i <= last; ++i) {
    double d = s[i].value - s[i - 1].value;
    increase += d >= 0 ? d : s[i].value;
  }
  double seconds = static_cast<double>(s[last].ts_ms - s[first].ts_ms) / 1000.0;
  return seconds > 0 ? increase / seconds : 0;
}

}  // namespace

Result<std::vector<LabelMatcher>> ParseLabelMatchers(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '{') {
    if (text.back() != '}') return Status::InvalidArgument("a selector must end with '}'");
    text = text.substr(1, text.size() - 2);
  }
  std::vector<LabelMatcher> out;
  while (!(text = Trim(text)).empty()) {
    size_t n = 0;
    while (n < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[n])) || text[n] == '_')) {
      ++n;
    }
    LabelMatcher m;
    m.name = std::string(text.substr(0, n));
    if (!IsValidLabelName(m.name) && m.name != "__name__") {
      return Status::InvalidArgument("invalid label name in matcher '" +
                                     std::string(text.substr(0, 40)) + "'");
    }
    text = Trim(text.substr(n));
    if (text.starts_with("=~")) {
      m.op = MatchOp::kRegex;
    } else if (text.starts_with("!~")) {
      m.op = MatchOp::kNotRegex;
    } else if (text.starts_with("!=")) {
      m.op = MatchOp::kNotEqual;
    } else if (text.starts_with("=")) {
      m.op = MatchOp::kEqual;
    } else {
      return Status::InvalidArgument("expected =, !=, =~ or !~ after label '" + m.name + "'");
    }
    text = Trim(text.substr(m.op == MatchOp::kEqual ? 1 : 2));
    if (text.empty() || text.front() != '"') {
      return Status::InvalidArgument("the value of matcher '" + m.name + "' must be quoted");
    }
    text.remove_prefix(1);
    bool closed = false;
    while (!text.empty()) {
      char c = text.front();
      text.remove_prefix(1);
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && !text.empty()) {
        char e = text.front();
        text.remove_prefix(1);
        m.value += e == 'n' ? '\n' : e;
        continue;
      }
      m.value += c;
    }
    if (!closed) return Status::InvalidArgument("unterminated value in matcher '" + m.name + "'");
    out.push_back(std::move(m));
    text = Trim(text);
    if (!text.empty()) {
      if (text.front() != ',') return Status::InvalidArgument("expected ',' between matchers");
      text.remove_prefix(1);
    }
  }
  return out;
}

std::string_view SeriesRefusalName(SeriesRefusal reason) {
  switch (reason) {
    case SeriesRefusal::kTooManyLabels:
      return "too_many_labels";
    case SeriesRefusal::kNameTooLong:
      return "name_too_long";
    case SeriesRefusal::kValueTooLong:
      return "value_too_long";
    case SeriesRefusal::kServiceLimit:
      return "series_per_service";
    case SeriesRefusal::kStoreLimit:
      return "series_total";
  }
  return "";
}

struct LabelSelector::Compiled {
  LabelMatcher matcher;
  std::unique_ptr<re2::RE2> re;  // for kRegex and kNotRegex
};

LabelSelector::LabelSelector(std::vector<Compiled> matchers) : matchers_(std::move(matchers)) {}
LabelSelector::LabelSelector(LabelSelector&&) noexcept = default;
LabelSelector& LabelSelector::operator=(LabelSelector&&) noexcept = default;
LabelSelector::~LabelSelector() = default;

Result<LabelSelector> LabelSelector::Compile(std::vector<LabelMatcher> matchers) {
  std::stable_partition(matchers.begin(), matchers.end(), [](const LabelMatcher& m) {
    return m.op == MatchOp::kEqual || m.op == MatchOp::kNotEqual;
  });
  std::vector<Compiled> compiled;
  compiled.reserve(matchers.size());
  for (LabelMatcher& m : matchers) {
    Compiled c{std::move(m), nullptr};
    if (c.matcher.op == MatchOp::kRegex || c.matcher.op == MatchOp::kNotRegex) {
      Result<std::unique_ptr<RE2>> re = CompileUserRegex(c.matcher.value);
      if (!re.ok()) return re.status().WithContext("label '" + c.matcher.name + "'");
      c.re = std::move(*re);
    }
    compiled.push_back(std::move(c));
  }
  return LabelSelector(std::move(compiled));
}

bool LabelSelector::Matches(const Labels& labels) const {
  for (const Compiled& c : matchers_) {
    const std::string_view value = ValueOf(labels, c.matcher.name);
    bool ok = false;
    switch (c.matcher.op) {
      case MatchOp::kEqual:
        ok = value == c.matcher.value;
        break;
      case MatchOp::kNotEqual:
        ok = value != c.matcher.value;
        break;
      case MatchOp::kRegex:
        ok = RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *c.re);
        break;
      case MatchOp::kNotRegex:
        ok = !RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *c.re);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

// A series as a query sees it, copied out of the index under the lock.
struct MetricsStore::Candidate {
  int64_t id = 0;
  std::shared_ptr<const Labels> labels;
  bool gauge = false;
};

// Samples and series of one Append, decided under the lock before anything
// is written: memory changes only after the commit.
struct MetricsStore::AppendPlan {
  // New series by key; WriteLocked sets their ids.
  std::vector<std::pair<std::string, SeriesInfo>> fresh;
  struct Row {
    SeriesInfo* existing = nullptr;  // else fresh[fresh_index]
    size_t fresh_index = 0;
    MetricPoint point;
  };
  std::vector<Row> rows;
  std::set<std::string> families;  // of the stored samples
  AppendSummary summary;
};

Result<std::unique_ptr<MetricsStore>> MetricsStore::Open(MetricsStoreOptions options) {
  auto db = SqliteDb::Open(options.path);
  if (!db.ok()) {
    return Status::FailedPrecondition("cannot open metrics store " + options.path + ": " +
                                      db.status().message());
  }
  HIVE_RETURN_IF_ERROR((*db)->Migrate(kMigrations));
  std::unique_ptr<MetricsStore> store(new MetricsStore(std::move(options), std::move(*db)));
  std::lock_guard lock(store->mu_);
  HIVE_RETURN_IF_ERROR(store->LoadLocked());
  return store;
}

Status MetricsStore::LoadLocked() {
  auto families = db_->Prepare("SELECT name, type, help FROM families");
  if (!families.ok()) return families.status();
  while (true) {
    Result<bool> row = families->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    MetricFamily f;
    f.name = families->ColumnText(0);
    f.type = ParseMetricType(families->ColumnText(1)).value_or(MetricType::kUntyped);
    f.help = families->ColumnText(2);
    families_[f.name] = std::move(f);
  }
  auto series = db_->Prepare(
      "SELECT s.id, s.key, s.family, l.ts_ms, l.value FROM series s LEFT JOIN "
      "(SELECT series_id, MAX(ts_ms) AS ts_ms, value FROM samples GROUP BY series_id) l "
      "ON l.series_id = s.id");
  if (!series.ok()) return series.status();
  while (true) {
    Result<bool> row = series->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    SeriesInfo info;
    info.id = series->ColumnInt(0);
    std::string key = series->ColumnText(1);
    auto parsed = ParseSeriesKey(key);
    if (!parsed.ok()) return parsed.status();
    info.name = std::move(parsed->first);
    info.service = std::string(ValueOf(parsed->second, "service"));
    info.labels = std::make_shared<const Labels>(std::move(parsed->second));
    info.family = series->ColumnText(2);
    if (!series->ColumnIsNull(3)) {
      info.has_sample = true;
      info.last_ts_ms = series->ColumnInt(3);
      info.last_value = series->ColumnDouble(4);
    }
    ++series_per_service_[info.service];
    series_[key] = std::move(info);
  }
  return Status::Ok();
}

Result<AppendSummary> MetricsStore::Append(std::string_view service, std::string_view instance,
                                           const ParsedExposition& exposition) {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  if (!instance.empty()) HIVE_RETURN_IF_ERROR(ValidateName(instance, "instance"));
  TimePoint now = options_.clock->Now();
  int64_t now_ms = ToUnixNanos(now) / 1'000'000;

  std::lock_guard lock(mu_);
  // Before the plan, so that series which left the retention make room.
  if (now - last_prune_ >= kPruneEvery) {
    last_prune_ = now;
    PruneLocked(now);
  }
  AppendPlan plan = PlanLocked(service, instance, exposition, now_ms);
  HIVE_RETURN_IF_ERROR(WriteLocked(plan, exposition));
  ApplyLocked(plan, exposition);
  plan.summary.refusal = RefusalStatus(plan.summary, service, options_.limits);
  return plan.summary;
}

MetricsStore::AppendPlan MetricsStore::PlanLocked(std::string_view service,
                                                  std::string_view instance,
                                                  const ParsedExposition& exposition,
                                                  int64_t now_ms) {
  AppendPlan plan;
  std::unordered_map<std::string, size_t> fresh_index;
  std::unordered_set<std::string> refused;
  for (const ParsedSample& sample : exposition.samples) {
    Labels labels = WithOrigin(sample.labels, service, instance);
    std::string key = SeriesKey(sample.name, labels);
    AppendPlan::Row row;
    row.point = {sample.timestamp_ms.value_or(now_ms), sample.value};
    if (auto it = series_.find(key); it != series_.end()) {
      row.existing = &it->second;
    } else if (auto f = fresh_index.find(key); f != fresh_index.end()) {
      row.fresh_index = f->second;
    } else if (refused.contains(key)) {
      continue;
    } else if (std::optional<SeriesRefusal> why =
                   RefusalLocked(service, sample.name, labels, plan.fresh.size())) {
      ++plan.summary.refused[static_cast<size_t>(*why)];
      refused.insert(std::move(key));
      continue;
    } else {
      SeriesInfo fresh;
      fresh.name = sample.name;
      fresh.family = sample.family;
      fresh.service = std::string(service);
      fresh.labels = std::make_shared<const Labels>(std::move(labels));
      row.fresh_index = fresh_index[key] = plan.fresh.size();
      plan.fresh.emplace_back(std::move(key), std::move(fresh));
    }
    plan.families.insert(sample.family);
    plan.rows.push_back(row);
  }
  plan.summary.stored = plan.rows.size();
  return plan;
}

std::optional<SeriesRefusal> MetricsStore::RefusalLocked(std::string_view service,
                                                         std::string_view name,
                                                         const Labels& labels,
                                                         size_t new_in_batch) const {
  const MetricSeriesLimits& limits = options_.limits;
  if (labels.size() > limits.max_labels) return SeriesRefusal::kTooManyLabels;
  if (name.size() > kMaxLabelNameBytes) return SeriesRefusal::kNameTooLong;
  for (const auto& [n, v] : labels) {
    if (n.size() > kMaxLabelNameBytes) return SeriesRefusal::kNameTooLong;
    if (v.size() > limits.max_label_value_bytes) return SeriesRefusal::kValueTooLong;
  }
  // Every new series of one Append belongs to `service`.
  auto count = series_per_service_.find(std::string(service));
  const size_t of_service = count == series_per_service_.end() ? 0 : count->second;
  if (of_service + new_in_batch >= limits.max_series_per_service) {
    return SeriesRefusal::kServiceLimit;
  }
  if (series_.size() + new_in_batch >= limits.max_series) return SeriesRefusal::kStoreLimit;
  return std::nullopt;
}

Status MetricsStore::WriteLocked(AppendPlan& plan, const ParsedExposition& exposition) {
  Transaction tx(*db_);
  if (!tx.begin_status().ok()) return Status::Unavailable(tx.begin_status().message());
  auto put_family =
      db_->Prepare("INSERT OR REPLACE INTO families (name, type, help) VALUES (?, ?, ?)");
  auto put_series = db_->Prepare("INSERT INTO series (key, family) VALUES (?, ?)");
  auto put_sample =
      db_->Prepare("INSERT OR REPLACE INTO samples (series_id, ts_ms, value) VALUES (?, ?, ?)");
  if (!put_family.ok() || !put_series.ok() || !put_sample.ok()) {
    return Status::Unavailable("cannot prepare the metrics store's statements");
  }
  for (const std::string& name : plan.families) {
    auto family = exposition.families.find(name);
    if (family == exposition.families.end()) continue;
    if (Unannotated(family->second) && families_.contains(name)) continue;
    put_family->Reset();
    put_family->Bind(1, name)
        .Bind(2, MetricTypeName(family->second.type))
        .Bind(3, family->second.help);
    if (Status s = put_family->Run(); !s.ok()) return Status::Unavailable(s.message());
  }
  for (auto& [key, info] : plan.fresh) {
    put_series->Reset();
    put_series->Bind(1, key).Bind(2, info.family);
    if (Status s = put_series->Run(); !s.ok()) return Status::Unavailable(s.message());
    info.id = db_->LastInsertRowId();
  }
  for (const AppendPlan::Row& row : plan.rows) {
    const int64_t id = row.existing ? row.existing->id : plan.fresh[row.fresh_index].second.id;
    put_sample->Reset();
    put_sample->Bind(1, id).Bind(2, row.point.ts_ms).Bind(3, row.point.value);
    if (Status s = put_sample->Run(); !s.ok()) return Status::Unavailable(s.message());
  }
  if (Status s = tx.Commit(); !s.ok()) return Status::Unavailable(s.message());
  return Status::Ok();
}

void MetricsStore::ApplyLocked(AppendPlan& plan, const ParsedExposition& exposition) {
  for (const std::string& name : plan.families) {
    auto family = exposition.families.find(name);
    if (family == exposition.families.end()) continue;
    if (!Unannotated(family->second) || !families_.contains(name)) families_[name] = family->second;
  }
  // Pointers into an unordered_map stay valid as it grows.
  std::vector<SeriesInfo*> fresh;
  fresh.reserve(plan.fresh.size());
  for (auto& [key, info] : plan.fresh) {
    ++series_per_service_[info.service];
    fresh.push_back(&series_.emplace(std::move(key), std::move(info)).first->second);
  }
  for (const AppendPlan::Row& row : plan.rows) {
    SeriesInfo* info = row.existing ? row.existing : fresh[row.fresh_index];
    if (!info->has_sample || row.point.ts_ms >= info->last_ts_ms) {
      info->has_sample = true;
      info->last_ts_ms = row.point.ts_ms;
      info->last_value = row.point.value;
    }
  }
}

void MetricsStore::PruneLocked(TimePoint now) {
  const int64_t cutoff_ms = ToUnixNanos(now - options_.retention) / 1'000'000;
  // A failed prune is retried a minute later; the scrape itself is stored.
  auto del = db_->Prepare("DELETE FROM samples WHERE ts_ms < ?");
  if (!del.ok()) return;
  del->Bind(1, cutoff_ms);
  if (!del->Run().ok()) return;
  // A series without a sample in the retention leaves the index, so that
  // the caps count the series that are alive.
  std::vector<std::unordered_map<std::string, SeriesInfo>::iterator> gone;
  std::set<std::string> live_families;
  for (auto it = series_.begin(); it != series_.end(); ++it) {
    if (!it->second.has_sample || it->second.last_ts_ms < cutoff_ms) {
      gone.push_back(it);
    } else {
      live_families.insert(it->second.family);
    }
  }
  std::vector<std::string> dead_families;
  for (const auto& [name, family] : families_) {
    if (!live_families.contains(name)) dead_families.push_back(name);
  }
  if (gone.empty() && dead_families.empty()) return;
  Transaction tx(*db_);
  auto del_series = db_->Prepare("DELETE FROM series WHERE id = ?");
  auto del_family = db_->Prepare("DELETE FROM families WHERE name = ?");
  if (!tx.begin_status().ok() || !del_series.ok() || !del_family.ok()) return;
  for (const auto& it : gone) {
    del_series->Reset();
    del_series->Bind(1, it->second.id);
    if (!del_series->Run().ok()) return;
  }
  for (const std::string& name : dead_families) {
    del_family->Reset();
    del_family->Bind(1, name);
    if (!del_family->Run().ok()) return;
  }
  if (!tx.Commit().ok()) return;
  for (const auto& it : gone) {
    if (--series_per_service_[it->second.service] == 0) {
      series_per_service_.erase(it->second.service);
    }
    series_.erase(it);
  }
  for (const std::string& name : dead_families) families_.erase(name);
}

std::vector<MetricsStore::Candidate> MetricsStore::CandidatesOf(const std::string& name) const {
  std::lock_guard lock(mu_);
  std::vector<Candidate> out;
  for (const auto& [key, info] : series_) {
    if (info.name != name) continue;
    auto f = families_.find(info.family);
    out.push_back(
        {info.id, info.labels, f != families_.end() && f->second.type == MetricType::kGauge});
  }
  return out;
}

Result<std::vector<QueriedSeries>> MetricsStore::Query(const MetricsQuery& q) {
  if (!IsValidMetricName(q.name)) {
    return Status::InvalidArgument("'name' must be a metric name, got '" + q.name.substr(0, 60) +
                                   "'");
  }
  if (q.step_ms <= 0) return Status::InvalidArgument("'step' must be positive");
  if (q.end_ms < q.start_ms) return Status::InvalidArgument("'start' must not be after 'end'");
  if ((q.end_ms - q.start_ms) / q.step_ms + 1 > kMaxQueryPoints) {
    return Status::InvalidArgument("too many points: at most " + std::to_string(kMaxQueryPoints) +
                                   " per series; use a larger step");
  }
  if (q.rate && q.range_ms <= 0) return Status::InvalidArgument("'range' must be positive");
  Result<LabelSelector> selector = LabelSelector::Compile(q.matchers);
  if (!selector.ok()) return selector.status();

  // Matching runs on a snapshot, without the store's lock: copying out the
  // candidates (ids, shared labels) is cheap and bounded by the series caps,
  // while matching is the one step whose cost a reader's pattern sets. With
  // the lock held it would stop ingest and Export for as long; a per-series
  // lock would buy nothing more, since series never change their labels.
  const std::vector<Candidate> candidates = CandidatesOf(q.name);
  const TimePoint deadline = options_.clock->Now() + options_.match_timeout;
  std::vector<Candidate> selected;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (options_.clock->Now() > deadline) {
      return Status::InvalidArgument(
          "matching the labels took over " + FormatDuration(options_.match_timeout) + " (" +
          std::to_string(i) + " of " + std::to_string(candidates.size()) +
          " series); narrow the query with an equality matcher such as service=\"...\"");
    }
    if (!selector->Matches(*candidates[i].labels)) continue;
    if (q.rate && candidates[i].gauge) {
      return Status::InvalidArgument("rate applies to counters; '" + q.name + "' is a gauge");
    }
    selected.push_back(candidates[i]);
  }
  if (selected.size() > kMaxQuerySeries) {
    return Status::InvalidArgument("the query selects " + std::to_string(selected.size()) +
                                   " series; at most " + std::to_string(kMaxQuerySeries) +
                                   " (add matchers)");
  }
  std::sort(selected.begin(), selected.end(),
            [](const Candidate& a, const Candidate& b) { return *a.labels < *b.labels; });
  return ReadSeries(q, selected);
}

Result<std::vector<QueriedSeries>> MetricsStore::ReadSeries(
    const MetricsQuery& q, const std::vector<Candidate>& selected) {
  int64_t lookback = q.rate ? q.range_ms : kLookbackMs;
  std::lock_guard lock(mu_);
  auto read = db_->Prepare(
      "SELECT ts_ms, value FROM samples WHERE series_id = ? AND ts_ms > ? AND ts_ms <= ? "
      "ORDER BY ts_ms");
  if (!read.ok()) return read.status();
  std::vector<QueriedSeries> out;
  for (const Candidate& c : selected) {
    read->Reset();
    read->Bind(1, c.id).Bind(2, q.start_ms - lookback).Bind(3, q.end_ms);
    std::vector<MetricPoint> samples;
    while (true) {
      Result<bool> row = read->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      samples.push_back({read->ColumnInt(0), read->ColumnDouble(1)});
    }
    QueriedSeries series{q.name, *c.labels, {}};
    size_t first = 0;  // first sample inside (t - lookback, t]
    size_t last = 0;   // one past the last sample <= t
    for (int64_t t = q.start_ms; t <= q.end_ms; t += q.step_ms) {
      while (last < samples.size() && samples[last].ts_ms <= t) ++last;
      while (first < last && samples[first].ts_ms <= t - lookback) ++first;
      if (first == last) continue;
      if (!q.rate) {
        series.points.push_back({t, samples[last - 1].value});
      } else if (last - first >= 2) {
        series.points.push_back({t, RateOf(samples, first, last - 1)});
      }
    }
    out.push_back(std::move(series));
  }
  return out;
}

std::string MetricsStore::Export() {
  int64_t fresh_after = ToUnixNanos(options_.clock->Now() - options_.staleness) / 1'000'000;
  std::lock_guard lock(mu_);
  std::vector<const SeriesInfo*> fresh;
  for (const auto& [key, info] : series_) {
    if (info.has_sample && info.last_ts_ms >= fresh_after) fresh.push_back(&info);
  }
  std::vector<std::pair<ExportKey, const SeriesInfo*>> ordered;
  ordered.reserve(fresh.size());
  for (const SeriesInfo* info : fresh) {
    ordered.emplace_back(ExportKeyOf(info->family, info->name, *info->labels), info);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  const std::string* current = nullptr;
  for (const auto& [key, info] : ordered) {
    if (current == nullptr || *current != info->family) {
      current = &info->family;
      auto f = families_.find(info->family);
      MetricFamily family = f != families_.end() ? f->second : MetricFamily{info->family};
      family.name = info->family;
      AppendFamilyHeader(out, family);
    }
    AppendSampleLine(out, info->name, *info->labels, info->last_value);
  }
  return out;
}

size_t MetricsStore::series_count() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

}  // namespace hive::collector
