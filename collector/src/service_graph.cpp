#include "hive/collector/service_graph.h"

#include <algorithm>
#include <cmath>

namespace hive::collector {
namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;
constexpr int64_t kQuarterNs = 15 * kMinuteNs;
constexpr int64_t kMinutesKeptNs = 121 * kMinuteNs;
constexpr int64_t kQuartersKeptNs = 24 * 60 * kMinuteNs + kQuarterNs;
constexpr Duration kMinuteTierLimit = std::chrono::hours(2);
// Latency bucket i holds (kFirstBoundMs * kGrowth^(i-1), kFirstBoundMs * kGrowth^i];
// the last one everything above: 0.1 ms .. ~36 s in steps of 40 %.
constexpr double kFirstBoundMs = 0.1;
constexpr double kGrowth = 1.4;

double UpperBound(int i) { return kFirstBoundMs * std::pow(kGrowth, i); }

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string Key(const std::string& trace_id, const std::string& span_id) {
  std::string key;
  key.reserve(trace_id.size() + span_id.size() + 1);
  key += trace_id;
  key += '\n';
  key += span_id;
  return key;
}

bool IsCaller(SpanKind kind) { return kind == SpanKind::kClient || kind == SpanKind::kProducer; }

// The buckets a window before now covers: `count` buckets of `resolution`
// ending with the current (partial) one, [from_ns, to_ns).
struct WindowBuckets {
  bool use_quarters = false;
  int64_t resolution = 0;
  int64_t count = 0;
  int64_t from_ns = 0;
  int64_t to_ns = 0;
  Duration answered{};  // the window as answered
};

WindowBuckets BucketsOf(Duration window, int64_t now_ns) {
  WindowBuckets b;
  b.use_quarters = window > kMinuteTierLimit;
  b.resolution = b.use_quarters ? kQuarterNs : kMinuteNs;
  int64_t window_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(window).count();
  b.count = (window_ns + b.resolution - 1) / b.resolution;
  b.to_ns = (FloorDiv(now_ns, b.resolution) + 1) * b.resolution;
  b.from_ns = b.to_ns - b.count * b.resolution;
  b.answered = b.use_quarters ? std::chrono::nanoseconds(b.count * b.resolution) : window;
  return b;
}

}  // namespace

std::string_view HealthName(Health health) {
  switch (health) {
    case Health::kUnknown:
      return "unknown";
    case Health::kHealthy:
      return "healthy";
    case Health::kDegraded:
      return "degraded";
    case Health::kFailing:
      return "failing";
  }
  return "unknown";
}

Health TrafficHealth(const Traffic& traffic, const HealthThresholds& thresholds) {
  if (traffic.calls == 0) return Health::kUnknown;
  if (traffic.error_rate > thresholds.failing_error_rate) return Health::kFailing;
  if (traffic.error_rate >= thresholds.degraded_error_rate) return Health::kDegraded;
  return Health::kHealthy;
}

Health RegistryHealthOf(const RegistryHealth& registry) {
  if (registry.instances <= 0) return Health::kUnknown;
  if (registry.passing <= 0) return Health::kFailing;
  if (registry.warning > 0 || registry.critical > 0) return Health::kDegraded;
  return Health::kHealthy;
}

void ServiceGraph::Stats::Add(double ms, bool failed) {
  ++calls;
  if (failed) ++errors;
  int i = 0;
  if (ms > kFirstBoundMs) {
    i = static_cast<int>(std::ceil(std::log(ms / kFirstBoundMs) / std::log(kGrowth)));
    i = std::clamp(i, 0, kLatencyBuckets - 1);
  }
  ++latency[i];
}

void ServiceGraph::Stats::Merge(const Stats& other) {
  calls += other.calls;
  errors += other.errors;
  for (int i = 0; i < kLatencyBuckets; ++i) latency[i] += other.latency[i];
}

