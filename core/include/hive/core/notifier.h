// Notifier: a thread-safe "something changed" signal that waiting HTTP
// requests and streams subscribe to, so that a blocking query or an event
// stream waits without holding a thread.
//
// A listener is a callback that Notify() runs on the notifying thread while
// it holds the notifier's lock: it must be quick, must not block and must not
// call into the same Notifier (the HTTP server's listeners only post work to
// its I/O threads).
//
// A Subscription ends what it was given for: once it is destroyed or Reset(),
// a Notifier's listener is not running and never runs again. A Subscription
// may outlive its Notifier; it then does nothing.
//
// Thread-safe: Subscribe, Notify and Subscription::Reset may be called from
// any thread, except from inside a listener of the same Notifier.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace prometheus {
class Gauge;
}

namespace hive {

class Subscription {
 public:
  Subscription() = default;
  // Runs `cancel` once, on Reset() or destruction.
  explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  ~Subscription() { Reset(); }
  Subscription(Subscription&& other) noexcept : cancel_(std::move(other.cancel_)) {
    other.cancel_ = nullptr;
  }
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // One subscription that ends every one of `parts`.
  static Subscription All(std::vector<Subscription> parts);

  // Ends the subscription; does nothing when there is none.
  void Reset();
  bool active() const { return static_cast<bool>(cancel_); }

 private:
  std::function<void()> cancel_;
};

class Notifier {
 public:
  using Listener = std::function<void()>;

  // `listeners_gauge` (optional, not owned, must outlive the Notifier)
  // follows the number of listeners; several notifiers may share one.
  explicit Notifier(prometheus::Gauge* listeners_gauge = nullptr);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  [[nodiscard]] Subscription Subscribe(Listener listener);
  // Runs every current listener.
  void Notify();
  size_t listeners() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// What wakes a waiting request or a stream: called once with the function to
// call on a change (from any thread, any number of times, cheap); returns the
// Subscription that ends the wake-ups. Usually a component's Subscribe…().
using WakeSource = std::function<Subscription(Notifier::Listener wake)>;

}  // namespace hive
