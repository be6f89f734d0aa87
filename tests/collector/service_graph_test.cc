#include "hive/collector/service_graph.h"

#include <gtest/gtest.h>

namespace hive::collector {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

class ServiceGraphTest : public ::testing::Test {
 protected:
  ServiceGraphTest() : graph_(Options()) {}

  GraphOptions Options() {
    GraphOptions o;
    o.clock = &clock_;
    o.pairing_wait = seconds(10);
    return o;
  }

  static Span MakeSpan(std::string trace, std::string id, std::string parent, std::string service,
                       SpanKind kind, double ms, int64_t start_ns, bool error = false,
                       std::string peer = "") {
    Span s;
    s.trace_id = std::move(trace);
    s.span_id = std::move(id);
    s.parent_span_id = std::move(parent);
    s.service = std::move(service);
    s.kind = kind;
    s.duration_ms = ms;
    s.start_ns = start_ns;
    s.error = error;
    if (!peer.empty()) s.attrs.emplace_back("peer.service", std::move(peer));
    return s;
  }

  int64_t NowNs() const { return ToUnixNanos(clock_.Now()); }
  void AdvanceTo(int64_t ns) { clock_.Advance(std::chrono::nanoseconds(ns - NowNs())); }

  // One demo checkout as the demo services log it: gateway server span, its
  // client span to orders, orders' server span, orders' client spans to
  // inventory and payments and their server spans.
  void AddCheckout(const std::string& trace, bool payment_fails = false) {
    int64_t t = NowNs();
    graph_.Add(MakeSpan(trace, "g1", "", "gateway", SpanKind::kServer, 20, t));
    graph_.Add(MakeSpan(trace, "g2", "g1", "gateway", SpanKind::kClient, 15, t, false, "orders"));
    graph_.Add(MakeSpan(trace, "o1", "g2", "orders", SpanKind::kServer, 14, t));
    graph_.Add(MakeSpan(trace, "o2", "o1", "orders", SpanKind::kClient, 4, t, false, "inventory"));
    graph_.Add(MakeSpan(trace, "i1", "o2", "inventory", SpanKind::kServer, 3, t));
    // The child arrives before its parent: pairing works in either order.
    graph_.Add(MakeSpan(trace, "p1", "o3", "payments", SpanKind::kServer, 6, t, payment_fails));
    graph_.Add(
        MakeSpan(trace, "o3", "o1", "orders", SpanKind::kClient, 7, t, payment_fails, "payments"));
  }

  const GraphEdge* FindEdge(const GraphSnapshot& g, std::string_view from, std::string_view to) {
    for (const GraphEdge& e : g.edges) {
      if (e.source == from && e.target == to) return &e;
    }
    return nullptr;
  }
  // Calls on the edge over the window; 0 when there is no such edge.
  uint64_t Calls(Duration window, std::string_view from, std::string_view to) {
    GraphSnapshot g = graph_.Snapshot(window, {});
    const GraphEdge* e = FindEdge(g, from, to);
    return e ? e->traffic.calls : 0;
  }
  // Pointers into a snapshot must not outlive it.
  const GraphEdge* FindEdge(GraphSnapshot&&, std::string_view, std::string_view) = delete;
  const GraphNode* FindNode(GraphSnapshot&&, std::string_view) = delete;
  const GraphNode* FindNode(const GraphSnapshot& g, std::string_view name) {
    for (const GraphNode& n : g.nodes) {
      if (n.service == name) return &n;
    }
    return nullptr;
  }