double ServiceGraph::Stats::Quantile(double q) const {
  uint64_t total = 0;
  for (uint32_t c : latency) total += c;
  if (total == 0) return 0;
  double target = q * static_cast<double>(total);
  double cumulative = 0;
  for (int i = 0; i < kLatencyBuckets; ++i) {
    if (latency[i] == 0) continue;
    double count = latency[i];
    if (cumulative + count >= target) {
      double lower = i == 0 ? 0 : UpperBound(i - 1);
      double upper = UpperBound(i);
      return lower + (upper - lower) * std::clamp((target - cumulative) / count, 0.0, 1.0);
    }
    cumulative += count;
  }
  return UpperBound(kLatencyBuckets - 1);
}

void ServiceGraph::Series::Add(int64_t start_ns, double ms, bool failed) {
  minutes[FloorDiv(start_ns, kMinuteNs)].Add(ms, failed);
  quarters[FloorDiv(start_ns, kQuarterNs)].Add(ms, failed);
}

bool ServiceGraph::Series::Prune(int64_t now_ns) {
  auto drop_before = [](std::map<int64_t, Stats>& tier, int64_t resolution, int64_t cutoff_ns) {
    while (!tier.empty() && tier.begin()->first * resolution < cutoff_ns) tier.erase(tier.begin());
  };
  drop_before(minutes, kMinuteNs, now_ns - kMinutesKeptNs);
  drop_before(quarters, kQuarterNs, now_ns - kQuartersKeptNs);
  return minutes.empty() && quarters.empty();
}

ServiceGraph::Stats ServiceGraph::Series::Sum(int64_t from_ns, int64_t to_ns,
                                              bool use_quarters) const {
  const std::map<int64_t, Stats>& tier = use_quarters ? quarters : minutes;
  int64_t resolution = use_quarters ? kQuarterNs : kMinuteNs;
  Stats sum;
  for (auto it = tier.lower_bound(FloorDiv(from_ns + resolution - 1, resolution));
       it != tier.end() && it->first * resolution < to_ns; ++it) {
    sum.Merge(it->second);
  }
  return sum;
}

ServiceGraph::ServiceGraph(GraphOptions options) : options_(std::move(options)) {}

void ServiceGraph::Add(const Span& span) {
  int64_t now_ns = ToUnixNanos(options_.clock->Now());
  std::lock_guard lock(mu_);
  FlushLocked(now_ns);
  if (span.start_ns < now_ns - ToUnixNanos(TimePoint{} + kMaxWindow)) return;
  std::string key = Key(span.trace_id, span.span_id);
  if (spans_.contains(key)) return;
  first_start_ns_ = std::min(first_start_ns_, span.start_ns);

  Pending p;
  p.service = span.service;
  p.peer_service = std::string(span.StringAttr("peer.service"));
  p.kind = span.kind;
  p.start_ns = span.start_ns;
  p.duration_ms = span.duration_ms;
  p.failed = span.Failed();
  p.expires_ns =
      now_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(options_.pairing_wait).count();
  if (span.kind == SpanKind::kServer || span.kind == SpanKind::kConsumer) {
    nodes_[span.service].Add(span.start_ns, span.duration_ms, p.failed);
  }
  if (!span.parent_span_id.empty()) {
    std::string parent_key = Key(span.trace_id, span.parent_span_id);
    if (auto it = spans_.find(parent_key); it != spans_.end()) {
      PairLocked(it->second, p);
    } else {
      orphans_[parent_key].push_back(p);
      expiry_.push_back({p.expires_ns, std::move(parent_key), true});
      ++pending_;
    }
  }
  if (auto it = orphans_.find(key); it != orphans_.end()) {
    for (const Pending& child : it->second) PairLocked(p, child);
    pending_ -= it->second.size();
    orphans_.erase(it);
  }
  spans_.emplace(key, p);
  expiry_.push_back({p.expires_ns, std::move(key), false});
  ++pending_;
  FlushLocked(now_ns);
}

void ServiceGraph::Flush() {
  int64_t now_ns = ToUnixNanos(options_.clock->Now());
  std::lock_guard lock(mu_);
  FlushLocked(now_ns);
}

