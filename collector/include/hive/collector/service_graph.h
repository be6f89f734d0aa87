// ServiceGraph: the dependency graph, computed incrementally as spans arrive
// (the way Tempo's service-graph processor does), so that a query costs
// O(edges x buckets), never O(spans).
//
// Edges (PRODUCT.md "Data model"): A->B when a span in B has its parent span
// in A (Jaeger's rule); a client/producer span with attrs "peer.service"
// whose child does not arrive within `pairing_wait` makes an edge to that
// (uninstrumented) service (Zipkin's rule). Spans wait for their partner in a
// bounded table. Each edge and each node (its server/consumer spans) keeps
// calls, errors and a latency histogram per minute (kept 2 h) and per quarter
// hour (kept 24 h); windows up to 2 h are answered from minutes, longer ones
// from quarters (rounded to whole quarters).
//
// Memory: about 180 bytes per edge or node per non-empty bucket, i.e. at
// most ~40 KB per edge that is busy all day, plus the pending table
// (max_pending spans).
//
// Thread-safe: one mutex; Add and the queries may be called from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hive/collector/span.h"
#include "hive/core/clock.h"

namespace hive::collector {

// Instance counts of one service by health, as the registry reports them.
struct RegistryHealth {
  int instances = 0;
  int passing = 0;
  int warning = 0;
  int critical = 0;
};
// Registry health of every registered service, by name. hived fills it from
// the registry; the collector itself does not depend on the registry.
using RegistryHealthSource = std::function<std::map<std::string, RegistryHealth>()>;

// Ordered by severity; kUnknown means no data.
enum class Health { kUnknown = 0, kHealthy, kDegraded, kFailing };
std::string_view HealthName(Health health);

struct HealthThresholds {
  double degraded_error_rate = 0.001;  // error rate >= this: degraded (Kiali: 0.1 %)
  double failing_error_rate = 0.10;    // error rate > this: failing (Kiali: 10 %)
};

struct GraphOptions {
  hive::Clock* clock = &hive::Clock::System();
  Duration pairing_wait = std::chrono::seconds(10);
  size_t max_pending = 200'000;  // spans waiting for their partner
  HealthThresholds thresholds;
};

// Traffic of a node or an edge over a window.
struct Traffic {
  uint64_t calls = 0;
  uint64_t errors = 0;
  double request_rate = 0;  // calls per second over the window
  double error_rate = 0;    // errors / calls; 0 without calls
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
};

struct GraphNode {
  std::string service;
  Traffic traffic;              // its server spans; for an uninstrumented node, its incoming edges
  bool uninstrumented = false;  // known only as the peer.service of client spans
  std::optional<RegistryHealth> registry;
  Health health = Health::kUnknown;
};

struct GraphEdge {
  std::string source;
  std::string target;
  Traffic traffic;
  Health health = Health::kUnknown;
};

struct GraphSnapshot {
  Duration window{};             // as answered (longer windows rounded up to 15 minutes)
  std::vector<GraphNode> nodes;  // by service
  std::vector<GraphEdge> edges;  // by (source, target)
};

// One bucket of a service's traffic: request_rate is calls per second of the
// bucket (the current, partial bucket too).
struct TrafficPoint {
  TimePoint start;
  Traffic traffic;
};

// A service's traffic over a window, bucket by bucket.
struct TrafficSeries {
  Duration window{};                 // as answered (longer windows rounded up to 15 minutes)
  Duration step{};                   // 1 minute for windows up to 2 h, else 15 minutes
  std::vector<TrafficPoint> points;  // every bucket of the window, oldest first
};

// One element of the Jaeger-shaped dependencies answer.
struct DependencyLink {
  std::string parent;
  std::string child;
  uint64_t call_count = 0;
  uint64_t error_count = 0;
};

// Health from an error rate; kUnknown without calls.
Health TrafficHealth(const Traffic& traffic, const HealthThresholds& thresholds);
// Health from registry instance counts: no passing instance is failing, any
// warning or critical one is degraded; kUnknown without instances.
Health RegistryHealthOf(const RegistryHealth& registry);

class ServiceGraph {
 public:
  static constexpr Duration kMinWindow = std::chrono::minutes(1);
  static constexpr Duration kMaxWindow = std::chrono::hours(24);

