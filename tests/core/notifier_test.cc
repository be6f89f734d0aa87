#include "hive/core/notifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace hive {
namespace {

TEST(NotifierTest, NotifyRunsEveryListenerUntilItsSubscriptionEnds) {
  Notifier n;
  std::vector<int> calls;
  Subscription a = n.Subscribe([&] { calls.push_back(1); });
  Subscription b = n.Subscribe([&] { calls.push_back(2); });
  EXPECT_EQ(n.listeners(), 2u);
  n.Notify();
  EXPECT_EQ(calls, (std::vector<int>{1, 2}));
  a.Reset();
  EXPECT_FALSE(a.active());
  n.Notify();
  EXPECT_EQ(calls, (std::vector<int>{1, 2, 2}));
  {
    Subscription moved = std::move(b);
    EXPECT_EQ(n.listeners(), 1u);
  }
  EXPECT_EQ(n.listeners(), 0u);
}

TEST(NotifierTest, ASubscriptionMayOutliveItsNotifier) {
  Subscription s;
  {
    Notifier n;
    s = n.Subscribe([] {});
  }
  s.Reset();  // does nothing, and does not crash
  EXPECT_FALSE(s.active());
}

TEST(NotifierTest, AllEndsEveryPart) {
  Notifier a, b;
  int calls = 0;
  std::vector<Subscription> parts;
  parts.push_back(a.Subscribe([&] { ++calls; }));
  parts.push_back(b.Subscribe([&] { ++calls; }));
  Subscription all = Subscription::All(std::move(parts));
  a.Notify();
  b.Notify();
  EXPECT_EQ(calls, 2);
  all.Reset();
  EXPECT_EQ(a.listeners() + b.listeners(), 0u);
}

// Once Reset() returns, the listener is not running and never runs again,
// even while another thread notifies.
TEST(NotifierTest, ResetWaitsForARunningListener) {
  Notifier n;
  std::atomic<bool> stop{false};
  std::thread notifier([&] {
    while (!stop) n.Notify();
  });
  for (int i = 0; i < 1000; ++i) {
    auto alive = std::make_shared<std::atomic<bool>>(true);
    std::atomic<int> after_reset{0};
    Subscription s = n.Subscribe([alive, &after_reset] {
      if (!*alive) ++after_reset;
    });
    s.Reset();
    *alive = false;
    EXPECT_EQ(after_reset.load(), 0);
  }
  stop = true;
  notifier.join();
}

}  // namespace
}  // namespace hive