void ServiceGraph::FlushLocked(int64_t now_ns) {
  while (!expiry_.empty() &&
         (expiry_.front().expires_ns <= now_ns || pending_ > options_.max_pending)) {
    Expiry e = std::move(expiry_.front());
    expiry_.pop_front();
    if (e.orphan) {
      auto it = orphans_.find(e.key);
      if (it == orphans_.end()) continue;
      // Children whose parent never came make no edge: the caller is unknown.
      auto& children = it->second;
      size_t before = children.size();
      std::erase_if(children, [&](const Pending& c) { return c.expires_ns <= e.expires_ns; });
      pending_ -= before - children.size();
      if (children.empty()) orphans_.erase(it);
      continue;
    }
    auto it = spans_.find(e.key);
    if (it == spans_.end() || it->second.expires_ns != e.expires_ns) continue;
    const Pending& p = it->second;
    if (!p.matched && IsCaller(p.kind) && !p.peer_service.empty() && p.peer_service != p.service) {
      AddEdgeLocked(p.service, p.peer_service, p.start_ns, p.duration_ms, p.failed);
      peer_targets_.insert(p.peer_service);
    }
    spans_.erase(it);
    --pending_;
  }
}

void ServiceGraph::PairLocked(Pending& parent, const Pending& child) {
  parent.matched = true;
  if (parent.service == child.service) return;
  bool caller = IsCaller(parent.kind);
  double ms = caller ? parent.duration_ms : child.duration_ms;
  bool failed = child.failed || (caller && parent.failed);
  AddEdgeLocked(parent.service, child.service, child.start_ns, ms, failed);
}

void ServiceGraph::AddEdgeLocked(const std::string& from, const std::string& to, int64_t start_ns,
                                 double ms, bool failed) {
  edges_[{from, to}].Add(start_ns, ms, failed);
}

Traffic ServiceGraph::ToTraffic(const Stats& s, Duration window) const {
  Traffic t;
  t.calls = s.calls;
  t.errors = s.errors;
  double seconds = std::chrono::duration<double>(window).count();
  t.request_rate = seconds > 0 ? static_cast<double>(s.calls) / seconds : 0;
  t.error_rate = s.calls > 0 ? static_cast<double>(s.errors) / static_cast<double>(s.calls) : 0;
  t.p50_ms = s.Quantile(0.50);
  t.p95_ms = s.Quantile(0.95);
  t.p99_ms = s.Quantile(0.99);
  return t;
}

GraphSnapshot ServiceGraph::Snapshot(Duration window,
                                     const std::map<std::string, RegistryHealth>& registry) {
  int64_t now_ns = ToUnixNanos(options_.clock->Now());
  const WindowBuckets b = BucketsOf(window, now_ns);
  const bool use_quarters = b.use_quarters;
  const int64_t from_ns = b.from_ns;
  const int64_t to_ns = b.to_ns;

  GraphSnapshot snap;
  snap.window = b.answered;
  std::lock_guard lock(mu_);
  FlushLocked(now_ns);
  // Rates are over the window, or over the time since the first span seen
  // when that is shorter (just after a start), so they do not read low.
  Duration rate_window = snap.window;
  if (first_start_ns_ < to_ns) {
    rate_window = std::min(rate_window,
                           std::max<Duration>(std::chrono::seconds(1),
                                              std::chrono::nanoseconds(now_ns - first_start_ns_)));
  }
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    it = it->second.Prune(now_ns) ? nodes_.erase(it) : std::next(it);
  }
  for (auto it = edges_.begin(); it != edges_.end();) {
    it = it->second.Prune(now_ns) ? edges_.erase(it) : std::next(it);
  }

  std::map<std::string, Stats> node_stats;
  std::map<std::string, Stats> incoming;
  std::set<std::string> sources;
  for (const auto& [name, series] : nodes_) {
    Stats s = series.Sum(from_ns, to_ns, use_quarters);
    if (s.calls > 0) node_stats[name] = s;
  }
  for (const auto& [ends, series] : edges_) {
    Stats s = series.Sum(from_ns, to_ns, use_quarters);
    if (s.calls == 0) continue;
    GraphEdge edge;
    edge.source = ends.first;
    edge.target = ends.second;
    edge.traffic = ToTraffic(s, rate_window);
    edge.health = TrafficHealth(edge.traffic, options_.thresholds);
    snap.edges.push_back(std::move(edge));
    incoming[ends.second].Merge(s);
    sources.insert(ends.first);
  }

  std::set<std::string> names;
  for (const auto& [name, s] : node_stats) names.insert(name);
  for (const GraphEdge& e : snap.edges) {
    names.insert(e.source);
    names.insert(e.target);
  }
  for (const auto& [name, r] : registry) names.insert(name);
  for (const std::string& name : names) {
    GraphNode node;
    node.service = name;
    auto own = node_stats.find(name);
    auto reg = registry.find(name);
    if (reg != registry.end()) node.registry = reg->second;
    node.uninstrumented = own == node_stats.end() && !nodes_.contains(name) &&
                          !sources.contains(name) && peer_targets_.contains(name) && !node.registry;
    if (own != node_stats.end()) {
      node.traffic = ToTraffic(own->second, rate_window);
    } else if (node.uninstrumented) {
      node.traffic = ToTraffic(incoming[name], rate_window);
    }
    node.health = TrafficHealth(node.traffic, options_.thresholds);
    if (node.registry) node.health = std::max(node.health, RegistryHealthOf(*node.registry));
    snap.nodes.push_back(std::move(node));
  }
  return snap;
}

