// Retry pacing shared by the agent's loops (internal): exponential backoff
// with jitter, and a throttle so a failure repeated every 200 ms is logged
// once every few seconds. Not thread-safe: one per loop.
#pragma once

#include <chrono>
#include <random>

#include "hive/core/clock.h"

namespace hive::agent {

class Backoff {
 public:
  Backoff(Duration initial, Duration max) : initial_(initial), max_(max), next_(initial) {}

  // The wait before the next attempt: the current step with "equal jitter"
  // (half fixed, half random, so retries of many agents spread out); each
  // call doubles the step up to the maximum.
  Duration Next() {
    const Duration step = next_;
    next_ = std::min(max_, next_ * 2);
    const auto half = step.count() / 2;
    std::uniform_int_distribution<Duration::rep> dist(0, half > 0 ? half : 0);
    return Duration(half + dist(rng_));
  }
  void Reset() { next_ = initial_; }

 private:
  Duration initial_;
  Duration max_;
  Duration next_;
  std::mt19937_64 rng_{std::random_device{}()};
};

class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::steady_clock::duration every = std::chrono::seconds(5))
      : every_(every) {}

  // True when a line may be written now; otherwise counts the suppression.
  bool Allow() {
    const auto now = std::chrono::steady_clock::now();
    if (logged_once_ && now - last_ < every_) {
      ++suppressed_;
      return false;
    }
    logged_once_ = true;
    last_ = now;
    return true;
  }
  // How many lines were suppressed since the last allowed one; resets.
  long TakeSuppressed() {
    const long n = suppressed_;
    suppressed_ = 0;
    return n;
  }

 private:
  std::chrono::steady_clock::duration every_;
  std::chrono::steady_clock::time_point last_;
  bool logged_once_ = false;
  long suppressed_ = 0;
};

}  // namespace hive::agent