  explicit ServiceGraph(GraphOptions options);

  // Accounts one span: node traffic at once, edges once its partner arrives
  // or its wait ends. Spans older than kMaxWindow count for nothing.
  void Add(const Span& span);

  // Ends the wait of spans whose pairing_wait has passed (Add and the queries
  // do this too).
  void Flush();

  // The graph of the `window` before now. REQUIRES: kMinWindow <= window <=
  // kMaxWindow. `registry` (may be empty) adds registered services as nodes
  // and merges their health.
  GraphSnapshot Snapshot(Duration window, const std::map<std::string, RegistryHealth>& registry);

  // The traffic of one node over the `window` before now, in the buckets
  // Snapshot sums: its server/consumer spans, or for an uninstrumented node
  // its incoming edges. A service without traffic gets zero points.
  // REQUIRES: kMinWindow <= window <= kMaxWindow.
  TrafficSeries ServiceTraffic(std::string_view service, Duration window);

  // Edges with calls in [end - lookback, end), by (parent, child).
  // REQUIRES: lookback <= kMaxWindow.
  std::vector<DependencyLink> Dependencies(TimePoint end, Duration lookback);

  size_t edge_count() const;
  size_t node_count() const;
  size_t pending_count() const;

 private:
  static constexpr int kLatencyBuckets = 40;
  struct Stats {
    uint64_t calls = 0;
    uint64_t errors = 0;
    std::array<uint32_t, kLatencyBuckets> latency{};
    void Add(double ms, bool failed);
    void Merge(const Stats& other);
    double Quantile(double q) const;
  };
  struct Series {
    std::map<int64_t, Stats> minutes;   // by minute index since the epoch
    std::map<int64_t, Stats> quarters;  // by quarter-hour index since the epoch
    void Add(int64_t start_ns, double ms, bool failed);
    // Drops buckets older than their tier keeps; true when nothing is left.
    bool Prune(int64_t now_ns);
    // Merged stats of [from_ns, to_ns).
    Stats Sum(int64_t from_ns, int64_t to_ns, bool use_quarters) const;
  };
  struct Pending {
    std::string service;
    std::string peer_service;
    SpanKind kind = SpanKind::kInternal;
    int64_t start_ns = 0;
    double duration_ms = 0;
    bool failed = false;
    bool matched = false;
    int64_t expires_ns = 0;
  };
  struct Expiry {
    int64_t expires_ns;
    std::string key;
    bool orphan;  // key is in orphans_ (children waiting for a parent)
  };

  void FlushLocked(int64_t now_ns);
  void PairLocked(Pending& parent, const Pending& child);
  void AddEdgeLocked(const std::string& from, const std::string& to, int64_t start_ns, double ms,
                     bool failed);
  Traffic ToTraffic(const Stats& s, Duration window) const;

  GraphOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Series> nodes_;                          // GUARDED_BY(mu_)
  std::map<std::pair<std::string, std::string>, Series> edges_;  // GUARDED_BY(mu_)
  std::set<std::string> peer_targets_;  // targets of peer.service edges; GUARDED_BY(mu_)
  std::unordered_map<std::string, Pending> spans_;                 // GUARDED_BY(mu_)
  std::unordered_map<std::string, std::vector<Pending>> orphans_;  // GUARDED_BY(mu_)
  std::deque<Expiry> expiry_;                                      // GUARDED_BY(mu_)
  size_t pending_ = 0;                                             // GUARDED_BY(mu_)
  // Start of the oldest span accounted (INT64_MAX: none yet); GUARDED_BY(mu_)
  int64_t first_start_ns_ = std::numeric_limits<int64_t>::max();
};

}  // namespace hive::collector