  FakeClock clock_;
  ServiceGraph graph_;
};

TEST_F(ServiceGraphTest, RatesRightAfterAStartAreOverTheTimeSeen) {
  AddCheckout("t0");
  clock_.Advance(seconds(20));
  for (int i = 1; i < 10; ++i) AddCheckout("t" + std::to_string(i));
  // 10 calls in the 20 s since the first span, not 10 over the 5 minutes.
  GraphSnapshot g = graph_.Snapshot(minutes(5), {});
  const GraphEdge* go = FindEdge(g, "gateway", "orders");
  ASSERT_TRUE(go);
  EXPECT_DOUBLE_EQ(go->traffic.request_rate, 10.0 / 20.0);
  EXPECT_DOUBLE_EQ(FindNode(g, "gateway")->traffic.request_rate, 10.0 / 20.0);
  // Once a full window has passed, the rate is over the window again.
  clock_.Advance(minutes(6));
  for (int i = 10; i < 40; ++i) AddCheckout("t" + std::to_string(i));
  g = graph_.Snapshot(minutes(5), {});
  go = FindEdge(g, "gateway", "orders");
  ASSERT_TRUE(go);
  EXPECT_DOUBLE_EQ(go->traffic.request_rate, 30.0 / 300.0);
}

TEST_F(ServiceGraphTest, PairsDemoSpansIntoEdges) {
  // Seen for longer than the window: rates are over the whole window.
  graph_.Add(MakeSpan("old", "x1", "", "batch", SpanKind::kServer, 5,
                      NowNs() - std::chrono::nanoseconds(minutes(10)).count()));
  for (int i = 0; i < 10; ++i) AddCheckout("t" + std::to_string(i), i == 0);
  GraphSnapshot g = graph_.Snapshot(minutes(5), {});
  ASSERT_EQ(g.edges.size(), 3u);
  const GraphEdge* go = FindEdge(g, "gateway", "orders");
  const GraphEdge* oi = FindEdge(g, "orders", "inventory");
  const GraphEdge* op = FindEdge(g, "orders", "payments");
  ASSERT_TRUE(go && oi && op);
  EXPECT_EQ(go->traffic.calls, 10u);
  EXPECT_EQ(go->traffic.errors, 0u);
  EXPECT_EQ(op->traffic.calls, 10u);
  EXPECT_EQ(op->traffic.errors, 1u);
  EXPECT_DOUBLE_EQ(op->traffic.error_rate, 0.1);
  EXPECT_DOUBLE_EQ(go->traffic.request_rate, 10.0 / 300.0);
  // The edge's latency is what the caller measured (the client span): 15 ms.
  EXPECT_GT(go->traffic.p50_ms, 15 / 1.4);
  EXPECT_LE(go->traffic.p50_ms, 15 * 1.4);
  EXPECT_EQ(graph_.pending_count(), 71u);  // 7 spans per checkout, and "old"
  EXPECT_EQ(go->health, Health::kHealthy);
  EXPECT_EQ(op->health, Health::kDegraded);  // 10 % is not above 10 %

  const GraphNode* gateway = FindNode(g, "gateway");
  ASSERT_NE(gateway, nullptr);
  EXPECT_EQ(gateway->traffic.calls, 10u);  // its server spans
  EXPECT_FALSE(gateway->uninstrumented);
  // Matched client spans make no extra edge when their wait ends.
  clock_.Advance(seconds(11));
  graph_.Flush();
  EXPECT_EQ(graph_.pending_count(), 0u);
  EXPECT_EQ(graph_.Snapshot(minutes(5), {}).edges.size(), 3u);
}

TEST_F(ServiceGraphTest, ClientSpanWithoutChildMakesEdgeToUninstrumentedPeer) {
  int64_t t = NowNs();
  graph_.Add(MakeSpan("t1", "p1", "", "payments", SpanKind::kServer, 50, t));
  graph_.Add(MakeSpan("t1", "p2", "p1", "payments", SpanKind::kClient, 40, t, true, "stripe"));
  EXPECT_EQ(Calls(minutes(5), "payments", "stripe"), 0u) << "the child may still come";
  clock_.Advance(seconds(10));
  GraphSnapshot g = graph_.Snapshot(minutes(5), {});
  const GraphEdge* edge = FindEdge(g, "payments", "stripe");
  ASSERT_NE(edge, nullptr);
  EXPECT_EQ(edge->traffic.calls, 1u);
  EXPECT_EQ(edge->traffic.errors, 1u);
  EXPECT_EQ(edge->health, Health::kFailing);
  const GraphNode* stripe = FindNode(g, "stripe");
  ASSERT_NE(stripe, nullptr);
  EXPECT_TRUE(stripe->uninstrumented);
  EXPECT_EQ(stripe->traffic.calls, 1u);  // from its incoming edge
  EXPECT_FALSE(FindNode(g, "payments")->uninstrumented);
}

TEST_F(ServiceGraphTest, ParentInSameServiceMakesNoEdge) {
  int64_t t = NowNs();
  graph_.Add(MakeSpan("t1", "a", "", "orders", SpanKind::kServer, 5, t));
  graph_.Add(MakeSpan("t1", "b", "a", "orders", SpanKind::kInternal, 1, t));
  clock_.Advance(seconds(30));
  GraphSnapshot g = graph_.Snapshot(minutes(1), {});
  EXPECT_TRUE(g.edges.empty());
  ASSERT_EQ(g.nodes.size(), 1u);
}

TEST_F(ServiceGraphTest, JaegerRuleWithoutClientSpans) {
  // A server span whose parent is another service's server span.
  int64_t t = NowNs();
  graph_.Add(MakeSpan("t1", "a", "", "web", SpanKind::kServer, 5, t));
  graph_.Add(MakeSpan("t1", "b", "a", "api", SpanKind::kServer, 3, t));
  GraphSnapshot g = graph_.Snapshot(minutes(1), {});
  const GraphEdge* e = FindEdge(g, "web", "api");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->traffic.calls, 1u);
}

