// Clock: the source of wall-clock time for everything that expires, retries
// or stamps. Production code takes a Clock& so tests can drive time with a
// FakeClock instead of sleeping. Implementations are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace hive {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;

  // The process-wide real clock.
  static Clock& System();
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1'700'000'000)))
      : now_ns_(start.time_since_epoch().count()) {}
  TimePoint Now() const override {
    return TimePoint(TimePoint::duration(now_ns_.load(std::memory_order_acquire)));
  }
  void Advance(Duration d) {
    now_ns_.fetch_add(std::chrono::duration_cast<TimePoint::duration>(d).count(),
                      std::memory_order_acq_rel);
  }

 private:
  std::atomic<TimePoint::duration::rep> now_ns_;
};

// Nanoseconds since the Unix epoch.
inline int64_t ToUnixNanos(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline TimePoint FromUnixNanos(int64_t ns) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace hive