TrafficSeries ServiceGraph::ServiceTraffic(std::string_view service, Duration window) {
  int64_t now_ns = ToUnixNanos(options_.clock->Now());
  WindowBuckets b = BucketsOf(window, now_ns);
  int64_t first = FloorDiv(b.from_ns, b.resolution);
  std::vector<Stats> buckets(static_cast<size_t>(b.count));
  auto add = [&](const Series& series) {
    const std::map<int64_t, Stats>& tier = b.use_quarters ? series.quarters : series.minutes;
    for (auto it = tier.lower_bound(first); it != tier.end() && it->first < first + b.count; ++it) {
      buckets[static_cast<size_t>(it->first - first)].Merge(it->second);
    }
  };
  std::string name(service);
  {
    std::lock_guard lock(mu_);
    FlushLocked(now_ns);
    if (auto node = nodes_.find(name); node != nodes_.end()) {
      add(node->second);
    } else if (peer_targets_.contains(name) &&
               std::none_of(edges_.begin(), edges_.end(),
                            [&](const auto& edge) { return edge.first.first == name; })) {
      // Known only as a peer.service: its traffic is what its callers saw.
      for (const auto& [ends, series] : edges_) {
        if (ends.second == name) add(series);
      }
    }
  }
  TrafficSeries out;
  out.window = b.answered;
  out.step = std::chrono::nanoseconds(b.resolution);
  out.points.reserve(buckets.size());
  for (size_t i = 0; i < buckets.size(); ++i) {
    int64_t start_ns = b.from_ns + static_cast<int64_t>(i) * b.resolution;
    out.points.push_back({FromUnixNanos(start_ns), ToTraffic(buckets[i], out.step)});
  }
  return out;
}

std::vector<DependencyLink> ServiceGraph::Dependencies(TimePoint end, Duration lookback) {
  int64_t now_ns = ToUnixNanos(options_.clock->Now());
  int64_t end_ns = ToUnixNanos(end);
  int64_t from_ns = end_ns - std::chrono::duration_cast<std::chrono::nanoseconds>(lookback).count();
  bool use_quarters = lookback > kMinuteTierLimit;
  std::vector<DependencyLink> links;
  std::lock_guard lock(mu_);
  FlushLocked(now_ns);
  for (const auto& [ends, series] : edges_) {
    Stats s = series.Sum(from_ns, end_ns, use_quarters);
    if (s.calls == 0) continue;
    links.push_back({ends.first, ends.second, s.calls, s.errors});
  }
  return links;
}

size_t ServiceGraph::edge_count() const {
  std::lock_guard lock(mu_);
  return edges_.size();
}

size_t ServiceGraph::node_count() const {
  std::lock_guard lock(mu_);
  return nodes_.size();
}

size_t ServiceGraph::pending_count() const {
  std::lock_guard lock(mu_);
  return pending_;
}

}  // namespace hive::collector