TEST_F(ServiceGraphTest, WindowsSelectBuckets) {
  AddCheckout("old");
  clock_.Advance(minutes(10));
  AddCheckout("new");
  EXPECT_EQ(Calls(minutes(5), "gateway", "orders"), 1u);
  EXPECT_EQ(Calls(minutes(15), "gateway", "orders"), 2u);
  clock_.Advance(hours(3));
  EXPECT_EQ(Calls(minutes(5), "gateway", "orders"), 0u);
  GraphSnapshot six_hours = graph_.Snapshot(hours(6), {});
  EXPECT_EQ(six_hours.window, hours(6));
  EXPECT_EQ(FindEdge(six_hours, "gateway", "orders")->traffic.calls, 2u);
  GraphSnapshot odd = graph_.Snapshot(minutes(130), {});
  EXPECT_EQ(odd.window, minutes(135)) << "long windows are whole quarter hours";
  clock_.Advance(hours(22));
  EXPECT_TRUE(graph_.Snapshot(hours(24), {}).edges.empty());
  EXPECT_EQ(graph_.edge_count(), 0u) << "buckets past 24 h are dropped";
}

TEST_F(ServiceGraphTest, SpansOlderThanTheLongestWindowCountForNothing) {
  graph_.Add(MakeSpan("t", "a", "", "old", SpanKind::kServer, 1, NowNs() - 25 * 3600e9));
  EXPECT_TRUE(graph_.Snapshot(hours(24), {}).nodes.empty());
}

TEST_F(ServiceGraphTest, ErrorRateThresholdsFollowKialiDefaults) {
  HealthThresholds t;
  auto health = [&](uint64_t calls, uint64_t errors) {
    Traffic traffic;
    traffic.calls = calls;
    traffic.errors = errors;
    traffic.error_rate = calls ? static_cast<double>(errors) / calls : 0;
    return TrafficHealth(traffic, t);
  };
  EXPECT_EQ(health(0, 0), Health::kUnknown);
  EXPECT_EQ(health(10000, 9), Health::kHealthy);
  EXPECT_EQ(health(1000, 1), Health::kDegraded);  // 0.1 %
  EXPECT_EQ(health(10, 1), Health::kDegraded);    // 10 %
  EXPECT_EQ(health(1000, 101), Health::kFailing);
  t.failing_error_rate = 0.05;
  EXPECT_EQ(health(10, 1), Health::kFailing);
}

TEST_F(ServiceGraphTest, RegistryHealthMergesIntoNodes) {
  AddCheckout("t1");
  std::map<std::string, RegistryHealth> registry = {
      {"gateway", {2, 2, 0, 0}},
      {"orders", {2, 1, 0, 1}},
      {"inventory", {1, 0, 0, 1}},
      {"idle", {1, 1, 0, 0}},
  };
  GraphSnapshot g = graph_.Snapshot(minutes(5), registry);
  EXPECT_EQ(FindNode(g, "gateway")->health, Health::kHealthy);
  EXPECT_EQ(FindNode(g, "orders")->health, Health::kDegraded);
  EXPECT_EQ(FindNode(g, "inventory")->health, Health::kFailing);
  const GraphNode* idle = FindNode(g, "idle");
  ASSERT_NE(idle, nullptr) << "registered services without traffic are nodes too";
  EXPECT_EQ(idle->health, Health::kHealthy);
  EXPECT_EQ(idle->traffic.calls, 0u);
  ASSERT_TRUE(idle->registry.has_value());
  EXPECT_EQ(idle->registry->instances, 1);
}

TEST_F(ServiceGraphTest, LatencyPercentilesFollowTheHistogram) {
  int64_t t = NowNs();
  for (int i = 1; i <= 100; ++i) {
    graph_.Add(MakeSpan("t" + std::to_string(i), "s", "", "api", SpanKind::kServer, i, t));
  }
  GraphSnapshot g = graph_.Snapshot(minutes(1), {});
  const GraphNode* api = FindNode(g, "api");
  ASSERT_NE(api, nullptr);
  EXPECT_NEAR(api->traffic.p50_ms, 50, 50 * 0.4);
  EXPECT_NEAR(api->traffic.p95_ms, 95, 95 * 0.4);
  EXPECT_NEAR(api->traffic.p99_ms, 99, 99 * 0.4);
  EXPECT_LE(api->traffic.p50_ms, api->traffic.p95_ms);
  EXPECT_LE(api->traffic.p95_ms, api->traffic.p99_ms);
}

TEST_F(ServiceGraphTest, ServiceTrafficHasEveryMinuteBucketOfTheWindow) {
  // 10:00:30 on some day: the current minute bucket starts at 10:00.
  int64_t day_ns = 20'000 * 86'400 * int64_t{1'000'000'000};
  AdvanceTo(day_ns + 10 * 3'600'000'000'000 + 30'000'000'000);
  int64_t t = NowNs();
  for (int i = 1; i <= 100; ++i) {
    graph_.Add(MakeSpan("a" + std::to_string(i), "s", "", "api", SpanKind::kServer, i, t, i <= 5));
  }
  graph_.Add(MakeSpan("c1", "c", "", "api", SpanKind::kClient, 1, t));  // not its traffic
  graph_.Add(MakeSpan("old", "s", "", "api", SpanKind::kServer, 7, t - 3 * 60'000'000'000));

  TrafficSeries s = graph_.ServiceTraffic("api", hours(1));
  EXPECT_EQ(s.window, hours(1));
  EXPECT_EQ(s.step, minutes(1));
  ASSERT_EQ(s.points.size(), 60u);
  EXPECT_EQ(ToUnixNanos(s.points.back().start), day_ns + 10 * 3'600'000'000'000);
  EXPECT_EQ(s.points.back().start - s.points.front().start, minutes(59));
  const Traffic& now = s.points.back().traffic;
  EXPECT_EQ(now.calls, 100u);
  EXPECT_EQ(now.errors, 5u);
  EXPECT_DOUBLE_EQ(now.request_rate, 100.0 / 60.0);
  EXPECT_DOUBLE_EQ(now.error_rate, 0.05);
  EXPECT_NEAR(now.p50_ms, 50, 50 * 0.4);
  EXPECT_NEAR(now.p99_ms, 99, 99 * 0.4);
  EXPECT_EQ(s.points[56].traffic.calls, 1u) << "the span of 3 minutes ago";
  uint64_t calls = 0;
  for (const TrafficPoint& p : s.points) calls += p.traffic.calls;
  EXPECT_EQ(calls, 101u);
  EXPECT_EQ(s.points[0].traffic.calls, 0u);
  EXPECT_EQ(s.points[0].traffic.request_rate, 0);
  EXPECT_EQ(s.points[0].traffic.p99_ms, 0);

  TrafficSeries unknown = graph_.ServiceTraffic("nobody", minutes(5));
  ASSERT_EQ(unknown.points.size(), 5u);
  for (const TrafficPoint& p : unknown.points) EXPECT_EQ(p.traffic.calls, 0u);
}

TEST_F(ServiceGraphTest, ServiceTrafficBeyondTwoHoursIsInQuarterHours) {
  int64_t day_ns = 20'000 * 86'400 * int64_t{1'000'000'000};
  AdvanceTo(day_ns + 12 * 3'600'000'000'000 + 5 * 60'000'000'000);
  graph_.Add(MakeSpan("t1", "s", "", "api", SpanKind::kServer, 3, NowNs()));
  graph_.Add(MakeSpan("t2", "s", "", "api", SpanKind::kServer, 3, NowNs() - 5 * 3'600'000'000'000));
  TrafficSeries s = graph_.ServiceTraffic("api", minutes(130));
  EXPECT_EQ(s.window, minutes(135));
  EXPECT_EQ(s.step, minutes(15));
  ASSERT_EQ(s.points.size(), 9u);
  EXPECT_EQ(ToUnixNanos(s.points.back().start), day_ns + 12 * 3'600'000'000'000);
  EXPECT_EQ(s.points.back().traffic.calls, 1u);
  EXPECT_DOUBLE_EQ(s.points.back().traffic.request_rate, 1.0 / 900.0);
  TrafficSeries day = graph_.ServiceTraffic("api", hours(24));
  ASSERT_EQ(day.points.size(), 96u);
  EXPECT_EQ(day.points[95 - 20].traffic.calls, 1u) << "5 hours = 20 quarters ago";
}

TEST_F(ServiceGraphTest, ServiceTrafficOfAnUninstrumentedPeerIsItsIncomingEdges) {
  int64_t t = NowNs();
  graph_.Add(MakeSpan("t1", "p1", "", "payments", SpanKind::kServer, 50, t));
  graph_.Add(MakeSpan("t1", "p2", "p1", "payments", SpanKind::kClient, 40, t, true, "stripe"));
  clock_.Advance(seconds(10));
  TrafficSeries s = graph_.ServiceTraffic("stripe", minutes(5));
  uint64_t calls = 0, errors = 0;
  for (const TrafficPoint& p : s.points) {
    calls += p.traffic.calls;
    errors += p.traffic.errors;
  }
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(errors, 1u);
}

TEST_F(ServiceGraphTest, DependenciesAreJaegerShaped) {
  AddCheckout("t1", true);
  clock_.Advance(minutes(3));
  AddCheckout("t2");
  std::vector<DependencyLink> all = graph_.Dependencies(clock_.Now(), hours(1));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].parent, "gateway");
  EXPECT_EQ(all[0].child, "orders");
  EXPECT_EQ(all[0].call_count, 2u);
  EXPECT_EQ(all[2].child, "payments");
  EXPECT_EQ(all[2].error_count, 1u);
  std::vector<DependencyLink> early = graph_.Dependencies(clock_.Now() - minutes(2), hours(1));
  ASSERT_EQ(early.size(), 3u);
  EXPECT_EQ(early[0].call_count, 1u);
}

TEST_F(ServiceGraphTest, PendingTableIsBounded) {
  GraphOptions o = Options();
  o.max_pending = 100;
  ServiceGraph small(o);
  for (int i = 0; i < 1000; ++i) {
    small.Add(
        MakeSpan("t" + std::to_string(i), "c", "", "a", SpanKind::kClient, 1, NowNs(), false, "b"));
  }
  EXPECT_LE(small.pending_count(), 100u);
  clock_.Advance(seconds(11));
  small.Flush();
  EXPECT_EQ(small.pending_count(), 0u);
  std::vector<DependencyLink> links = small.Dependencies(clock_.Now(), minutes(5));
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].call_count, 1000u) << "spans pushed out early still count";
}

}  // namespace
}  // namespace hive::collector
